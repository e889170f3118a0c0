"""The weather actions' messages in Chinese and English."""

from __future__ import annotations

from typing import Any, Dict, Text

_MESSAGES: Dict[Text, Dict[Text, Text]] = {
    "ask_city": {
        "zh": "你想查询哪个城市的天气？",
        "en": "Which city would you like the weather for?",
    },
    "city_not_found": {
        "zh": "抱歉，我找不到名为“{city}”的城市。请换一个城市名试试。",
        "en": 'Sorry, I couldn\'t find a city called "{city}". '
        "Please try another city name.",
    },
    "report": {
        "zh": "{city}{day}：{description}，气温 {temp_min}°C 到 {temp_max}°C{rain}。",
        "en": "{city}, {day}: {description}, {temp_min}°C to {temp_max}°C{rain}.",
    },
    "rain": {"zh": "，降水概率 {chance}%", "en": ", {chance}% chance of rain"},
    "unavailable": {
        "zh": "抱歉，天气服务暂时无法使用，请稍后再试。",
        "en": "Sorry, the weather service is unavailable right now. "
        "Please try again later.",
    },
    "date_not_understood": {
        "zh": "抱歉，我不明白“{date}”是哪一天。可以说今天、明天或星期几。",
        "en": 'Sorry, I don\'t know which day "{date}" is. '
        "Try today, tomorrow or a weekday.",
    },
    "date_out_of_range": {
        "zh": "抱歉，我只能查询今天起 {days} 天内的天气。",
        "en": "Sorry, I can only look up the weather for the next {days} days.",
    },
}


def message(key: Text, language: Text, **variables: Any) -> Text:
    """The message `key` in `language` ("zh", else English), filled in.

    Args:
        key: one of the message keys above.
        language: "zh" or "en".
        **variables: the placeholders of the message.

    Returns:
        The text to send.
    """
    texts = _MESSAGES[key]
    return texts.get(language, texts["en"]).format(**variables)
