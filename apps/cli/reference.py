"""The reference pages' tables, rendered from their sources: the Makefile's `##`
descriptions (docs/reference/make.md) and the API's OpenAPI document
(docs/reference/http-api.md). Pure: no web framework, so cog can run it anywhere."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Dict, List, Mapping, Text, Tuple

TARGET = re.compile(r"^([a-zA-Z_-]+):.*?## (.*)$")
GROUP = re.compile(r"^##@ *(.*)$")
METHODS = ("get", "post", "put", "patch", "delete")


def make_targets(makefile: Text = "Makefile") -> List[Tuple[Text, Text, Text]]:
    """(group, target, description) for each described target, in file order; the
    group is the latest `##@ Group` line above it ("" before the first)."""
    group = ""
    found = []
    for line in Path(makefile).read_text(encoding="utf-8").splitlines():
        heading = GROUP.match(line)
        if heading:
            group = heading.group(1).strip()
            continue
        target = TARGET.match(line)
        if target:
            found.append((group, target.group(1), target.group(2).strip()))
    return found


def make_table(makefile: Text = "Makefile") -> Text:
    """Markdown: one table per group of targets."""
    out: List[Text] = []
    groups: Dict[Text, List[Tuple[Text, Text]]] = {}
    for group, target, doc in make_targets(makefile):
        groups.setdefault(group, []).append((target, doc))
    for group, rows in groups.items():
        if group:
            out += [f"### {group}", ""]
        out += ["| command | what it does |", "|---|---|"]
        out += [f"| `make {t}` | {_cell(doc)} |" for t, doc in rows]
        out.append("")
    return "\n".join(out)


def http_api_table(spec: Mapping[Text, Any]) -> Text:
    """Markdown: one row per route of an OpenAPI document (method, path, summary,
    the request body's schema and the success status)."""
    rows = ["| method | path | what it does | success |", "|---|---|---|---|"]
    for path, operations in sorted(spec.get("paths", {}).items()):
        for method in METHODS:
            operation = operations.get(method)
            if operation is None:
                continue
            # The handler's docstring's first sentence; FastAPI's summary (the
            # function's name in words) where there is none.
            described = (operation.get("description") or "").strip().split("\n\n")[0]
            summary = " ".join(described.split()) or operation.get("summary", "")
            success = sorted(code for code in operation.get("responses", {})
                             if code.startswith("2"))
            rows.append(f"| {method.upper()} | `{path}` | {_cell(summary)} | "
                        f"{', '.join(success) or '–'} |")
    return "\n".join(rows) + "\n"


def _cell(text: Text) -> Text:
    return text.replace("|", "\\|").replace("\n", " ")
