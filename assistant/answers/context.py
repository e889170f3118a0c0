"""Multi-turn memory: resolving a follow-up question against earlier turns."""

from __future__ import annotations

import re
from typing import Optional, Sequence, Text

from assistant.answers.models import Turn
from assistant.text import has_content, text_units

_FOLLOW_UP_ZH_START = re.compile(r"^(那|那么|还有|另外|这个|那个|它|他们|她们)")
_FOLLOW_UP_ZH_END = re.compile(r"呢[？?]?$")
_FOLLOW_UP_EN = re.compile(
    r"^(and|but|also|what about|how about|what if|same|then|for|in|on|at|during|"
    r"does that|is that|do they|and if)\b",
    re.IGNORECASE,
)
SHORT_QUESTION_UNITS = 3


def is_follow_up(question: Text) -> bool:
    """True for short questions that only make sense after an earlier one.

    "那周末呢?", "and for contractors?", "what about Saturday?" are follow-ups;
    "How do I reset my password?" is not.
    """
    stripped = question.strip()
    units = text_units(stripped)
    if units == 0:
        return False
    # Short only: "那密码多久换一次?" or "and how do I reset my password?" start
    # like follow-ups but name their own topic.
    if _FOLLOW_UP_EN.match(stripped) and units <= 5:
        return True
    if _FOLLOW_UP_ZH_END.search(stripped) and units <= 10:
        return True
    if _FOLLOW_UP_ZH_START.match(stripped) and units <= 6:
        return True
    return units <= SHORT_QUESTION_UNITS and not stripped.endswith(("吗", "吗?", "吗？"))


def previous_question(history: Sequence[Turn]) -> Optional[Text]:
    """The latest earlier user message that is not itself a follow-up."""
    for turn in reversed(history):
        if turn.role == "user" and not is_follow_up(turn.text):
            return turn.text
    return None


def resolve_question(question: Text, history: Sequence[Turn]) -> Text:
    """The text to search for: a follow-up is prefixed with the question it follows.

    Args:
        question: the latest user message.
        history: earlier turns, oldest first (the latest message not included).

    Returns:
        The question, "earlier question + follow-up" for a follow-up, or "" when
        the message holds no word or number ("???", "😀"): nothing to search for.
    """
    if not has_content(question):
        return ""
    if not is_follow_up(question):
        return question.strip()
    earlier = previous_question(history)
    if earlier is None:
        return question.strip()
    return f"{earlier.strip()} {question.strip()}"
