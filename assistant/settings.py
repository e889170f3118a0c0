"""Settings from the environment: the only module that reads `os.environ`."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Text, Tuple


class SettingsError(ValueError):
    """An environment variable holds a value that cannot be used."""


def _float(env: Mapping[Text, Text], key: Text, default: float) -> float:
    raw = env.get(key)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{key} must be a number of seconds, got {raw!r}.") from None
    if value <= 0:
        raise SettingsError(f"{key} must be positive, got {raw!r}.")
    return value


@dataclass(frozen=True)
class WeatherSettings:
    """Where and how to reach the weather service (Open-Meteo by default)."""

    geocoding_url: Text = "https://geocoding-api.open-meteo.com/v1/search"
    forecast_url: Text = "https://api.open-meteo.com/v1/forecast"
    timeout_seconds: float = 5.0


@dataclass(frozen=True)
class Settings:
    """Everything configurable through environment variables."""

    weather: WeatherSettings


def load_settings(env: Optional[Mapping[Text, Text]] = None) -> Settings:
    """Reads settings from `env` (the process environment by default).

    Args:
        env: a mapping of variable names to values, for tests.

    Returns:
        The settings.

    Raises:
        SettingsError: naming the variable that holds a bad value.
    """
    env = os.environ if env is None else env
    defaults = WeatherSettings()
    weather = WeatherSettings(
        geocoding_url=env.get("OPEN_METEO_GEOCODING_URL") or defaults.geocoding_url,
        forecast_url=env.get("OPEN_METEO_FORECAST_URL") or defaults.forecast_url,
        timeout_seconds=_float(
            env, "WEATHER_TIMEOUT_SECONDS", defaults.timeout_seconds
        ),
    )
    return Settings(weather=weather)


_ENV_REFERENCE = re.compile(r"\$\{([^}]+)\}")


def active_credentials(
    credentials: Dict[Text, Any], env: Optional[Mapping[Text, Text]] = None
) -> Tuple[Dict[Text, Any], List[Text]]:
    """Keeps the channels of `credentials.yml` whose `${VARIABLES}` are all set.

    Rasa starts every channel listed in its credentials file and fails on a channel
    whose token is empty, so a deployment without Slack or Telegram secrets would
    not start. This drops those channels instead.

    Args:
        credentials: the parsed credentials file.
        env: the environment (the process environment by default).

    Returns:
        The channels to start, and the names of the channels left out.
    """
    env = os.environ if env is None else env
    active: Dict[Text, Any] = {}
    skipped: List[Text] = []
    for channel, config in (credentials or {}).items():
        references = _ENV_REFERENCE.findall(repr(config)) if config else []
        if all(env.get(name) for name in references):
            active[channel] = config
        else:
            skipped.append(channel)
    return active, skipped
