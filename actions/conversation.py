"""What the actions read from a conversation: its language, its turns, and the
structured answers earlier replies carried."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Text

from rasa_sdk import Tracker

from bilingual_assistant.answers.models import ANSWER_KEY, Turn
from bilingual_assistant.text import DEFAULT_LANGUAGE

# Earlier turns given to the answer service.
HISTORY_TURNS = 6
# The bot event's metadata key under which an answer travels as data, next to its
# display text. Metadata rather than `json_message`: every channel sends `custom`
# as a message of its own (Slack posts it; Rasa's socket.io channel failed on it),
# while metadata reaches the tracker, and so the next action, without being shown.


def language_of(tracker: Tracker) -> Text:
    """The conversation's language: the `language` slot, which `LanguagePolicy`
    sets from each user message before the action runs (decided once per turn)."""
    return tracker.get_slot("language") or DEFAULT_LANGUAGE


def answer_of(event: Dict[Text, Any]) -> Optional[Dict[Text, Any]]:
    """The structured answer a bot event carries, if any."""
    metadata = event.get("metadata")
    answer = metadata.get(ANSWER_KEY) if isinstance(metadata, dict) else None
    return answer if isinstance(answer, dict) else None


def history_from_events(events: List[Dict[Text, Any]], limit: int = HISTORY_TURNS) -> List[Turn]:
    """Earlier knowledge exchanges, oldest first: each user message the knowledge
    action answered, and that answer's text (without its sources, read from the
    structured answer the event carries, never parsed out of the display text).

    Other exchanges (the weather, small talk) are left out, so that a follow-up
    question ("那外包人员呢?") is never joined to a weather question.

    Args:
        events: the tracker's events.
        limit: the number of turns kept.

    Returns:
        The turns; the latest user message is not among them.
    """
    turns: List[Turn] = []
    asked: Optional[Text] = None
    for event in events:
        kind = event.get("event")
        if kind == "user":
            asked = event.get("text") or None
        elif kind == "bot":
            answer = answer_of(event)
            if answer is not None and asked is not None:
                turns.append(Turn("user", asked))
                turns.append(Turn("assistant", str(answer.get("text") or "")))
            asked = None if answer is not None else asked
    return turns[-limit:]


def misses_before(events: List[Dict[Text, Any]], misses: Sequence[Text]) -> int:
    """How many knowledge answers in a row, counting back from the latest, were of
    the modes `misses` ("not in the documents", "not sure") for a question (a message
    without words, asked what it means, is no miss)."""
    count = 0
    for event in reversed(events):
        answer = answer_of(event) if event.get("event") == "bot" else None
        if answer is None:
            continue
        if answer.get("mode") not in misses or not answer.get("query"):
            break
        count += 1
    return count


def previous_action(events: List[Dict[Text, Any]]) -> Optional[Text]:
    """The last action the assistant ran before the latest user message (not
    counting `action_listen`), or None."""
    latest_user = max((i for i, e in enumerate(events) if e.get("event") == "user"),
                      default=None)
    if latest_user is None:
        return None
    for event in reversed(events[:latest_user]):
        if event.get("event") == "action" and event.get("name") != "action_listen":
            return str(event.get("name"))
        if event.get("event") == "user":
            return None
    return None
