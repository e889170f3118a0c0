"""The knowledge answer action: a thin rasa-sdk adapter over `AnswerService`."""

from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.conversation import (
    history_from_events,
    language_of,
    misses_before,
    previous_action,
)
from bilingual_assistant.answers.models import ANSWER_KEY
from bilingual_assistant.answers.service import AnswerService, format_reply
from bilingual_assistant.handoff.messages import offer
from bilingual_assistant.knowledge.access import PlatformGroups, Reader

# Intents whose messages are looked up but answered only when the documents clearly
# answer them (otherwise: the out-of-scope reply). Right after a knowledge answer
# they are follow-ups ("what about contractors?" gets nlu_fallback) and are asked.
ROUTED_INTENTS = frozenset({"out_of_scope", "nlu_fallback"})
# Answers that did not help: after the second in a row, a person is offered.
MISSES = ("not_found", "unsure")


def routed(tracker: Tracker) -> bool:
    """Whether the latest message reached the action only because the NLU could not
    place it (off-topic or low confidence), outside a knowledge exchange."""
    intent = (tracker.latest_message.get("intent") or {}).get("name")
    return (intent in ROUTED_INTENTS
            and previous_action(tracker.events) != "action_answer_question")


def reader_of(tracker: Tracker, platforms: PlatformGroups) -> Reader:
    """Who asks: the reader the REST or socket.io channel put in the message's
    metadata (from the signed token), else the groups `PLATFORM_GROUPS_FILE` gives
    the Slack, Telegram or WeCom person (none: the documents that name no groups)."""
    named = Reader.from_metadata(tracker.latest_message.get("metadata"))
    return named if named is not None else platforms.reader_of(tracker.sender_id)


class ActionAnswerQuestion(Action):
    """Answers questions from the documents the asker may read, with numbered
    sources."""

    def __init__(self, service: AnswerService,
                 platforms: PlatformGroups = PlatformGroups()) -> None:
        """`service` answers; `platforms` gives Slack, Telegram and WeCom people their
        groups; the action server's wiring builds both."""
        self._service = service
        self._platforms = platforms

    def name(self) -> Text:
        """Name of the action in the domain."""
        return "action_answer_question"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        """Answers the latest user message; the reply carries the answer as data.

        The display text holds the numbered sources; the same answer travels in
        the bot event's metadata (`ANSWER_KEY`), where the next turn reads it.
        """
        question = tracker.latest_message.get("text") or ""
        answer = await self._service.answer(
            question, history_from_events(tracker.events), language_of(tracker),
            routed=routed(tracker), reader=reader_of(tracker, self._platforms),
        )
        structured: Dict[Text, Any] = {ANSWER_KEY: answer.to_payload()}
        dispatcher.utter_message(text=format_reply(answer), **structured)
        if answer.mode in MISSES and answer.query and \
                misses_before(tracker.events, MISSES) == 1:
            dispatcher.utter_message(text=offer(answer.language))
        return []

