"""Writes a benchmark's result pair: `<stem>.json` (the command, the commit, the
machine and the results) and `<stem>.md` (its table), and says where."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
from pathlib import Path
from typing import Any, Dict, Optional, Sequence, Text


def write_result(out: Path, prefix: Text, module: Text, argv: Sequence[Text], commit: Text,
                 load_1min: float, fields: Dict[Text, Any], table: Text,
                 now: Optional[dt.datetime] = None) -> Path:
    """Writes `<prefix>-<UTC time>.{json,md}` under `out`, prints the table and
    returns the stem's path.

    Args:
        out: the results folder (made if missing).
        prefix: the file names' start ("sentence-choice-tune").
        module: the benchmark's module, for the recorded command.
        argv: its arguments as given.
        commit: the checkout's commit.
        load_1min: the 1-minute load average when the run started.
        fields: what the run found (merged into the JSON after the run's facts).
        table: the Markdown table.
    """
    now = now or dt.datetime.now(dt.UTC)
    stem = out / f"{prefix}-{now:%Y%m%d-%H%M%S}"
    out.mkdir(parents=True, exist_ok=True)
    stem.with_suffix(".json").write_text(json.dumps({
        "command": f"python -m {module} " + " ".join(argv),
        "commit": commit, "date": now.isoformat(), "machine": platform.node(),
        "cpus": os.cpu_count(), "load_1min": load_1min, **fields}, indent=1) + "\n",
        encoding="utf-8")
    stem.with_suffix(".md").write_text(table, encoding="utf-8")
    print(table)
    print(f"Wrote {stem}.json and .md")
    return stem
