"""Asking for a person (issue #28): thin rasa-sdk adapters over
`bilingual_assistant.handoff`."""

from __future__ import annotations

from typing import List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.conversation import language_of
from bilingual_assistant.handoff.messages import nobody_available


class ActionRequestHuman(Action):
    """Answers a request for a person. Until agents work from the inbox, nobody can
    take the conversation over: the person is told who to contact instead
    (`HANDOFF_CONTACT`), and the assistant keeps answering."""

    def __init__(self, contact: Text = "") -> None:
        """`contact`: how people reach the team (`HANDOFF_CONTACT`)."""
        self._contact = contact

    def name(self) -> Text:
        """Name of the action in the domain."""
        return "action_request_human"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        """Says who to contact; changes no slot."""
        dispatcher.utter_message(text=nobody_available(language_of(tracker), self._contact))
        return []
