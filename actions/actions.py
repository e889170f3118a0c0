"""The weather actions: thin rasa-sdk adapters over `assistant.weather`."""

from __future__ import annotations

import datetime as dt
from typing import Any, Callable, Dict, List, Optional, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.conversation import language_of
from assistant.weather.messages import message
from assistant.weather.models import WeatherProvider
from assistant.weather.service import Reply, check_city, weather_reply


def _send(dispatcher: CollectingDispatcher, reply: Optional[Reply]) -> None:
    if reply is not None:
        dispatcher.utter_message(text=reply.text)


class ValidateWeatherForm(FormValidationAction):
    """Checks the city against the weather service's geocoder."""

    def __init__(self, provider: WeatherProvider) -> None:
        """`provider` is the weather service (Open-Meteo, built by the wiring)."""
        self._provider = provider

    def name(self) -> Text:
        """Name of the action in the domain."""
        return "validate_weather_form"

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
    ) -> None:
        """`provider` is the weather service; `clock` gives today's date."""
        self._provider = provider
        self._clock = clock

    def name(self) -> Text:
        """Name of the action in the domain."""
        return "action_weather"

    async def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> List[EventType]:
        """Replies with the forecast and clears the date for the next question."""
        reply = await weather_reply(
            self._provider,
            tracker.get_slot("city"),
            tracker.get_slot("date"),
            language_of(tracker),
            self._clock(),
        )
        _send(dispatcher, reply)
        return [SlotSet("date", None)]
