"""Where the time of one NLU parse goes: each graph node of a trained model, timed.

Usage:
    python -m benchmarks.parse_breakdown MODEL.tar.gz MESSAGES [--limit 500]
        [--out benchmarks/results]

MESSAGES is a CSV file with a `text` column (a dataset's test.csv) or a Rasa NLU
YAML file (tests/nlu/held_out.yml). Every message is parsed once through
`Agent.parse_message`, as the NLU benchmark does, with Rasa's graph nodes timed from
inside; "outside the graph" is the rest of `parse_message` (Rasa's processor). The
script prints a table (p50 and mean per node, share of the mean parse) and writes it
to the output folder.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import datetime as dt
import os
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Optional, Text

os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

PROJECT = Path(__file__).resolve().parents[1]
OUTSIDE = "(outside the graph)"


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


async def measure(model: Text, texts: List[Text]) -> Dict[Text, List[float]]:
    """Milliseconds per graph node and per whole parse, one list entry per message."""
    from rasa.core.agent import Agent
    from rasa.engine.graph import GraphNode

    agent = Agent.load(model)
    await agent.parse_message("warm up")  # first call builds TensorFlow's graph
    per_node: Dict[Text, float] = defaultdict(float)
    original = GraphNode.__call__

    def timed(self: GraphNode, *inputs):  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        try:
            return original(self, *inputs)
        finally:
            per_node[self._node_name] += (time.perf_counter() - start) * 1000

    samples: Dict[Text, List[float]] = defaultdict(list)
    GraphNode.__call__ = timed  # type: ignore[method-assign]
    try:
        for i, text in enumerate(texts):
            per_node.clear()
            start = time.perf_counter()
            await agent.parse_message(text)
            total = (time.perf_counter() - start) * 1000
            for node, ms in per_node.items():
                samples[node].append(ms)
            samples[OUTSIDE].append(total - sum(per_node.values()))
            samples["parse (total)"].append(total)
            if (i + 1) % 200 == 0:
                print(f"  parsed {i + 1}/{len(texts)}", flush=True)
    finally:
        GraphNode.__call__ = original  # type: ignore[method-assign]
    return samples


def table(samples: Dict[Text, List[float]]) -> Text:
    total = sum(samples["parse (total)"]) / len(samples["parse (total)"])
    lines = ["| node | p50 ms | mean ms | share of mean parse |", "|---|---|---|---|"]
    ordered = sorted(samples.items(), key=lambda kv: -sum(kv[1]) / len(kv[1]))
    for node, values in ordered:
        mean = sum(values) / len(values)
        share = "" if node == "parse (total)" else f"{100 * mean / total:.0f} %"
        lines.append(f"| {node} | {median(values):.2f} | {mean:.2f} | {share} |")
    return "\n".join(lines)


def main(argv: Optional[List[Text]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model", type=Path, help="a trained model (.tar.gz)")
    parser.add_argument("messages", type=Path, help="CSV with a text column, or NLU YAML")
    parser.add_argument("--limit", type=int, default=500, help="messages to parse (0: all)")
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
    result = table(asyncio.run(measure(str(args.model), texts)))
    print(result)
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / f"parse-breakdown-{dt.datetime.now():%Y%m%d-%H%M%S}.md"
    out.write_text(f"{args.model.name} on {args.messages} ({len(texts)} messages)\n\n"
                   f"{result}\n", encoding="utf-8")
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(PROJECT))
    sys.exit(main())
