import pytest

from assistant.settings import (
    SettingsError,
    WeatherSettings,
    active_credentials,
    load_settings,
)


def test_defaults_point_at_open_meteo():
    settings = load_settings({})
    assert settings.weather == WeatherSettings()
    assert settings.weather.forecast_url == "https://api.open-meteo.com/v1/forecast"


def test_values_come_from_the_environment():
    settings = load_settings(
        {
            "OPEN_METEO_GEOCODING_URL": "http://127.0.0.1:1/geo",
            "OPEN_METEO_FORECAST_URL": "http://127.0.0.1:1/fc",
            "WEATHER_TIMEOUT_SECONDS": "2.5",
        }
    )
    assert settings.weather == WeatherSettings(
        "http://127.0.0.1:1/geo", "http://127.0.0.1:1/fc", 2.5
    )


@pytest.mark.parametrize("raw", ["soon", "0", "-3"])
def test_bad_timeout_names_the_variable(raw):
    with pytest.raises(SettingsError, match="WEATHER_TIMEOUT_SECONDS"):
        load_settings({"WEATHER_TIMEOUT_SECONDS": raw})


CREDENTIALS = {
    "rest": None,
    "socketio": {"user_message_evt": "user_uttered"},
    "slack": {
        "slack_token": "${SLACK_BOT_TOKEN}",
        "slack_signing_secret": "${SLACK_SIGNING_SECRET}",
    },
    "telegram": {"access_token": "${TELEGRAM_ACCESS_TOKEN}", "verify": "bot"},
}


def test_channels_without_secrets_are_left_out():
    active, skipped = active_credentials(CREDENTIALS, {"SLACK_BOT_TOKEN": "x"})
    assert list(active) == ["rest", "socketio"]
    assert skipped == ["slack", "telegram"]


def test_channels_with_all_secrets_are_kept():
    env = {"SLACK_BOT_TOKEN": "a", "SLACK_SIGNING_SECRET": "b", "TELEGRAM_ACCESS_TOKEN": "c"}
    active, skipped = active_credentials(CREDENTIALS, env)
    assert active == CREDENTIALS and skipped == []
