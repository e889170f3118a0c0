"""What the assistant tells people it can do, listing only the skills turned on."""

from __future__ import annotations

from typing import Dict, List, Text

from bilingual_assistant.text import ZH

_HEADER = {"zh": "我可以：", "en": "I can:"}
_DOCUMENTS = {
    "zh": "- 回答关于公司文档的问题（年假、报销、VPN、密码、办公设施等），并给出来源，"
          "比如“年假有几天?”",
    "en": "- answer questions about the company's documents (leave, expenses, VPN, "
          "passwords, the office...) with their sources, e.g. \"How many days of annual "
          "leave do I get?\"",
}
_WEATHER = {
    "zh": "- 查询城市天气（今天、明天或一周内某天），比如“明天北京天气怎么样”，"
          "接着可以问“那后天呢?”",
    "en": "- check the weather for a city (today, tomorrow or a day this week), e.g. "
          "\"what's the weather in London tomorrow?\", then \"and on Friday?\"",
}
_LANGUAGES = {"zh": "- 用中文或英文和你对话", "en": "- talk with you in English or Chinese"}
_QUESTION = {"zh": "有什么想问的吗？", "en": "What would you like to do?"}
WEATHER_OFF = {
    "zh": "这里没有开启天气查询。你可以问我公司文档里的问题。",
    "en": "Weather lookups are turned off here. You can ask me about the company's "
          "documents.",
}


def help_text(language: Text, weather: bool) -> Text:
    """The list of skills in `language` ("zh", else English)."""
    key = ZH if language == ZH else "en"
    parts: List[Dict[Text, Text]] = [_HEADER, _DOCUMENTS]
    if weather:
        parts.append(_WEATHER)
    parts += [_LANGUAGES, _QUESTION]
    return "\n".join(part[key] for part in parts)


def weather_off_text(language: Text) -> Text:
    """What a weather question gets when the skill is turned off."""
    return WEATHER_OFF[ZH if language == ZH else "en"]
