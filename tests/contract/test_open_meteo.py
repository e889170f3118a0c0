import datetime as dt

import pytest

from bilingual_assistant.adapters.open_meteo import OpenMeteoClient
from bilingual_assistant.errors import WeatherError
from bilingual_assistant.weather.models import Place

DAY = dt.date(2026, 11, 25)


async def test_geocode_finds_a_city_in_the_users_language(weather_settings, open_meteo):
    client = OpenMeteoClient(weather_settings)
    place = await client.geocode("Beijing", "zh")
    assert place == Place("北京", 39.9075, 116.39723, "China", "Asia/Shanghai")
    assert open_meteo.requests[-1]["query"] == {
        "name": "Beijing", "count": "1", "language": "zh", "format": "json"
    }


async def test_geocode_unknown_city_is_none(weather_settings):
    assert await OpenMeteoClient(weather_settings).geocode("Atlantis", "en") is None


async def test_forecast_for_one_day(weather_settings, open_meteo):
    client = OpenMeteoClient(weather_settings)
    place = await client.geocode("London", "en")
    forecast = await client.forecast(place, DAY)
    assert forecast.date == DAY and forecast.place == place
    assert forecast.weather_code == 0  # 25 % 5 == 0 in the fake's table
    assert forecast.temperature_max == pytest.approx(2 + 4 + 8.4)
    assert forecast.precipitation_probability == 75
    query = open_meteo.requests[-1]["query"]
    assert query["start_date"] == query["end_date"] == "2026-11-25"
    assert query["timezone"] == "Europe/London"
    assert "temperature_2m_max" in query["daily"]


async def test_http_error_becomes_weather_error(weather_settings, open_meteo):
    open_meteo.fail_with = 503
    with pytest.raises(WeatherError, match="HTTP 503: fake failure"):
        await OpenMeteoClient(weather_settings).geocode("London", "en")


async def test_timeout_becomes_weather_error(weather_settings, open_meteo):
    open_meteo.delay_seconds = 1.5  # the client's timeout is 1 s
    with pytest.raises(WeatherError, match="did not answer within 1.0s"):
        await OpenMeteoClient(weather_settings).geocode("London", "en")


async def test_unreachable_service_becomes_weather_error(weather_settings, open_meteo):
    open_meteo.stop()
    with pytest.raises(WeatherError, match="could not be used"):
        await OpenMeteoClient(weather_settings).geocode("London", "en")


async def test_missing_day_in_answer_is_an_error(weather_settings):
    client = OpenMeteoClient(weather_settings)
    place = Place("Nowhere", 0.0, 0.0)
    # the fake answers 400 for a missing start date, like Open-Meteo
    with pytest.raises(WeatherError, match="HTTP 400"):
        await client._get_json(weather_settings.forecast_url, {"latitude": 1})
    forecast = await client.forecast(place, DAY)
    assert forecast.place == place
