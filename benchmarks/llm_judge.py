"""LLM-judge measurement: does the embedded LLM's probability of "yes" (one token, read
from its log-probabilities, never its text) separate right quotes from wrong ones
beyond the answerability model's own features?

    python -m benchmarks.llm_judge [--split tune] [--datasets DIR]
        [--max-questions 300] [--rows FILE] [--out DIR]

Needs an OpenAI-compatible server that returns `top_logprobs` (the embedded one:
`make llm`; `LLM_BASE_URL`, `LLM_API_KEY` and `LLM_MODEL` as for the action server).
Each question of the split (the project's, and the public sets' halves as
`benchmarks/public_sets.py` builds them) is searched and its best-ranked sentence
quoted as the answer service does, labelled as the answerability training labels
it, and put to the model once: "does this passage answer the question? yes or no".
Then, on out-of-fold scores (folds by paragraph or document, the L2 of
`answerability.L2`), the default model's features alone are compared with the same
features plus the LLM's log-odds of "yes", each at the threshold that claims at most
`--claim-rate` of the unanswerable questions: how many answerable ones it answers
rightly, and how many unanswerable ones get no claim, per set. `--rows` keeps (or
reuses) the judged rows, so the comparison can be re-run without the model.
Writes llm-judge-<split>-<time>.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Text, Tuple

from benchmarks.render import llm_judge_table
from benchmarks.results import write_result
from bilingual_assistant.answers.answerability import (
    BASE_FEATURES,
    L2,
    Example,
    choose_thresholds,
    out_of_fold,
)
from bilingual_assistant.config import LLMSettings, load

# The searching half (Milvus Lite, httpx) is imported where it is used: this
# module's pure parts are tested in Rasa's environment, which has neither.
ROOT = Path(__file__).resolve().parents[1]

Row = Dict[Text, Any]

JUDGE_SYSTEM = ("You check whether a passage answers a question. Reply with one word: "
                "yes or no.")
JUDGE_USER = ("Question: {question}\nPassage: {passage}\n"
              "Does the passage state the answer to the question? Reply yes or no.")
_YES = {"yes", "是", "是的", "对"}
_NO = {"no", "否", "不", "不是"}
# The reply's own framing around the quoted sentences ("根据文档：… [1]").
_FRAME = re.compile(r"^(根据文档[：:]|From the documents:)\s*|\s*(\[\d+\])+\s*$")


def quoted_passage(reply: Text) -> Text:
    """The quoted sentences of an extractive reply, without its framing."""
    return _FRAME.sub("", reply.strip()).strip()


def yes_probability(top: Sequence[Dict[Text, Any]]) -> Optional[float]:
    """P(yes) / (P(yes) + P(no)) over the first token's top log-probabilities, or
    None when neither word is among them."""
    yes = no = 0.0
    for entry in top:
        word = str(entry.get("token", "")).strip().lower()
        p = math.exp(float(entry.get("logprob", -100.0)))
        if word in _YES:
            yes += p
        elif word in _NO:
            no += p
    return yes / (yes + no) if yes + no > 0 else None


def judge(client: Any, settings: LLMSettings, question: Text, passage: Text
          ) -> Tuple[Optional[float], float]:
    """The model's P(yes) for one question and passage, and the seconds it took."""
    started = time.perf_counter()
    response = client.post("/chat/completions", json={
        "model": settings.model, "max_tokens": 1, "temperature": 0.0,
        "logprobs": True, "top_logprobs": 10,
        "messages": [{"role": "system", "content": JUDGE_SYSTEM},
                     {"role": "user", "content": JUDGE_USER.format(
                         question=question, passage=passage)}]})
    response.raise_for_status()
    choice = response.json()["choices"][0]
    content = (choice.get("logprobs") or {}).get("content") or []
    top = content[0].get("top_logprobs", []) if content else []
    return yes_probability(top), time.perf_counter() - started


