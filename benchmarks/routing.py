"""Which questions reach the documents: the NLU's routing of document questions,
weather requests and off-topic messages, with and without the cue gate.

Usage:
    python -m benchmarks.routing [--model models/M.tar.gz] [--datasets DIR]
        [--split tune|test] [--out docs/benchmarks/results]

Parses, with a trained model (the newest in models/ by default):
- questions about documents: the project's answer questions about `knowledge/`
  (benchmarks/data/answer_questions.yml) and the questions of the public
  reading-comprehension sets (benchmarks/public_sets.py; a team indexing those
  paragraphs asks them), answerable and (in their own rows) unanswerable;
- weather requests: the held-out set's `ask_weather` and `inform` messages
  (tests/nlu/held_out.yml);
- off-topic messages (tests/nlu/off_topic.yml).

A message is looked up when its intent sends it to `action_answer_question`
(`ask_question`, `out_of_scope`, `nlu_fallback`: the last two are answered only
when the documents clearly answer them). Each row shows where messages went
before the gate (the intent the gate replaced, `bilingual_assistant.components.cue_gate.GATED_KEY`)
and after it (the model as it runs). Prints the table and writes it, with every
prediction, as JSON and Markdown.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Text, Tuple

from bilingual_assistant.config import apply_process_defaults  # noqa: E402

apply_process_defaults()  # before Rasa, TensorFlow or transformers are imported

from benchmarks.public_sets import DATASETS, SETS, all_items, build_sets  # noqa: E402

PROJECT = Path(__file__).resolve().parents[1]
ANSWER_QUESTIONS = PROJECT / "benchmarks" / "data" / "answer_questions.yml"
HELD_OUT = PROJECT / "tests" / "nlu" / "held_out.yml"
OFF_TOPIC = PROJECT / "tests" / "nlu" / "off_topic.yml"
LOOKED_UP = frozenset({"ask_question", "out_of_scope", "nlu_fallback"})
WEATHER = frozenset({"ask_weather", "inform"})


def log(message: Text) -> None:
    print(f"[{dt.datetime.now():%H:%M:%S}] {message}", flush=True)


def where(intent: Text) -> Text:
    """`documents`, `weather` or `other` (a chit-chat intent's canned reply)."""
    if intent in LOOKED_UP:
        return "documents"
    return "weather" if intent in WEATHER else "other"


def project_questions(split: Text, kind: Text) -> List[Tuple[Text, Text]]:
    import yaml

    items = yaml.safe_load(ANSWER_QUESTIONS.read_text(encoding="utf-8"))
    return [(i["question"], "documents") for i in items
            if i["split"] == split and i["kind"] == kind]


def public_questions(name: Text, datasets: Path, split: Text, kind: Text
                     ) -> List[Tuple[Text, Text]]:
    return [(i["question"], "documents") for i in all_items(build_sets(name, datasets, split))
            if i["kind"] == kind]


def nlu_messages(path: Path, keep: Optional[frozenset] = None) -> List[Tuple[Text, Text]]:
    from rasa.shared.nlu.training_data.loading import load_data

    out = []
    for message in load_data(str(path)).intent_examples:
        intent = message.get("intent")
        if keep is None or intent in keep:
            out.append((message.get("text"), "other" if keep is None else "weather"))
    return out


async def parse(model: Text, sets: Dict[Text, List[Tuple[Text, Text]]]
                ) -> Dict[Text, List[Dict[Text, Any]]]:
    from rasa.core.agent import Agent

    from bilingual_assistant.components.cue_gate import GATED_KEY

    agent = Agent.load(model)
    parsed: Dict[Text, List[Dict[Text, Any]]] = {}
    for name, messages in sets.items():
        rows = []
        for text, expected in messages:
            result = await agent.parse_message(text)
            after = (result.get("intent") or {}).get("name") or ""
            before = (result.get(GATED_KEY) or {}).get("name") or after
            rows.append({"text": text, "expected": expected, "before": before,
                         "after": after})
        parsed[name] = rows
        log(f"parsed {len(rows)} messages of {name}")
    return parsed


def row(name: Text, rows: Sequence[Dict[Text, Any]], column: Text) -> Dict[Text, Any]:
    counts = {"documents": 0, "weather": 0, "other": 0}
    for r in rows:
        counts[where(r[column])] += 1
    expected = rows[0]["expected"] if rows else "documents"
    right = counts[expected] if expected != "other" else counts["documents"]
    return {"set": name, "gate": "before" if column == "before" else "after",
            "n": len(rows), "looked up": counts["documents"], "weather": counts["weather"],
            "chit-chat": counts["other"], "where it should go": expected,
            "right": f"{right}/{len(rows)} ({100 * right / max(1, len(rows)):.1f} %)"}


def table(rows: Sequence[Dict[Text, Any]]) -> Text:
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(str(r[k]) for k in keys) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def newest_model() -> Text:
    models = sorted((PROJECT / "models").glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    if not models:
        raise SystemExit("No trained model in models/: run `make train` first.")
    return str(models[-1])


def commit() -> Text:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=PROJECT,
                              capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main(argv: Optional[List[Text]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a trained model (default: the newest in models/)")
    parser.add_argument("--datasets", type=Path, default=DATASETS)
    parser.add_argument("--split", default="test", choices=("tune", "test"))
    parser.add_argument("--out", type=Path, default=PROJECT / "benchmarks" / "results")
    args = parser.parse_args(argv)

    model = args.model or newest_model()
    # Unanswerable questions are routed too (`answer_accuracy --routing` asks them
    # as the NLU sends them); they look like the answerable ones.
    sets: Dict[Text, List[Tuple[Text, Text]]] = {}
    for kind, suffix in (("answerable", ""), ("unanswerable", " (unanswerable)")):
        sets[f"project questions{suffix}"] = project_questions(args.split, kind)
        for name in SETS:
            if (args.datasets / SETS[name][0]).exists():
                sets[f"{name} questions{suffix}"] = public_questions(
                    name, args.datasets, args.split, kind)
            elif not suffix:
                log(f"{name}: not in {args.datasets}, left out")
    sets["weather (held-out)"] = nlu_messages(HELD_OUT, WEATHER)
    sets["off-topic"] = nlu_messages(OFF_TOPIC)
    load = os.getloadavg()
    parsed = asyncio.run(parse(model, sets))
    rows = [row(name, parsed[name], column) for name in sets for column in ("before", "after")]
    markdown = table(rows)
    print(markdown)
    started = dt.datetime.now(dt.UTC)
    command = "python -m benchmarks.routing " + " ".join(argv if argv is not None
                                                          else sys.argv[1:])
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"routing-{args.split}-{started:%Y%m%d-%H%M%S}"
    header = (f"# Routing, {started:%Y-%m-%d %H:%M} UTC\n\n`{command}` at {commit()}, "
              f"model {Path(model).name}, load {load[0]:.1f} at the start.\n\n")
    stem.with_suffix(".md").write_text(header + markdown, encoding="utf-8")
    stem.with_suffix(".json").write_text(json.dumps(
        {"command": command, "commit": commit(), "date": started.isoformat(),
         "model": Path(model).name, "load": load, "split": args.split, "rows": rows,
         "predictions": parsed}, ensure_ascii=False, indent=1), encoding="utf-8")
    log(f"wrote {stem}.md and .json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
