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
_TICKET = {
    "zh": "现在没有同事在线接手对话。我已把你的问题转给{contact}（编号 {ticket}），"
          "他们会联系你。你也可以继续问我文档里的问题。",
    "en": "No colleague is online to take over right now. I've passed your question to "
          "{contact} (ticket {ticket}); they will get back to you. You can keep asking "
          "me about the documents meanwhile.",
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


def ticket_created(language: Text, ticket: Text, contact: Text = "") -> Text:
    """A ticket went to the helpdesk: its number, and who will get back to them."""
    key = ZH if language == ZH else "en"
    return _TICKET[key].format(contact=contact.strip() or _TEAM[key], ticket=ticket)


def offer(language: Text) -> Text:
    """The offer of a person, after answers that did not help."""
    return _OFFER[ZH if language == ZH else "en"]
