"""What the actions read from a conversation: its language, its turns, and the
structured answers earlier replies carried."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Tracker

from assistant.answers.models import Turn
from assistant.text import DEFAULT_LANGUAGE

# Earlier turns given to the answer service.
HISTORY_TURNS = 6
# The bot event's metadata key under which an answer travels as data, next to its
# display text. Metadata rather than `json_message`: every channel sends `custom`
# as a message of its own (Slack posts it; Rasa's socket.io channel failed on it),
# while metadata reaches the tracker, and so the next action, without being shown.
ANSWER_KEY = "answer"


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
    """Earlier user and bot messages, oldest first, without the latest user message.

    A knowledge answer's turn is its text without the sources, read from the
    structured answer the event carries, never parsed out of the display text.

    Args:
        events: the tracker's events.
        limit: the number of turns kept.

    Returns:
        The turns.
    """
    turns: List[Turn] = []
    for event in events:
        kind = event.get("event")
        if kind == "user" and event.get("text"):
            turns.append(Turn("user", event["text"]))
        elif kind == "bot":
            answer = answer_of(event)
            text = answer.get("text") if answer else event.get("text")
            if text:
                turns.append(Turn("assistant", str(text)))
    if turns and turns[-1].role == "user":
        turns.pop()
    return turns[-limit:]
