"""Open-Meteo client (geocoding and daily forecast; no API key); implements
`bilingual_assistant.weather.models.WeatherProvider`."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any, Dict, Optional, Text

import aiohttp

from bilingual_assistant.config import WeatherSettings
from bilingual_assistant.errors import WeatherError
from bilingual_assistant.weather.models import DailyForecast, Place

logger = logging.getLogger(__name__)

DAILY_FIELDS = (
    "weather_code",
    "temperature_2m_max",
    "temperature_2m_min",
    "precipitation_probability_max",
)


class OpenMeteoClient:
    """Talks to Open-Meteo's geocoding and forecast APIs over HTTP."""

    def __init__(self, settings: WeatherSettings = WeatherSettings()) -> None:
        """Uses the URLs and timeout from `settings`."""
        self._settings = settings

    async def _get_json(self, url: Text, params: Dict[Text, Any]) -> Dict[Text, Any]:
        timeout = aiohttp.ClientTimeout(total=self._settings.timeout_seconds)
        try:
            async with aiohttp.ClientSession(timeout=timeout) as session:
                async with session.get(url, params=params) as response:
                    body = await response.json(content_type=None)
                    if response.status != 200:
                        reason = body.get("reason") if isinstance(body, dict) else None
                        raise WeatherError(
                            f"{url} answered HTTP {response.status}: {reason or body}"
                        )
        except TimeoutError as e:
            raise WeatherError(
                f"{url} did not answer within {self._settings.timeout_seconds}s"
            ) from e
        except (aiohttp.ClientError, ValueError) as e:
            raise WeatherError(f"{url} could not be used: {e}") from e
        if not isinstance(body, dict):
            raise WeatherError(f"{url} answered with unexpected JSON: {body!r:.200}")
        return body

    async def geocode(self, name: Text, language: Text) -> Optional[Place]:
        """Looks a place name up; None if Open-Meteo knows no such place."""
        body = await self._get_json(
            self._settings.geocoding_url,
            {"name": name, "count": 1, "language": language, "format": "json"},
        )
        results = body.get("results") or []
        if not results:
            return None
        best = results[0]
        try:
            return Place(
                name=str(best["name"]),
                latitude=float(best["latitude"]),
                longitude=float(best["longitude"]),
                country=str(best.get("country", "")),
                timezone=str(best.get("timezone") or "auto"),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise WeatherError(f"unusable geocoding result {best!r:.200}") from e

    async def forecast(self, place: Place, day: dt.date) -> DailyForecast:
        """The daily forecast for `place` on `day`."""
        body = await self._get_json(
            self._settings.forecast_url,
            {
                "latitude": place.latitude,
                "longitude": place.longitude,
                "daily": ",".join(DAILY_FIELDS),
                "timezone": place.timezone,
                "start_date": day.isoformat(),
                "end_date": day.isoformat(),
            },
        )
        daily = body.get("daily") or {}
        try:
            index = list(daily["time"]).index(day.isoformat())
            rain = daily.get("precipitation_probability_max") or [None] * (index + 1)
            return DailyForecast(
                place=place,
                date=day,
                weather_code=int(daily["weather_code"][index]),
                temperature_max=float(daily["temperature_2m_max"][index]),
                temperature_min=float(daily["temperature_2m_min"][index]),
                precipitation_probability=(
                    None if rain[index] is None else float(rain[index])
                ),
            )
        except (KeyError, IndexError, TypeError, ValueError) as e:
            raise WeatherError(
                f"no forecast for {day.isoformat()} in the answer: {daily!r:.200}"
            ) from e
