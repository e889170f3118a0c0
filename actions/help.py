"""`action_help`: what the assistant can do, leaving out the skills turned off."""

from __future__ import annotations

from typing import List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.conversation import language_of
from bilingual_assistant.help import help_text


class ActionHelp(Action):
    """Lists the skills in the user's language."""

    def __init__(self, weather: bool = True) -> None:
        """`weather`: whether the weather skill is on (`WEATHER_ENABLED`)."""
        self._weather = weather

    def name(self) -> Text:
        """Name of the action in the domain."""
        return "action_help"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        """Sends the list; changes no slot."""
        dispatcher.utter_message(text=help_text(language_of(tracker), self._weather))
        return []
