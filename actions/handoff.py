"""Asking for a person (issue #28): thin rasa-sdk adapters over
`bilingual_assistant.handoff`."""

from __future__ import annotations

import logging
import secrets
import time
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.conversation import answer_of, language_of
from bilingual_assistant.errors import ServiceError
from bilingual_assistant.handoff.messages import nobody_available, ticket_created
from bilingual_assistant.handoff.tickets import Ticket, TicketSink, transcript_of

logger = logging.getLogger(__name__)


def said_so_far(events: List[Dict[Text, Any]]) -> List[Dict[Text, Text]]:
    """The person's messages and the assistant's replies, oldest first (a
    knowledge answer as its text, without the sources line)."""
    said = []
    for event in events:
        if event.get("event") == "user" and event.get("text"):
            said.append({"author": "user", "text": str(event["text"])})
        elif event.get("event") == "bot" and event.get("text"):
            answer = answer_of(event)
            text = answer.get("text") if answer is not None else event["text"]
            said.append({"author": "assistant", "text": str(text)})
    return said


class ActionRequestHuman(Action):
    """Answers a request for a person. Until agents work from the inbox, nobody can
    take the conversation over: with a helpdesk webhook (`HANDOFF_TICKET_URL`) a
    ticket with the conversation so far goes to it and the person is given its
    number; otherwise (or when the webhook fails) they are told who to contact
    (`HANDOFF_CONTACT`). Either way the assistant keeps answering."""

    def __init__(self, contact: Text = "", tickets: Optional[TicketSink] = None) -> None:
        """`contact`: how people reach the team (`HANDOFF_CONTACT`); `tickets`: the
        helpdesk's webhook, if configured."""
        self._contact = contact
        self._tickets = tickets

    def name(self) -> Text:
        """Name of the action in the domain."""
        return "action_request_human"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        """Opens a ticket or says who to contact; changes no slot."""
        language = language_of(tracker)
        if self._tickets is not None:
            ticket = Ticket(secrets.token_hex(4), tracker.sender_id,
                            tracker.get_latest_input_channel() or "", language, "asked",
                            time.time(), transcript_of(said_so_far(tracker.events)))
            try:
                await self._tickets.send(ticket)
            except ServiceError as error:
                logger.warning("handoff.no_ticket", extra={"error": str(error)})
            else:
                dispatcher.utter_message(text=ticket_created(language, ticket.id,
                                                             self._contact))
                return []
        dispatcher.utter_message(text=nobody_available(language, self._contact))
        return []
