"""The knowledge answer action: a thin wrapper around `assistant.answers`."""

from __future__ import annotations

import logging
from typing import Any, Callable, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from assistant.answers import AnswerService, Turn, format_reply
from assistant.answers.messages import message
from assistant.answers.service import strip_sources
from assistant.knowledge.store import StoreError
from assistant.language import detect_language

logger = logging.getLogger(__name__)

HISTORY_TURNS = 6


def default_answer_service() -> AnswerService:
    """The service configured from the environment (built on first use)."""
    from assistant.answers import build_answer_service
    from assistant.settings import load_settings

    return build_answer_service(load_settings())


def history_from_events(events: List[Dict[Text, Any]], limit: int = HISTORY_TURNS) -> List[Turn]:
    """Earlier user and bot messages, oldest first, without the latest user message.

    Args:
        events: the tracker's events.
        limit: the number of turns kept.

    Returns:
        The turns.
    """
    turns: List[Turn] = []
    for event in events:
        text = event.get("text")
        if not text:
            continue
        if event.get("event") == "user":
            turns.append(Turn("user", text))
        elif event.get("event") == "bot":
            turns.append(Turn("assistant", strip_sources(text)))
    if turns and turns[-1].role == "user":
        turns.pop()
    return turns[-limit:]


async def answer_question(
    service: AnswerService, dispatcher: CollectingDispatcher, tracker: Tracker
) -> List[EventType]:
    """Answers the latest user message from the knowledge base.

    Args:
        service: the answer service.
        dispatcher: sends the reply.
        tracker: the conversation.

    Returns:
        No events: the answer is only a message.
    """
    question = tracker.latest_message.get("text") or ""
    language = tracker.get_slot("language") or detect_language(question) or "en"
    history = history_from_events(tracker.events)
    try:
        answer = await service.answer(question, history, language)
    except StoreError as error:
        logger.error("answer.store_unavailable", extra={"error": str(error)})
        dispatcher.utter_message(text=message("unavailable", language))
        return []
    dispatcher.utter_message(text=format_reply(answer))
    return []


class ActionAnswerQuestion(Action):
    """Answers questions from the documents, with numbered sources."""

    def __init__(
        self,
        service: Optional[AnswerService] = None,
        factory: Callable[[], AnswerService] = default_answer_service,
    ) -> None:
        """`service` is built by `factory` when first needed if not given."""
        self._service = service
        self._factory = factory

    def name(self) -> Text:
        """Name of the action in the domain."""
        return "action_answer_question"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        """Delegates to `answer_question`."""
        self._service = self._service or self._factory()
        return await answer_question(self._service, dispatcher, tracker)
