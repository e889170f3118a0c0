"""Grading answers to benchmark questions from what the reply says (issue #25 item 5).

Pure functions over the reply as the user sees it (`format_reply`'s text), so that
a reply cannot score by quoting more:

- `claim`: the part of a reply that presents itself as the answer; None for a
  refusal or a reply that claims nothing (its first words are one of the fixed
  no-claim texts of `bilingual_assistant.answers.messages`, in either language).
- `strict_verdict`: an answerable question is `correct` only when the claim holds
  every fact, none of the item's wrong values, and is at most `MAX_CLAIM_UNITS`
  long; `too_long` when longer (counted wrong); `refused`, `unsure` or `error`
  (knowledge base unavailable) when there is no claim. An unanswerable question is
  `correct` when nothing is claimed (a refusal or the unsure reply), `wrong` when
  something is, `error` when the knowledge base was unavailable.
- `lenient_verdict`: the earlier rule, kept beside it: the facts anywhere in the
  answer's text, refusals read from the answer's mode.
- `f1`: SQuAD-style overlap of the claim with the reference answers: English as the
  SQuAD v2.0 evaluation script (lower case, punctuation and articles removed,
  whitespace tokens, bag-of-tokens F1); Chinese as the CMRC 2018 evaluation script
  (lower case, one segment per Han character and per Latin/digit word, punctuation
  removed, F1 from the longest common run of segments).
"""

from __future__ import annotations

import re
import string
from collections import Counter
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Text, Tuple

from bilingual_assistant.answers.messages import MESSAGES
from bilingual_assistant.answers.models import NO_CLAIM_MODES
from bilingual_assistant.text import HAN_RANGE, text_units

# The longest claim that can count as correct, in units (a Chinese character or an
# English word, `bilingual_assistant.text.text_units`): a reply quoting a whole passage holds
# the fact, but does not answer the question.
MAX_CLAIM_UNITS = 60

# Fixed replies that claim no answer, by what the grader calls them.
REFUSAL_KEYS = ("not_found", "out_of_scope", "too_long", "only_links", "only_code", "empty")
UNSURE_KEY = "unsure"
UNAVAILABLE_KEY = "unavailable"

# Strict verdicts; only `correct` counts as right.
VERDICTS = ("correct", "wrong", "too_long", "refused", "unsure", "error")

_CITATION = re.compile(r"\s*\[\d+(?:\s*[,，、]\s*\d+)*\]")
_SPACES = re.compile(r"[ \t]+")
_HAN = re.compile(f"[{HAN_RANGE}]")
_ZH_SEGMENT = re.compile(f"[{HAN_RANGE}]|[a-z0-9]+")
_EN_ARTICLES = re.compile(r"\b(a|an|the)\b")
_EN_PUNCTUATION = frozenset(string.punctuation)


def mentions(text: Text, spelling: Text) -> bool:
    """The question set's matching rule: case-insensitive; a spelling that starts
    with a letter or digit does not match right after one, and one that ends with a
    digit does not match right before a digit ("5 天" is not in "15 天")."""
    start = r"(?<![A-Za-z0-9])" if spelling[:1].isascii() and spelling[:1].isalnum() else ""
    end = r"(?![0-9])" if spelling[-1:].isdigit() else ""
    return re.search(start + re.escape(spelling) + end, text, re.IGNORECASE) is not None


def _texts(key: Text) -> List[Text]:
    return [t.strip() for t in MESSAGES[key].values()]


def reply_kind(reply_text: Text) -> Text:
    """What a reply presents itself as: `claim`, `refused` (not found, out of scope,
    declined), `unsure` (passages offered as leads) or `unavailable` (the knowledge
    base could not be searched), from its first words in either language."""
    text = reply_text.lstrip()
    if any(text.startswith(t) for t in _texts(UNAVAILABLE_KEY)):
        return "unavailable"
    if any(text.startswith(t) for t in _texts(UNSURE_KEY)):
        return "unsure"
    if any(text.startswith(t) for key in REFUSAL_KEYS for t in _texts(key)):
        return "refused"
    return "claim"


def _without_sources(text: Text) -> Text:
    """The text up to the line that is a sources label and a colon (either language)."""
    labels = {f"{label}{colon}" for label in MESSAGES["sources"].values() for colon in ":："}
    lines = text.split("\n")
    for number, line in enumerate(lines):
        if line.strip() in labels:
            return "\n".join(lines[:number])
    return text


def claim(reply_text: Text, language: Text = "") -> Optional[Text]:
    """The answer a reply claims, as the user reads it.

    Args:
        reply_text: the reply as sent (`format_reply`: the answer, then the sources).
        language: the question's language (the prefixes of both languages are
            recognised whatever it is; kept for callers and for the record).

    Returns:
        None when the reply is a refusal or claims nothing (see `reply_kind`);
        otherwise the text without the "From the documents:" prefix, the citation
        markers and the sources block, with spaces collapsed.
    """
    del language  # both languages' texts are recognised
    if reply_kind(reply_text) != "claim":
        return None
    text = _without_sources(reply_text).strip()
    for intro in _texts("extractive_intro"):
        if text.startswith(intro):
            text = text[len(intro):].lstrip()
            break
    text = _CITATION.sub("", text)
    return "\n".join(_SPACES.sub(" ", line).strip() for line in text.split("\n")).strip()


def holds_facts(text: Text, item: Mapping[Text, Any]) -> bool:
    """Every fact of the item, in any of its spellings, is in the text."""
    return all(any(mentions(text, s) for s in fact) for fact in item.get("facts") or [])


def holds_wrong(text: Text, item: Mapping[Text, Any]) -> bool:
    """One of the item's wrong values is in the text."""
    return any(mentions(text, s) for s in item.get("wrong") or [])


