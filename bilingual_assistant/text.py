"""Text in two scripts: which language a message is in, its length in units,
its sentences, and English stop words. The one place for the Han range.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from typing import Dict, FrozenSet, List, Optional, Text, Tuple

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
# Brackets and quotes a sentence does not end inside; a straight double quote
# closes the one before it, else opens one.
_PAIRS = {"(": ")", "（": "）", "[": "]", "【": "】", "《": "》", "“": "”", "‘": "’",
          "「": "」", "『": "』", '"': '"'}
_BRACKET = re.compile(r'[()（）\[\]【】《》“”‘’「」『』"\n]')
# A bracket not closed this many characters on, or by the end of its line, counts as
# never opened: one stray "(" must not make the rest of a document one sentence.
_MAX_ENCLOSED = 200
_CLOSING = ')）]】》”’」』"'
# A possible sentence end with the closing marks after it, which stay with it: a line
# break; Chinese stops and half-width "!?;" need no space after them, and runs
# ("？！", "。……") stay whole; "." and ":" only before a space, so that "3.5", "v2.1",
# "10:30" and "Co.）成立" stay whole.
_SENTENCE_END = re.compile(r'\n+|(?:[。！？；!?;]|……+)+[)）\]】》”’」』"]*'
                           r'|[.:]+[)）\]】》”’」』"]*(?=\s)')
# Before a ".", a word that makes it an abbreviation, which never ends a sentence except
# at the end of a line or of the text (simpler than guessing from the next word; an
# "etc." that did end one merely joins two). A single capital is an initial ("J. R. R.").
_ABBREVIATION = re.compile(
    r"(?:\b(?i:e\.g|i\.e|etc|vs|approx|cf|mrs?|ms|dr|prof|st|jr|sr|inc|ltd|co|corp|a\.m|p\.m)|\bNo"
    r"|\b(?:Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec)|(?<![\w'’])[A-Z])$")
# The stops that end a sentence inside a quote or bracket closing right after them:
# "他说：“去。”" ends there, a quoted question usually goes on ("“去吗？”他问。").
_FULL_STOPS = "。."

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


def _enclosed(text: Text) -> List[Tuple[int, int]]:
    """Where the outermost closed brackets and quotes open and close, in order: those
    closed on the same line within `_MAX_ENCLOSED` characters."""
    spans: List[Tuple[int, int]] = []
    stack: List[Tuple[Text, int]] = []  # (the closing mark awaited, where it opened)
    awaited: Dict[Text, int] = {}  # closing mark -> how many in `stack` await it
    for match in _BRACKET.finditer(text):
        mark, at = match.group(), match.start()
        while stack and (mark == "\n" or at - stack[0][1] > _MAX_ENCLOSED):
            awaited[stack.pop(0)[0]] -= 1
        if awaited.get(mark):
            while True:  # brackets opened inside and not closed are dropped
                closing, opened = stack.pop()
                awaited[closing] -= 1
                if closing == mark:
                    break
            spans.append((opened, at))
        elif mark in _PAIRS:
            stack.append((_PAIRS[mark], at))
            awaited[_PAIRS[mark]] = awaited.get(_PAIRS[mark], 0) + 1
    outermost: List[Tuple[int, int]] = []
    for opened, closed in sorted(spans):  # spans nest or are apart, never overlap
        if not outermost or opened > outermost[-1][1]:
            outermost.append((opened, closed))
    return outermost


def split_sentences(text: Text) -> List[Text]:
    """Splits text into sentences, keeping their punctuation and closing quotes.

    A sentence ends at a line break, and at a stop outside brackets and quotes that
    is no abbreviation's and no number's.
    """
    spans = _enclosed(text)
    openings = [opened for opened, _ in spans]

    def inside(position: int) -> bool:  # after an opening mark, up to its closing one
        i = bisect.bisect_left(openings, position) - 1
        return i >= 0 and position <= spans[i][1]

    sentences: List[Text] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        stop, end = match.start(), match.end()
        stops = match.group().rstrip(_CLOSING)
        if stops[0] != "\n" and (  # a line break always ends one
            inside(end)  # within brackets or quotes
            # a quoted question or exclamation, see _FULL_STOPS
            or inside(stop) and stops[-1] not in _FULL_STOPS
            # after an abbreviation ("approx", the longest, and the letter before it)
            or stops[0] == "." and _ABBREVIATION.search(text, max(0, stop - 8), stop)
        ):
            continue
        sentences.append(text[start:end])
        start = end
    sentences.append(text[start:])
    return [s.strip() for s in sentences if s.strip()]


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
