"""WMO weather interpretation codes (as Open-Meteo returns them) in zh and en."""

from __future__ import annotations

from typing import Dict, Text, Tuple

_CODES: Dict[int, Tuple[Text, Text]] = {
    0: ("clear sky", "晴"),
    1: ("mainly clear", "晴间少云"),
    2: ("partly cloudy", "多云"),
    3: ("overcast", "阴"),
    45: ("fog", "雾"),
    48: ("freezing fog", "冻雾"),
    51: ("light drizzle", "小毛毛雨"),
    53: ("drizzle", "毛毛雨"),
    55: ("heavy drizzle", "大毛毛雨"),
    56: ("freezing drizzle", "冻毛毛雨"),
    57: ("heavy freezing drizzle", "强冻毛毛雨"),
    61: ("light rain", "小雨"),
    63: ("rain", "中雨"),
    65: ("heavy rain", "大雨"),
    66: ("freezing rain", "冻雨"),
    67: ("heavy freezing rain", "强冻雨"),
    71: ("light snow", "小雪"),
    73: ("snow", "中雪"),
    75: ("heavy snow", "大雪"),
    77: ("snow grains", "米雪"),
    80: ("light showers", "小阵雨"),
    81: ("showers", "阵雨"),
    82: ("violent showers", "强阵雨"),
    85: ("snow showers", "阵雪"),
    86: ("heavy snow showers", "强阵雪"),
    95: ("thunderstorms", "雷阵雨"),
    96: ("thunderstorms with hail", "雷阵雨伴有冰雹"),
    99: ("thunderstorms with heavy hail", "雷阵雨伴有强冰雹"),
}


def describe(code: int, language: Text) -> Text:
    """A short description of a WMO weather code in `zh` or `en`."""
    en, zh = _CODES.get(code, ("unknown conditions", "天气状况未知"))
    return zh if language == "zh" else en
