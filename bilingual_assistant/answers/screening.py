"""Messages that are not questions to look up: too long, only links, only code."""

from __future__ import annotations

import re
from typing import Optional, Text

from bilingual_assistant.text import HAN_RANGE, URL

# A question to look up is a sentence or two; 2,000 characters is a pasted page.
# Longer text would be cut by the embedder and overflow the model's context, and
# one user's wall of text would hold the model for everyone.
MAX_QUESTION_CHARS = 2_000
# Characters that are rare in questions and common in code, markup and shell lines.
_CODE_CHARS = set("{}[]();=<>$\\|&`#*/_")
_CODE_SHARE = 0.15
_MIN_CODE_CHARS = 12


def screen(question: Text, max_chars: int = MAX_QUESTION_CHARS) -> Optional[Text]:
    """Why a message cannot be looked up, or None if it can.

    Args:
        question: the user's message, as typed.
        max_chars: the longest question looked up.

    Returns:
        `too_long`, `only_links` (links and nothing else: the assistant opens no
        links), `only_code` (code or markup with no question around it), or None.
    """
    text = question.strip()
    if len(text) > max_chars:
        return "too_long"
    if URL.search(text) and not re.search(r"\w", URL.sub(" ", text)):
        return "only_links"
    visible = [c for c in text if not c.isspace()]
    if len(visible) >= _MIN_CODE_CHARS:
        share = sum(c in _CODE_CHARS for c in visible) / len(visible)
        if share >= _CODE_SHARE and not _asks(text):
            return "only_code"
    return None


def _asks(text: Text) -> bool:
    """Whether code comes with words asking about it ("what does `x=1` do?")."""
    prose = re.sub(r"`[^`]*`|\S*[{}\[\]();=<>$\\|&#*/_]\S*", " ", text)
    return len(re.findall(rf"[A-Za-z]{{2,}}|[{HAN_RANGE}]", prose)) >= 3
