"""Fixed texts of the answer action, in Chinese and English."""

from __future__ import annotations

from typing import Dict, Text

MESSAGES: Dict[Text, Dict[Text, Text]] = {
    "not_found": {
        "zh": "抱歉，我在现有的文档里没有找到这个问题的答案。可以换个说法，或者联系相关部门。",
        "en": "Sorry, I couldn't find the answer to that in the documents I have. "
        "Try rephrasing it, or contact the team in charge.",
    },
    # An answer's sources; the leads of an unsure reply have their own label.
    "sources": {"zh": "来源", "en": "Sources"},
    # No claim: the passages are offered as leads, never as the answer.
    "unsure": {
        "zh": "我没有找到明确的答案。这些段落也许有帮助：",
        "en": "I couldn't find a clear answer. These passages may help:",
    },
    # A message the NLU took for off-topic (or could not place) that nothing in the
    # documents answers: the same words as the domain's utter_out_of_scope.
    "out_of_scope": {
        "zh": "抱歉，这超出了我能帮忙的范围。说“帮助”看看我能做什么。",
        "en": 'Sorry, that\'s outside what I can help with. Say "help" to see what I can do.',
    },
    "extractive_intro": {"zh": "根据文档：", "en": "From the documents:"},
    "unavailable": {
        "zh": "抱歉，知识库暂时无法使用，请稍后再试。",
        "en": "Sorry, the knowledge base is unavailable right now. Please try again later.",
    },
    "too_long": {
        "zh": "这条消息太长了，我没法直接查找。请用一两句话说出你的问题。",
        "en": "That message is too long for me to look up. Please ask your question in "
        "a sentence or two.",
    },
    "only_links": {
        "zh": "我不会打开链接。请直接告诉我你想了解什么。",
        "en": "I don't open links. Please tell me in words what you would like to know.",
    },
    "only_code": {
        "zh": "这看起来是代码，我不会运行代码。请用文字描述你的问题。",
        "en": "That looks like code, and I don't run code. Please describe your question "
        "in words.",
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
