"""Data shapes and the provider interface for weather lookups."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Optional, Protocol, Text


@dataclass(frozen=True)
class Place:
    """A geocoded place."""

    name: Text
    latitude: float
    longitude: float
    country: Text = ""
    timezone: Text = "auto"


@dataclass(frozen=True)
class DailyForecast:
    """The forecast for one place and day."""

    place: Place
    date: dt.date
    weather_code: int
    temperature_max: float
    temperature_min: float
    precipitation_probability: Optional[float] = None


class WeatherProvider(Protocol):
    """What the weather actions need from a weather service."""

    async def geocode(self, name: Text, language: Text) -> Optional[Place]:
        """The best match for a place name, or None if there is none.

        Raises:
            WeatherError: if the service cannot be used.
        """
        ...

    async def forecast(self, place: Place, day: dt.date) -> DailyForecast:
        """The forecast for `place` on `day`.

        Raises:
            WeatherError: if the service cannot be used or has no forecast that day.
        """
        ...
