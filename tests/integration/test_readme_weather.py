"""The README's weather example, asked through Rasa's REST channel as it shows it: the
reply has the README's shape (the figures are the day's forecast, here from the
local Open-Meteo stand-in)."""

from pathlib import Path

import pytest

from tests.integration.test_conversations import REPORT_ZH

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
QUESTION = "明天帝都会下雨吗"


def test_the_readmes_weather_example_has_the_shape_it_shows(servers):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    [shown] = [line.split("→", 1)[1].strip() for line in readme.splitlines()
               if line.startswith(QUESTION)]
    assert REPORT_ZH.match(shown) and shown.startswith("北京明天："), shown
    [reply] = servers.say("readme-weather", QUESTION)
    assert REPORT_ZH.match(reply) and reply.startswith("北京明天："), reply
