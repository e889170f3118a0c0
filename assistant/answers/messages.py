"""Fixed texts of the answer action, in Chinese and English."""

from __future__ import annotations

from typing import Dict, Text

MESSAGES: Dict[Text, Dict[Text, Text]] = {
    "not_found": {
        "zh": "抱歉，我在现有的文档里没有找到这个问题的答案。可以换个说法，或者联系相关部门。",
        "en": "Sorry, I couldn't find the answer to that in the documents I have. "
        "Try rephrasing it, or contact the team in charge.",
    },
    "sources": {"zh": "来源", "en": "Sources"},
    "extractive_intro": {"zh": "根据文档：", "en": "From the documents:"},
    "unavailable": {
        "zh": "抱歉，知识库暂时无法使用，请稍后再试。",
        "en": "Sorry, the knowledge base is unavailable right now. Please try again later.",
    },
    "empty": {
        "zh": "请问您想了解什么？",
        "en": "What would you like to know?",
    },
}


def message(key: Text, language: Text) -> Text:
    """The text for `key` in `language` (English if unknown)."""
    texts = MESSAGES[key]
    return texts.get(language, texts["en"])
