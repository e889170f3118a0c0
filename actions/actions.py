"""The weather actions: thin rasa-sdk adapters over `bilingual_assistant.weather`."""

from __future__ import annotations

import datetime as dt
from typing import Any, Callable, Dict, List, Optional, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.conversation import language_of, previous_action
from bilingual_assistant.help import weather_off_text
from bilingual_assistant.weather.messages import message
from bilingual_assistant.weather.models import WeatherProvider
from bilingual_assistant.weather.service import Reply, check_city, weather_reply


def _send(dispatcher: CollectingDispatcher, reply: Optional[Reply]) -> None:
    if reply is not None:
        dispatcher.utter_message(text=reply.text)


class ValidateWeatherForm(FormValidationAction):
    """Checks the city against the weather service's geocoder."""

    def __init__(self, provider: WeatherProvider, enabled: bool = True) -> None:
        """`provider` is the weather service (Open-Meteo, built by the wiring);
        `enabled` False (`WEATHER_ENABLED=off`) ends the form at once, unasked, and
        `action_weather` says the skill is off."""
        self._provider = provider
        self._enabled = enabled

    def name(self) -> Text:
        """Name of the action in the domain."""
        return "validate_weather_form"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        """Validates the slots, or ends the form when the skill is off."""
        if not self._enabled:
            return [SlotSet("requested_slot", None), ActiveLoop(None)]
        return await super().run(dispatcher, tracker, domain)

    async def validate_city(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> Dict[Text, Any]:
        """Keeps a city the geocoder knows; asks again for one it doesn't."""
        city, reply = await check_city(self._provider, slot_value, language_of(tracker))
        _send(dispatcher, reply)
        return {"city": city}


class ActionAskCity(Action):
    """Asks for the city, in the user's language (the weather form calls it)."""

    def name(self) -> Text:
        """Name of the action in the domain."""
        return "action_ask_city"

    async def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> List[EventType]:
        """Sends the question; changes no slot."""
        dispatcher.utter_message(text=message("ask_city", language_of(tracker)))
        return []


class ActionWeather(Action):
    """Tells the forecast for the city and date in the slots."""

    def __init__(
        self,
        provider: WeatherProvider,
        clock: Callable[[], dt.date] = dt.date.today,
        enabled: bool = True,
    ) -> None:
        """`provider` is the weather service; `clock` gives today's date; `enabled`
        False says the skill is turned off instead of calling the provider."""
        self._provider = provider
        self._clock = clock
        self._enabled = enabled

    def name(self) -> Text:
        """Name of the action in the domain."""
        return "action_weather"

    async def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> List[EventType]:
        """Replies with the forecast and clears the date for the next question.

        A follow-up right after a forecast that names only a city ("那上海呢?",
        "what about Shanghai?") keeps the day of that forecast; one that names only
        a day keeps the city (the city slot stays set). A new weather question
        without a day is about today.
        """
        if not self._enabled:
            dispatcher.utter_message(text=weather_off_text(language_of(tracker)))
            return [SlotSet("date", None), SlotSet("last_date", None)]
        date = tracker.get_slot("date")
        if date is None and follows_forecast(tracker):
            date = tracker.get_slot("last_date")
        reply = await weather_reply(
            self._provider,
            tracker.get_slot("city"),
            date,
            language_of(tracker),
            self._clock(),
        )
        _send(dispatcher, reply)
        told = date if reply is not None and reply.kind == "report" else None
        return [SlotSet("date", None), SlotSet("last_date", told)]


def follows_forecast(tracker: Tracker) -> bool:
    """Whether the latest message is an `inform` ("那上海呢?") sent right after a
    forecast."""
    if (tracker.latest_message or {}).get("intent", {}).get("name") != "inform":
        return False
    return previous_action(tracker.events) == "action_weather"
