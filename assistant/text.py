"""Text in two scripts: which language a message is in, its length in units,
its sentences, and English stop words. The one place for the Han range.
"""

from __future__ import annotations

import re
import unicodedata
from typing import FrozenSet, List, Optional, Text

ZH = "zh"
EN = "en"
LANGUAGES = (ZH, EN)
# Before the user has written a word in either language.
DEFAULT_LANGUAGE = EN

# CJK Unified Ideographs, Extension A and the compatibility ideographs: a character
# class body, to build patterns with.
HAN_RANGE = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
HAN = re.compile(f"[{HAN_RANGE}]")
# A web address as people paste it; stops at spaces, brackets and Chinese punctuation.
URL = re.compile(r"(?:https?://|www\.)[^\s<>()\[\]，。、]+", re.IGNORECASE)
_LATIN_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")
# A unit of length: one Chinese character or one Latin word (digits included).
_UNIT = re.compile(f"[{HAN_RANGE}]|[A-Za-z0-9][A-Za-z0-9'’_.@-]*")
# Sentence ends: Chinese full stops (no space follows them) and Latin ones
# followed by a space, plus line breaks.
_SENTENCE_END = re.compile(r"(?<=[。！？；!?;])|(?<=[.:])\s+|\n+")

# Anything a browser would read as a tag, comment or doctype.
_MARKUP = re.compile(r"<(?:!--.*?--|[!?/]?[A-Za-z][^<>]*)>", re.DOTALL)

# Function words of English questions and documents: BM25 drops them from what it
# indexes, extractive answers from what they match.
STOP_WORDS: FrozenSet[Text] = frozenset(
    """a an the and or but if of to in on at by for with from as is are was were be been
    being do does did i me my we our you your he she it its they them their this that
    these those there here what which who whom how when where why can could should would
    will shall may might must have has had not no so than then too very just about
    into over any some all each more most such only own same s t don doesn isn aren""".split()
)


def detect_language(text: Optional[Text]) -> Optional[Text]:
    """Returns `zh`, `en`, or None when the text has neither (emoji, digits, ...).

    Chinese characters are compared with English words, since one Chinese character
    carries roughly what one English word does: "明天 New York 天气" is Chinese,
    "what does 帝都 mean" is English.

    Args:
        text: the user's message.

    Returns:
        The language code, or None if the text holds no letters of either script.
    """
    if not text:
        return None
    han = len(HAN.findall(text))
    latin = len(_LATIN_WORD.findall(text))
    if han == 0 and latin == 0:
        return None
    return ZH if han >= latin else EN


def has_content(text: Optional[Text]) -> bool:
    """Whether a text holds at least one letter or digit, in any script.

    Args:
        text: a message.

    Returns:
        False for empty text and for text made only of spaces, punctuation,
        symbols and emoji ("!!!???", "😀😀", "…"), True otherwise.
    """
    return any(unicodedata.category(c)[0] in "LN" for c in text or "")


def text_units(text: Text) -> int:
    """Length in units: a Chinese character or a Latin word counts one."""
    return len(_UNIT.findall(text))


def unit_matches(text: Text) -> List[re.Match[Text]]:
    """The units of a text with their positions."""
    return list(_UNIT.finditer(text))


def split_sentences(text: Text) -> List[Text]:
    """Splits text into sentences, keeping their punctuation."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip()]


def join_sentences(sentences: List[Text]) -> Text:
    """Joins sentences: a space between Latin ones, none between Chinese ones."""
    out = ""
    for sentence in sentences:
        if out and (out[-1].isascii() or sentence[0].isascii()):
            out += " "
        out += sentence
    return out


def strip_markup(text: Text) -> Text:
    """The text without tags, comments or doctypes ("<script>", "<img onerror=...>").

    For text shown to people: a page that inserts it as HTML runs nothing. A "<"
    that starts no tag ("a < b", "<3") stays.
    """
    previous = None
    while previous != text:  # "<scr<script>ipt>" becomes "<script>" after one pass
        previous, text = text, _MARKUP.sub("", text)
    return text
