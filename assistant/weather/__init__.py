"""Weather lookups behind a provider interface."""

from assistant.weather.models import (
    DailyForecast,
    Place,
    WeatherError,
    WeatherProvider,
)
from assistant.weather.open_meteo import OpenMeteoClient

__all__ = [
    "DailyForecast",
    "OpenMeteoClient",
    "Place",
    "WeatherError",
    "WeatherProvider",
]
