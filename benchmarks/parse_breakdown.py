"""Where the time of one NLU parse goes: each graph node of a trained model, timed.

Usage:
    python -m benchmarks.parse_breakdown MODEL.tar.gz MESSAGES [--limit 500]
        [--inference-threads 1 2] [--out benchmarks/results]

MESSAGES is a CSV file with a `text` column (a dataset's test.csv) or a Rasa NLU
YAML file (tests/nlu/held_out.yml). Every message is parsed once through
`Agent.parse_message`, as the NLU benchmark does, with Rasa's graph nodes timed from
inside; "outside the graph" is the rest of `parse_message` (Rasa's processor). The
script prints a table (p50 and mean per node, share of the mean parse) for each
`--inference-threads` setting of our featurizer, alternating the settings message by
message, and writes them to the output folder.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import datetime as dt
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Optional, Text

from bilingual_assistant.config import apply_process_defaults  # noqa: E402

apply_process_defaults()  # before Rasa, TensorFlow or transformers are imported

PROJECT = Path(__file__).resolve().parents[1]
OUTSIDE = "(outside the graph)"
TOTAL = "parse (total)"


def read_messages(path: Path, limit: int) -> List[Text]:
    """Texts of a CSV file's `text` column or of a Rasa NLU YAML file."""
    if path.suffix == ".csv":
        with path.open(newline="", encoding="utf-8") as f:
            texts = [row["text"] for row in csv.DictReader(f) if row.get("text", "").strip()]
    else:
        from rasa.shared.nlu.training_data.loading import load_data

        texts = [m.get("text") for m in load_data(str(path)).intent_examples]
    return texts[:limit] if limit else texts


def median(values: List[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def featurizers(agent: object) -> List[object]:
    """Our BERT featurizers among the loaded model's graph components."""
    from bilingual_assistant.components.bert_featurizer import BertFeaturizer

    nodes = agent.processor.graph_runner._instantiated_nodes.values()  # type: ignore
    return [n._component for n in nodes if isinstance(n._component, BertFeaturizer)]


async def measure(
    model: Text, texts: List[Text], threads: List[Optional[int]]
) -> Dict[Optional[int], Dict[Text, List[float]]]:
    """Milliseconds per graph node and per whole parse, one entry per message, for
    each setting of the featurizer's `inference_threads` (settings alternate
    message by message, so they see the same machine load)."""
    from rasa.core.agent import Agent
    from rasa.engine.graph import GraphNode

    agent = Agent.load(model)
    components = featurizers(agent)
    await agent.parse_message("warm up")  # first call builds TensorFlow's graph
    per_node: Dict[Text, float] = defaultdict(float)
    original = GraphNode.__call__

    def timed(self: GraphNode, *inputs):  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        try:
            return original(self, *inputs)
        finally:
            per_node[self._node_name] += (time.perf_counter() - start) * 1000

    samples: Dict[Optional[int], Dict[Text, List[float]]] = {
        t: defaultdict(list) for t in threads
    }
    GraphNode.__call__ = timed  # type: ignore[method-assign]
    try:
        for i, text in enumerate(texts):
            for setting in threads:
                for component in components:
                    component._config["inference_threads"] = setting  # type: ignore
                per_node.clear()
                start = time.perf_counter()
                await agent.parse_message(text)
                total = (time.perf_counter() - start) * 1000
                for node, ms in per_node.items():
                    samples[setting][node].append(ms)
                samples[setting][OUTSIDE].append(total - sum(per_node.values()))
                samples[setting][TOTAL].append(total)
            if (i + 1) % 200 == 0:
                print(f"  parsed {i + 1}/{len(texts)}", flush=True)
    finally:
        GraphNode.__call__ = original  # type: ignore[method-assign]
    return samples


def table(samples: Dict[Text, List[float]]) -> Text:
    total = sum(samples[TOTAL]) / len(samples[TOTAL])
    lines = ["| node | p50 ms | mean ms | share of mean parse |", "|---|---|---|---|"]
    ordered = sorted(samples.items(), key=lambda kv: -sum(kv[1]) / len(kv[1]))
    for node, values in ordered:
        mean = sum(values) / len(values)
        share = "" if node == TOTAL else f"{100 * mean / total:.0f} %"
        lines.append(f"| {node} | {median(values):.2f} | {mean:.2f} | {share} |")
    return "\n".join(lines)


def main(argv: Optional[List[Text]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model", type=Path, help="a trained model (.tar.gz)")
    parser.add_argument("messages", type=Path, help="CSV with a text column, or NLU YAML")
    parser.add_argument("--limit", type=int, default=500, help="messages to parse (0: all)")
    parser.add_argument("--inference-threads", type=int, nargs="+", default=[1],
                        help="BertFeaturizer inference_threads settings to compare "
                             "side by side (the first is the baseline)")
    parser.add_argument("--out", type=Path, default=PROJECT / "benchmarks" / "results")
    args = parser.parse_args(argv)
    for path in (args.model, args.messages):
        if not path.is_file():
            parser.error(f"{path} is not a file")
    texts = read_messages(args.messages, args.limit)
    if not texts:
        parser.error(f"no messages in {args.messages}")
    from rasa.utils.tensorflow.environment import setup_tf_environment

    setup_tf_environment()  # honours TF_INTRA_OP_PARALLELISM_THREADS, as `rasa` does
    print(f"parsing {len(texts)} messages with {args.model}", flush=True)
    samples = asyncio.run(measure(str(args.model), texts, args.inference_threads))
    sections = []
    baseline = samples[args.inference_threads[0]][TOTAL]
    for setting, result in samples.items():
        ratio = (sum(result[TOTAL]) / sum(baseline)) if baseline else 0.0
        sections.append(f"inference_threads={setting}: mean parse {ratio:.2f} x "
                        f"inference_threads={args.inference_threads[0]}\n\n"
                        f"{table(result)}")
    report = "\n\n".join(sections)
    print(report)
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / f"parse-breakdown-{dt.datetime.now():%Y%m%d-%H%M%S}.md"
    out.write_text(f"{args.model.name} on {args.messages} ({len(texts)} messages)\n\n"
                   f"{report}\n", encoding="utf-8")
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(PROJECT))
    sys.exit(main())
