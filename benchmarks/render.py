"""The documentation's benchmark tables, rendered from their committed result files.

The Markdown pages embed these calls in cog blocks; `make lint` fails when a table
differs from what its result file says, and `make readme` rewrites them. Pure: it
reads JSON and returns Markdown.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Sequence, Text, Tuple

ROOT = Path(__file__).resolve().parents[1]

# How the result files name the sets, and how the pages name them.
SET_TITLES = {"project": "project", "cmrc2018": "CMRC 2018", "squad2": "SQuAD 2.0 sample"}


def _load(path: Text) -> Dict[Text, Any]:
    return json.loads((ROOT / path).read_text(encoding="utf-8"))


def _table(header: Sequence[Text], rows: Sequence[Sequence[Any]]) -> Text:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _titled(name: Text) -> Text:
    """`cmrc2018 questions (unanswerable)` -> `CMRC 2018 questions (unanswerable)`."""
    first, _, rest = name.partition(" ")
    return f"{SET_TITLES[first]} {rest}" if first in SET_TITLES else name


def routing_table(path: Text) -> Text:
    """Where each set's messages went, before and after the cue gate
    (`benchmarks.routing`)."""
    rows = [(_titled(r["set"]), r["gate"], r["n"], r["looked up"], r["weather"],
             r["chit-chat"], r["right"]) for r in _load(path)["rows"]]
    return _table(("set", "gate", "n", "looked up", "weather", "chit-chat", "right"), rows)


# (the path's name on the page, its name in the result file); the set each path
# is best on is set in bold by the page's caller.
ACCURACY_PATHS: Tuple[Tuple[Text, Text], ...] = (
    ("before", "extractive, no answerability model (before)"),
    ("model", "extractive (LLM off)"),
    ("model + verifier", "extractive (LLM off), answerability-verifier"),
)


def accuracy_table(path: Text, bold: Dict[Text, Text]) -> Text:
    """Answerable and unanswerable questions per set and path
    (`benchmarks.answer_accuracy` with `--routing` and `--models`); `bold`: set
    name -> the page name of the path to set in bold."""
    by_group = {r["group"]: r for r in _load(path)["rows"]}
    rows: List[Sequence[Any]] = []
    for name, title in SET_TITLES.items():
        language = "all" if f"{name} · {ACCURACY_PATHS[0][1]} · all · answerable" \
            in by_group else ("zh" if name == "cmrc2018" else "en")
        for shown, recorded in ACCURACY_PATHS:
            a = by_group.get(f"{name} · {recorded} · {language} · answerable")
            u = by_group.get(f"{name} · {recorded} · {language} · unanswerable")
            if a is None or u is None:
                continue
            rows.append((
                title, f"**{shown}**" if bold.get(name) == shown else shown,
                f"{a['correct']} / {a['n']} ({a['correct_pct']:.1f} %)",
                f"{a['wrong']} / {a['refused']} / {a['unsure']}",
                f"{a['off_topic_reply']} of {a['routed']}",
                f"{u['correct']} / {u['n']} ({u['correct_pct']:.1f} %)",
                f"{a['p50_s']:.2f}"))
    return _table(("set", "path", "answerable right",
                   "answerable: wrong / refused / not sure",
                   "routed in: out-of-scope reply", "unanswerable with no claim", "p50 s"),
                  rows)


def candidates_table(reports: Sequence[Tuple[Text, Text]]) -> Text:
    """The answerability model's out-of-fold results on the tune halves, one row per
    training report (`make answerability ARGS="--report F"`): (row name, file)."""
    rows = []
    for name, path in reports:
        folds = _load(path)["out_of_fold"]
        cells = [f"{folds[c]['answerable']['claimed_right']} / {folds[c]['answerable']['n']}"
                 for c in ("project", "cmrc2018", "squad2")]
        claimed = sum(folds[c]["unanswerable"]["claimed"] for c in folds)
        total = sum(folds[c]["unanswerable"]["n"] for c in folds)
        project = folds["project"]["answerable"]
        first = project.get("right_first", project["right"])
        among = project.get("right_among_candidates", project["right"])
        rows.append((name, *cells, f"{claimed} / {total}", f"{first} / {among}"))
    return _table(("model", "project: answered right", "CMRC: answered right",
                   "SQuAD: answered right", "unanswerable claimed (all three)",
                   "right quote first / among candidates (project)"), rows)


def sentence_choice_table(results: Dict[Text, Dict[Text, Dict[Text, int]]]) -> Text:
    """Right quotes per ranking (embedder, meaning weight, answer-type bonus) and set
    (`benchmarks.sentence_choice`'s `results`): all answerable questions, and those
    asking for a kind of value. Files written before rows were named are keyed by
    the bonus alone ("3.0")."""
    names = [n for n in SET_TITLES if any(n in counts for counts in results.values())]
    rows = [(_ranking_name(ranking), *(f"{counts[n]['right']} / {counts[n]['n']} "
                                        f"({counts[n]['typed_right']} / {counts[n]['typed']})"
                                        for n in names))
            for ranking, counts in results.items()]
    return _table(("ranking", *(f"{SET_TITLES[n]}: right (asking for a kind)"
                                for n in names)), rows)


def llm_judge_table(results: Dict[Text, Dict[Text, Any]]) -> Text:
    """`benchmarks.llm_judge`'s comparison: per variant and set, answerable questions
    answered rightly (a right quote ranked first in brackets), wrong claims, and
    unanswerable questions with no claim."""
    rows = [(variant, SET_TITLES.get(corpus, corpus),
             f"{c['answered_right']} / {c['answerable']} ({c['right_first']})",
             str(c["claimed_wrong"]), f"{c['no_claim']} / {c['unanswerable']}")
            for variant, per in results.items()
            for corpus, c in per.items() if corpus != "threshold"]
    return _table(("features", "set", "answerable right (right quote first)",
                   "wrong claims", "unanswerable with no claim"), rows)


def llm_judge_file(path: Text) -> Text:
    """`llm_judge_table` of a committed result file."""
    return llm_judge_table(_load(path)["results"])


def _ranking_name(key: Text) -> Text:
    try:
        return f"type bonus {float(key):g}"
    except ValueError:
        return key


def sentence_choice_file(path: Text) -> Text:
    """`sentence_choice_table` of a committed result file."""
    return sentence_choice_table(_load(path)["results"])
