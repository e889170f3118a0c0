"""Multi-turn memory: resolving a follow-up question against earlier turns."""

from __future__ import annotations

import re
from typing import Optional, Sequence, Text

from bilingual_assistant.answers.models import Turn
from bilingual_assistant.text import has_content, text_units

_FOLLOW_UP_ZH_START = re.compile(r"^(那|那么|还有|另外|这个|那个|它|他们|她们)")
_FOLLOW_UP_ZH_END = re.compile(r"呢[？?]?$")
_FOLLOW_UP_EN = re.compile(
    r"^(and|but|also|what about|how about|what if|same|then|for|in|on|at|during|"
    r"does that|is that|do they|and if)\b",
    re.IGNORECASE,
)
SHORT_QUESTION_UNITS = 3
# Words that point back at the earlier question's topic: "can I carry the unused
# ones over?", "can I claim it again if I move house?", "那期间能在家办公吗". ("IT",
# the department, is not "it".)
_POINTS_BACK_EN = re.compile(
    r"\b(it|its|they|them|their|those|these|ones|that one|the same)\b", re.IGNORECASE)
_POINTS_BACK_ZH = re.compile(r"期间|那边|这边|那里|这里|它|这个|那个|那时|这些|那些")
POINTING_UNITS = 10
# A question this short that finds nothing on its own is searched again joined to
# the earlier question ("用完了怎么办", "一周能申请几次"). On the answer benchmark's
# tune half (`benchmarks/data/answer_questions.yml`, 130 standalone questions each
# after a random earlier one) no standalone question was joined by this rule.
RETRY_JOINED_UNITS = 8


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
    if units <= POINTING_UNITS and points_back(stripped):
        return True
    return units <= SHORT_QUESTION_UNITS and not stripped.endswith(("吗", "吗?", "吗？"))


def points_back(question: Text) -> bool:
    """True if the question holds a word standing for an earlier topic."""
    if _POINTS_BACK_ZH.search(question):
        return True
    return any(m.group(0) != "IT" for m in _POINTS_BACK_EN.finditer(question))


def previous_question(history: Sequence[Turn]) -> Optional[Text]:
    """The latest earlier user message that is not itself a follow-up, or the
    first one: a conversation that opened with "canteen lunch hours?" is about it."""
    asked = [turn.text for turn in history if turn.role == "user"]
    for text in reversed(asked):
        if not is_follow_up(text):
            return text
    return asked[0] if asked else None


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


def joined_retry(question: Text, history: Sequence[Turn]) -> Optional[Text]:
    """The question joined to the earlier one, to search when the question alone
    finds nothing: for short questions that were not taken as follow-ups.

    Returns:
        "earlier question + question", or None when there is no earlier question,
        the question is long or already a follow-up.
    """
    stripped = question.strip()
    if (not has_content(stripped) or is_follow_up(stripped)
            or text_units(stripped) > RETRY_JOINED_UNITS):
        return None
    earlier = previous_question(history)
    return None if earlier is None else f"{earlier.strip()} {stripped}"
