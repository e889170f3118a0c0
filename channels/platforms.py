"""Rasa's Slack and Telegram channels with the guard every user channel has: a
leading `/` is text (Rasa's `/intent{...}` shortcut would let any user of the
workspace or bot set intents and slots), over-long texts are cut, and one
conversation's messages are handled one at a time.

    channels.platforms.GuardedSlackInput:      # credentials.yml, with Rasa's own
      slack_token: ${SLACK_BOT_TOKEN}           # options and optionally
      allow_intent_commands: false              # max_message_length, max_wait_seconds
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.core.channels.slack import SlackInput
from rasa.core.channels.telegram import TelegramInput
from sanic import Blueprint

from assistant.turns import ConversationTurns
from channels.guard import channel_options, guarded

_GUARD_OPTIONS = ("max_message_length", "max_metadata_bytes", "metadata_keys",
                  "allow_intent_commands", "max_wait_seconds")


def _split(credentials: Optional[Dict[Text, Any]], channel: Text) -> Any:
    """(the guard's options, Rasa's own credentials)."""
    credentials = dict(credentials or {})
    ours = {k: credentials.pop(k) for k in _GUARD_OPTIONS if k in credentials}
    return channel_options(ours, channel, ()), credentials


class GuardedSlackInput(SlackInput):
    """Rasa's Slack channel, guarded (same URL: `/webhooks/slack/webhook`)."""

    guard: Dict[Text, Any] = {}

    @classmethod
    def name(cls) -> Text:
        """Rasa's name for the channel, so the same webhook URL."""
        return "slack"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        """Rasa's Slack options plus the guard's."""
        guard, rasa_credentials = _split(credentials, "slack")
        channel = super().from_credentials(rasa_credentials)
        channel.guard = guard
        return channel

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """Rasa's blueprint, its messages passed through the guard."""
        options = self.guard or channel_options({}, "slack", ())
        turns = ConversationTurns(max_wait_seconds=options["max_wait_seconds"])
        return super().blueprint(guarded(on_new_message, turns, options["max_message_length"],
                                         options["allow_intent_commands"]))


class GuardedTelegramInput(TelegramInput):
    """Rasa's Telegram channel, guarded (same URL: `/webhooks/telegram/webhook`)."""

    guard: Dict[Text, Any] = {}

    @classmethod
    def name(cls) -> Text:
        """Rasa's name for the channel, so the same webhook URL."""
        return "telegram"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        """Rasa's Telegram options plus the guard's."""
        guard, rasa_credentials = _split(credentials, "telegram")
        channel = super().from_credentials(rasa_credentials)
        channel.guard = guard
        return channel

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """Rasa's blueprint, its messages passed through the guard."""
        options = self.guard or channel_options({}, "telegram", ())
        turns = ConversationTurns(max_wait_seconds=options["max_wait_seconds"])
        return super().blueprint(guarded(on_new_message, turns, options["max_message_length"],
                                         options["allow_intent_commands"]))
