"""Text normalisation for BM25: English words lower-cased, lightly stemmed and
stop words dropped; Chinese left to Milvus's jieba analyzer.

Applied to chunks before they are indexed and to queries before they are searched,
so that "Contractors" finds "contractor" and "connecting" finds "connect". Done
here rather than with Milvus analyzer filters, whose English stemmer and stop
filter are not applied by Milvus Lite together with the jieba tokenizer.
"""

from __future__ import annotations

import re
from typing import Text

from bilingual_assistant.text import STOP_WORDS

_WORD = re.compile(r"[A-Za-z][A-Za-z']*")


def stem(word: Text) -> Text:
    """A light English stemmer (plural, -ing, -ed and a few derivations)."""
    w = word.lower().replace("'", "")
    if len(w) <= 3:
        return w
    for suffix, replacement in (
        ("ies", "y"), ("sses", "ss"), ("ational", "ate"), ("ization", "ize"), ("ness", ""),
        ("ments", "ment"), ("ing", ""), ("ed", ""), ("es", ""), ("s", ""),
    ):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            if suffix == "s" and w.endswith(("ss", "us", "is")):
                return w
            if suffix == "es" and not w.endswith(("ches", "shes", "xes", "sses", "zes")):
                w = w[:-1]
                return w
            w = w[: len(w) - len(suffix)] + replacement
            if suffix in ("ing", "ed") and len(w) > 3 and w[-1] == w[-2] and w[-1] not in "lsz":
                w = w[:-1]
            return w
    return w


def bm25_text(text: Text) -> Text:
    """The text as indexed for BM25."""

    def replace(match: re.Match[Text]) -> Text:
        word = match.group(0).lower()
        return "" if word in STOP_WORDS else stem(word)

    return " ".join(_WORD.sub(replace, text).split())
