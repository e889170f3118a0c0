"""Retrieval benchmark: recall@1, recall@5 and MRR for dense, BM25 and hybrid.

    python -m benchmarks.retrieval_benchmark [--questions FILE] [--knowledge DIR]

Indexes the knowledge folder into a fresh Milvus Lite file
with --reuse), asks every question of the evaluation set in each mode, and prints
and writes a table (benchmarks/results/retrieval-*.{json,md}). It also reports how
well the score threshold separates answerable from unanswerable questions.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Dict, List, Sequence, Text

import yaml

from bilingual_assistant.adapters.milvus_store import MilvusKnowledgeStore
from bilingual_assistant.config import RetrievalSettings, Settings, load_settings
from bilingual_assistant.knowledge.embedder import make_embedder
from bilingual_assistant.knowledge.ingest import ingest
from bilingual_assistant.knowledge.retrieval import MODES, Retriever

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_QUESTIONS = ROOT / "benchmarks" / "data" / "retrieval_questions.yml"


def evaluate(
    retriever: Retriever, questions: Sequence[Dict[Text, Any]], mode: Text
) -> Dict[Text, float]:
    """Recall@1, recall@5 and MRR (first relevant document within the top 10)."""
    r1 = r5 = rr = 0.0
    latencies: List[float] = []
    for number, item in enumerate(questions, start=1):
        started = time.perf_counter()
        passages = retriever.search(item["question"], mode=mode, top_k=10)
        latencies.append(time.perf_counter() - started)
        sources = [p.chunk.source for p in passages]
        relevant = set(item["relevant"])
        rank = next((i for i, s in enumerate(sources, start=1) if s in relevant), None)
        if rank:
            r1 += rank == 1
            r5 += rank <= 5
            rr += 1.0 / rank
        if number % 20 == 0:
            print(f"  {mode}: {number}/{len(questions)} questions", flush=True)
    n = len(questions)
    latencies.sort()
    return {"recall@1": r1 / n, "recall@5": r5 / n, "mrr": rr / n,
            "p50_ms": 1000 * latencies[n // 2]}


def best_similarity(retriever: Retriever, question: Text) -> float:
    """Cosine similarity of the best dense match."""
    vector = retriever.embedder.embed_queries([question])[0]
    hits = retriever.store.dense_search(vector, 1)  # type: ignore[attr-defined]
    return hits[0].score if hits else -1.0


def run_embedder(
    name: Text, base: Settings, knowledge: Path, data: Dict[Text, Any], threshold: float
) -> tuple[List[Dict[Text, Any]], Dict[Text, Any]]:
    """Indexes the knowledge folder with one embedder and evaluates every mode."""
    questions = data["questions"]
    embedder = make_embedder(name, base.paths.encoders_dir)
    with tempfile.TemporaryDirectory() as tmp:
        settings = replace(base.knowledge, milvus_uri="",
                           milvus_lite_path=str(Path(tmp) / "bench.db"), embedding_model=name)
        store = MilvusKnowledgeStore(settings, embedder.dim)
        print(f"Indexing {knowledge} with {name} ...", flush=True)
        started = time.perf_counter()
        report = ingest(knowledge, store, embedder, settings.chunk_size, settings.chunk_overlap,
                        progress=lambda d, t, s, st: print(f"  [{d}/{t}] {s}: {st}", flush=True))
        index_seconds = time.perf_counter() - started
        retriever = Retriever(store, embedder, RetrievalSettings(top_k=10, min_score=-1.0))
        rows = []
        for mode in MODES:
            for language in ("zh", "en", "all"):
                subset = [q for q in questions if language in ("all", q["language"])]
                metrics = evaluate(retriever, subset, mode)
                rows.append({"mode": mode, "language": language, "questions": len(subset),
                             **metrics})
        answerable = [best_similarity(retriever, q["question"]) for q in questions]
        unanswerable = [best_similarity(retriever, q["question"])
                        for q in data.get("unanswerable", [])]
        store.close()
    kept = sum(s >= threshold for s in answerable) / len(answerable)
    refused = (sum(s < threshold for s in unanswerable) / len(unanswerable)
               if unanswerable else float("nan"))
    line = (
        f"Score threshold {threshold}: answerable questions kept {kept:.1%}, unanswerable "
        f"refused {refused:.1%} (best-match similarity: answerable min {min(answerable):.3f}, "
        f"5th percentile {sorted(answerable)[len(answerable) // 20]:.3f}; unanswerable max "
        f"{max(unanswerable, default=float('nan')):.3f})."
    )
    return rows, {
        "documents": len(report.added), "chunks": report.chunks,
        "index_seconds": index_seconds, "threshold_line": line,
        "answerable_similarity": answerable, "unanswerable_similarity": unanswerable,
    }


def main(argv: Sequence[Text] = ()) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=Path, default=DEFAULT_QUESTIONS)
    parser.add_argument("--knowledge", type=Path, default=ROOT / "knowledge")
    parser.add_argument("--embedders", nargs="+", default=None,
                        help="embedders to compare (default: the configured one)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args(list(argv) or None)

    data = yaml.safe_load(args.questions.read_text(encoding="utf-8"))
    base = load_settings()
    threshold = base.retrieval.min_score
    lines: List[Text] = []
    results = []
    for name in args.embedders or [base.knowledge.embedding_model]:
        rows, summary = run_embedder(name, base, args.knowledge, data, threshold)
        results.append({"embedder": name, "rows": rows, **summary})
        lines += [
            f"### Embedder {name}: {summary['documents']} documents, {summary['chunks']} "
            f"chunks, indexed in {summary['index_seconds']:.1f} s",
            "",
            "| mode | language | questions | recall@1 | recall@5 | MRR | search p50 ms |",
            "|---|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {r['mode']} | {r['language']} | {r['questions']} | {r['recall@1']:.3f} | "
            f"{r['recall@5']:.3f} | {r['mrr']:.3f} | {r['p50_ms']:.1f} |"
            for r in rows
        ]
        lines += ["", summary["threshold_line"], ""]
    table = "\n".join(lines)
    print("\n" + table)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (args.out / f"retrieval-{stamp}.md").write_text(table + "\n", encoding="utf-8")
    (args.out / f"retrieval-{stamp}.json").write_text(
        json.dumps(results, indent=2),
        encoding="utf-8",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
