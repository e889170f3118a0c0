"""Which language a message is written in: Chinese (`zh`) or English (`en`)."""

from __future__ import annotations

import re
import unicodedata
from typing import Optional, Text

ZH = "zh"
EN = "en"
LANGUAGES = (ZH, EN)

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")


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
    han = len(_HAN.findall(text))
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