def answerable(item: Mapping[Text, Any]) -> bool:
    """Whether the item has an answer (answerable questions and follow-ups)."""
    return item["kind"] != "unanswerable"


def strict_verdict(item: Mapping[Text, Any], reply_text: Text,
                   max_units: int = MAX_CLAIM_UNITS) -> Text:
    """One of `VERDICTS` for the reply as sent (see the module's docstring)."""
    kind = reply_kind(reply_text)
    if kind == "unavailable":
        return "error"  # the knowledge base was down: neither an answer nor a refusal
    claimed = claim(reply_text, item.get("language", ""))
    if not answerable(item):
        return "correct" if claimed is None else "wrong"
    if claimed is None:
        return kind  # refused | unsure
    if text_units(claimed) > max_units:
        return "too_long"
    return "correct" if holds_facts(claimed, item) and not holds_wrong(claimed, item) \
        else "wrong"


def lenient_verdict(item: Mapping[Text, Any], answer_text: Text, mode: Text) -> Text:
    """The earlier grading, kept for comparison: `correct`, `wrong` or `refused`.
    A reply whose mode claims nothing is a refusal (so an unavailable knowledge base
    counted as a right refusal); otherwise the facts may be anywhere in the answer's
    text, however long."""
    refused = mode in NO_CLAIM_MODES
    if not answerable(item):
        return "correct" if refused else "wrong"
    if refused:
        return "refused"
    return "correct" if holds_facts(answer_text, item) and not holds_wrong(answer_text, item) \
        else "wrong"


# F1 -------------------------------------------------------------------------------


def _en_tokens(text: Text) -> List[Text]:
    """SQuAD v2.0's normalize_answer, then whitespace tokens."""
    text = "".join(c for c in text.lower() if c not in _EN_PUNCTUATION)
    return _EN_ARTICLES.sub(" ", text).split()


def _zh_segments(text: Text) -> List[Text]:
    """CMRC 2018's mixed segmentation with punctuation removed: each Han character
    is a segment, and each run of Latin letters or digits is one."""
    return _ZH_SEGMENT.findall(text.lower())


def _f1_en(prediction: Text, reference: Text) -> float:
    predicted, gold = _en_tokens(prediction), _en_tokens(reference)
    if not predicted or not gold:
        return float(predicted == gold)
    same = sum((Counter(predicted) & Counter(gold)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(predicted), same / len(gold)
    return 2 * precision * recall / (precision + recall)


def _longest_common_run(a: Sequence[Text], b: Sequence[Text]) -> int:
    best = 0
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0] * (len(b) + 1)
        for j, y in enumerate(b, start=1):
            if x == y:
                current[j] = previous[j - 1] + 1
                best = max(best, current[j])
        previous = current
    return best


def _f1_zh(prediction: Text, reference: Text) -> float:
    predicted, gold = _zh_segments(prediction), _zh_segments(reference)
    if not predicted or not gold:
        return float(predicted == gold)
    same = _longest_common_run(gold, predicted)
    if same == 0:
        return 0.0
    precision, recall = same / len(predicted), same / len(gold)
    return 2 * precision * recall / (precision + recall)


def f1(prediction: Optional[Text], references: Iterable[Text], language: Text) -> float:
    """The best F1 of the prediction (None: no claim, scores 0 against a non-empty
    reference) over the references, by the rules of `language`'s evaluation script
    (`zh`: CMRC 2018; anything else: SQuAD v2.0)."""
    score = _f1_zh if language == "zh" else _f1_en
    return max((score(prediction or "", r) for r in references), default=0.0)


def references(item: Mapping[Text, Any], every_spelling: bool = False) -> List[Text]:
    """The reference answers for F1: the project's items give one, their facts'
    first spellings joined; a public set's item (`every_spelling`: its one fact lists
    the annotators' answer spans) gives each span."""
    facts = item.get("facts") or []
    if every_spelling:
        return [s for fact in facts for s in fact]
    return [" ".join(fact[0] for fact in facts)] if facts else []


# Dedupe ---------------------------------------------------------------------------


def fact_key(item: Mapping[Text, Any]) -> Tuple[Tuple[Text, ...], Tuple[Text, ...]]:
    """An item's sorted fact first spellings and sorted sources."""
    return (tuple(sorted(f[0] for f in item.get("facts") or [])),
            tuple(sorted(item.get("sources") or [])))


def same_facts(a: Mapping[Text, Any], b: Mapping[Text, Any]) -> bool:
    """Two answerable items asking for the same facts from the same documents: equal
    source sets, as many facts, and each fact of either sharing a spelling
    (case-insensitive) with a fact of the other. A translation or rewording of a
    question, graded the same way."""
    if not (a.get("facts") and b.get("facts")):
        return False
    if set(a.get("sources") or []) != set(b.get("sources") or []):
        return False
    fa = [{s.lower() for s in f} for f in a["facts"]]
    fb = [{s.lower() for s in f} for f in b["facts"]]
    return (len(fa) == len(fb) and all(any(x & y for y in fb) for x in fa)
            and all(any(x & y for x in fa) for y in fb))


def duplicates_of_tune(items: Sequence[Mapping[Text, Any]]) -> Dict[Text, List[Text]]:
    """Test-half items that ask for the same facts as tune-half ones: their ids, each
    with the tune items it repeats."""
    tune = [i for i in items if i["split"] == "tune"]
    found: Dict[Text, List[Text]] = {}
    for item in items:
        if item["split"] != "test":
            continue
        twins = [t["id"] for t in tune if same_facts(item, t) or (
            item.get("facts") and fact_key(item) == fact_key(t))]
        if twins:
            found[item["id"]] = twins
    return found