def collect(split: Text, datasets: Path, max_questions: int) -> List[Row]:
    """Every question of the split with its best quote, features and label."""
    from apps.cli.answerability import label, searched
    from benchmarks.sentence_choice import corpora

    rows: List[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        sets = corpora(Path(tmp), split, datasets, max_questions,
                       kinds=("answerable", "unanswerable", "follow_up"))
        for name, corpus, items in sets:
            try:
                for item in items:
                    query, latest = searched(item)
                    assessment, quotes = corpus.examine(query, item["language"], latest)
                    # Folds by document (project) or paragraph, as in training.
                    first = (item["sources"] or [item["id"]])[0]
                    rows.append({
                        "corpus": name, "id": item["id"],
                        "group": first.split("/")[-1] if name == "project" else first,
                        "question": query, "passage": quoted_passage(quotes[0]),
                        "answers": label(item, assessment, quotes[0]),
                        "unanswerable": item["kind"] == "unanswerable",
                        "features": assessment.features})
            finally:
                corpus.close()
            print(f"  {name}: {sum(r['corpus'] == name for r in rows)} questions", flush=True)
    return rows


def compare(rows: Sequence[Row], claim_rate: float) -> Dict[Text, Dict[Text, Any]]:
    """Out-of-fold rates of the features alone and with the LLM's log-odds."""
    judged = [r for r in rows if r.get("p_yes") is not None or not r["passage"]]
    variants = {"features": BASE_FEATURES, "features + LLM yes": (*BASE_FEATURES, "llm_yes")}
    out: Dict[Text, Dict[Text, Any]] = {}
    for title, names in variants.items():
        examples = [Example({**r["features"], "llm_yes": _log_odds(r.get("p_yes"))},
                            int(r["answers"]), bool(r["unanswerable"]), str(r["group"]),
                            r["corpus"]) for r in judged]
        scores = [s for s, _ in out_of_fold(examples, l2=L2, names=tuple(names))]
        answer, _ = choose_thresholds(scores, [e.answers for e in examples],
                                      [e.unanswerable for e in examples], claim_rate)
        per: Dict[Text, Any] = {"threshold": answer}
        for corpus in sorted({e.corpus for e in examples}):
            picked = [(e, s) for e, s in zip(examples, scores, strict=True)
                      if e.corpus == corpus]
            answerable = [(e, s) for e, s in picked if not e.unanswerable]
            unanswerable = [(e, s) for e, s in picked if e.unanswerable]
            per[corpus] = {
                "answerable": len(answerable),
                "right_first": sum(e.answers for e, _ in answerable),
                "answered_right": sum(e.answers for e, s in answerable if s >= answer),
                "claimed_wrong": sum(1 - e.answers for e, s in answerable if s >= answer),
                "unanswerable": len(unanswerable),
                "no_claim": sum(1 for _, s in unanswerable if s < answer)}
        out[title] = per
    return out


def _commit() -> Text:
    from apps.cli.answerability import commit

    return commit()


def _log_odds(p: Optional[float]) -> float:
    if p is None:
        return 0.0
    p = min(max(p, 1e-4), 1 - 1e-4)
    return math.log(p / (1 - p))


def main(argv: Optional[Sequence[Text]] = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--split", default="tune", choices=("tune", "test"))
    parser.add_argument("--datasets", type=Path, default=ROOT.parent / "shared" / "datasets")
    parser.add_argument("--max-questions", type=int, default=300)
    parser.add_argument("--claim-rate", type=float, default=0.05)
    parser.add_argument("--rows", type=Path, help="judged rows: reused if present, else written")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args(argv)
    load_1min = os.getloadavg()[0]
    seconds: List[float] = []
    if args.rows and args.rows.exists():
        rows = [json.loads(line) for line in args.rows.read_text("utf-8").splitlines()]
        print(f"Reusing {len(rows)} judged rows from {args.rows}", flush=True)
    else:
        import httpx

        rows = collect(args.split, args.datasets, args.max_questions)
        settings = load(LLMSettings)
        headers = {"Authorization": f"Bearer {settings.api_key}"} if settings.api_key else {}
        with httpx.Client(base_url=settings.base_url.rstrip("/"), headers=headers,
                          timeout=120.0) as client:
            for number, row in enumerate(rows, start=1):
                row["p_yes"] = None
                if row["passage"]:
                    row["p_yes"], took = judge(client, settings, row["question"],
                                               row["passage"])
                    seconds.append(took)
                if number % 25 == 0 or number == len(rows):
                    print(f"  judged {number}/{len(rows)}", flush=True)
        if args.rows:
            args.rows.parent.mkdir(parents=True, exist_ok=True)
            args.rows.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n"
                                         for r in rows), encoding="utf-8")
    results = compare(rows, args.claim_rate)
    seconds.sort()
    write_result(args.out, f"llm-judge-{args.split}", "benchmarks.llm_judge",
                 sys.argv[1:] if argv is None else argv, _commit(), load_1min, {
                     "split": args.split,
                     "judged": sum(r.get("p_yes") is not None for r in rows),
                     "rows": len(rows),
                     "judge_p50_s": seconds[len(seconds) // 2] if seconds else None,
                     "results": results}, llm_judge_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
