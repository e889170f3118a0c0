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


class _Guarded:
    """Wraps a Rasa channel's callback in the guard; Rasa's channel does the rest
    (same name, so the same webhook URL)."""

    guard: Dict[Text, Any] = {}

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        """Rasa's options for the channel plus the guard's."""
        credentials = dict(credentials or {})
        name = cls.name()  # type: ignore[attr-defined]
        guard = channel_options(
            {k: credentials.pop(k) for k in _GUARD_OPTIONS if k in credentials}, name, ())
        channel = super().from_credentials(credentials)  # type: ignore[misc]
        channel.guard = guard
        return channel

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """Rasa's blueprint, its messages passed through the guard."""
        options = self.guard or channel_options({}, self.name(), ())  # type: ignore[attr-defined]
        turns = ConversationTurns(max_wait_seconds=options["max_wait_seconds"])
        return super().blueprint(  # type: ignore[misc]
            guarded(on_new_message, turns, options["max_message_length"],
                    options["allow_intent_commands"]))


class GuardedSlackInput(_Guarded, SlackInput):
    """Rasa's Slack channel, guarded (`/webhooks/slack/webhook`)."""


class GuardedTelegramInput(_Guarded, TelegramInput):
    """Rasa's Telegram channel, guarded (`/webhooks/telegram/webhook`)."""
