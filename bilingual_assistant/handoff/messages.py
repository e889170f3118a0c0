"""What people are told about reaching a person, in their language."""

from __future__ import annotations

from typing import Text

from bilingual_assistant.text import ZH

_TEAM = {"zh": "负责的团队", "en": "the team in charge"}
_NOBODY = {
    "zh": "现在没有同事在线接手对话。请联系{contact}。你也可以继续问我文档里的问题。",
    "en": "No colleague is online to take over right now. Please contact {contact}. You "
          "can keep asking me about the documents meanwhile.",
}
_OFFER = {
    "zh": "还是没找到你要的？回复“转人工”可以联系同事。",
    "en": "Still not what you need? Say \"talk to a person\" to reach a colleague.",
}


def nobody_available(language: Text, contact: Text = "") -> Text:
    """No agent can take the conversation: who to contact instead (`HANDOFF_CONTACT`,
    else the team in charge)."""
    key = ZH if language == ZH else "en"
    return _NOBODY[key].format(contact=contact.strip() or _TEAM[key])


def offer(language: Text) -> Text:
    """The offer of a person, after answers that did not help."""
    return _OFFER[ZH if language == ZH else "en"]
