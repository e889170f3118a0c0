"""What the weather actions say: plain functions over a `WeatherProvider`."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any, Optional, Text, Tuple

from bilingual_assistant.dates import resolve_date
from bilingual_assistant.errors import WeatherError
from bilingual_assistant.weather.messages import message
from bilingual_assistant.weather.models import Place, WeatherProvider
from bilingual_assistant.weather.wmo import describe

logger = logging.getLogger(__name__)

# Open-Meteo forecasts up to 16 days ahead, today included.
FORECAST_DAYS = 16

_ZH_WEEKDAYS = "一二三四五六日"


@dataclass(frozen=True)
class Reply:
    """A message for the user: `kind` names it, `text` is what is sent."""

    kind: Text
    text: Text


def _reply(kind: Text, language: Text, **variables: Any) -> Reply:
    return Reply(kind, message(kind, language, **variables))


def day_label(day: dt.date, today: dt.date, language: Text) -> Text:
    """'明天' / 'tomorrow', or the weekday and date for other days."""
    offset = (day - today).days
    if language == "zh":
        relative = {0: "今天", 1: "明天", 2: "后天"}.get(offset)
        full = f"{day.month}月{day.day}日（周{_ZH_WEEKDAYS[day.weekday()]}）"
        return relative or full
    relative = {0: "today", 1: "tomorrow"}.get(offset)
    return relative or f"{day.strftime('%A')} {day.day} {day.strftime('%B')}"


def first_value(value: Any) -> Optional[Text]:
    """A slot value as text; the first one if the NLU filled a list."""
    if isinstance(value, (list, tuple)):
        value = value[0] if value else None
    if value is None:
        return None
    text = str(value).strip()
    return text or None


async def check_city(
    provider: WeatherProvider, city: Any, language: Text
) -> Tuple[Optional[Text], Optional[Reply]]:
    """Validates a city name against the weather service's geocoder.

    Args:
        provider: the weather service.
        city: the slot value.
        language: the user's language, for the reply.

    Returns:
        (value to keep in the slot or None, reply to send or None). If the service
        cannot be reached the city is kept: the forecast step reports the outage.
    """
    name = first_value(city)
    if name is None:
        return None, None
    try:
        place = await provider.geocode(name, language)
    except WeatherError as e:
        logger.warning("geocoding unavailable, keeping city %r: %s", name, e)
        return name, None
    if place is None:
        return None, _reply("city_not_found", language, city=name)
    return name, None


async def weather_reply(
    provider: WeatherProvider,
    city: Any,
    date_value: Any,
    language: Text,
    today: dt.date,
) -> Reply:
    """The reply to a weather question.

    Args:
        provider: the weather service.
        city: the city slot.
        date_value: the date slot (None means today).
        language: "zh" or "en".
        today: the reference date.

    Returns:
        The forecast (kind "report"), or the message that explains why there is
        none (unknown city or date, out of range, service down, no city yet).
    """
    name = first_value(city)
    raw_date = first_value(date_value)
    day = resolve_date(raw_date, today)
    if day is None:
        return _reply("date_not_understood", language, date=raw_date)
    if not 0 <= (day - today).days < FORECAST_DAYS:
        return _reply("date_out_of_range", language, days=FORECAST_DAYS)
    if name is None:
        return _reply("ask_city", language)
    try:
        place: Optional[Place] = await provider.geocode(name, language)
        if place is None:
            return _reply("city_not_found", language, city=name)
        forecast = await provider.forecast(place, day)
    except WeatherError as e:
        logger.warning("weather service failed for %r on %s: %s", name, day, e)
        return _reply("unavailable", language)
    rain = ""
    if forecast.precipitation_probability is not None:
        chance = round(forecast.precipitation_probability)
        rain = message("rain", language, chance=chance)
    return _reply(
        "report",
        language,
        city=place.name,
        day=day_label(day, today, language),
        description=describe(forecast.weather_code, language),
        temp_min=round(forecast.temperature_min),
        temp_max=round(forecast.temperature_max),
        rain=rain,
    )
