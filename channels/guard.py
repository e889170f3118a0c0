"""What every user-facing channel checks and cleans, in one place: sender ids,
message text, metadata, and the replies that go back out."""

from __future__ import annotations

import contextlib
import json
import logging
import unicodedata
from typing import Any, AsyncContextManager, Awaitable, Callable, Dict, Optional, Sequence, Text

from rasa.core.channels.channel import UserMessage

from bilingual_assistant.answers.models import ANSWER_KEY
from bilingual_assistant.errors import InputError
from bilingual_assistant.text import strip_markup
from bilingual_assistant.turns import ConversationBusyError, ConversationTurns

logger = logging.getLogger(__name__)

# Put before a leading "/" so that Rasa's RegexMessageHandler does not read the
# message as `/intent{...}`: invisible, and not whitespace (Rasa strips that).
WORD_JOINER = "\u2060"
MAX_SENDER_LENGTH = 128
DEFAULT_MAX_MESSAGE_LENGTH = 20_000
DEFAULT_MAX_METADATA_BYTES = 2_048
DEFAULT_MAX_WAIT_SECONDS = 60


class RejectedInputError(InputError):
    """A request a channel refuses; `status` is the HTTP status it maps to."""

    def __init__(self, message: Text, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def is_printable_id(value: Text) -> bool:
    """No control, format, line or paragraph separator characters (no forged logs)."""
    return all(unicodedata.category(c)[0] != "C" and unicodedata.category(c) not in
               ("Zl", "Zp") for c in value)


def check_sender(sender: Any, example: Text) -> Text:
    """The conversation id, or `RejectedInputError` saying what is wrong with it."""
    if sender is None:
        raise RejectedInputError(
            f'"sender" is required: it names the conversation, as in {example}. Use one '
            "per user: messages with the same sender share a conversation.")
    if isinstance(sender, bool) or not isinstance(sender, (str, int)):
        raise RejectedInputError('"sender" must be a string that names the conversation.')
    sender = str(sender)
    if not sender.strip() or len(sender) > MAX_SENDER_LENGTH:
        raise RejectedInputError(f'"sender" must be 1 to {MAX_SENDER_LENGTH} characters long.')
    if not is_printable_id(sender):
        raise RejectedInputError('"sender" must not hold control characters or line breaks.')
    return sender


def check_text(text: Any, max_length: int, allow_intent_commands: bool, example: Text) -> Text:
    """The message text, a leading `/` made literal unless commands are allowed."""
    if not isinstance(text, str):
        raise RejectedInputError(f'"message" must be a string, as in {example}.')
    if len(text) > max_length:
        raise RejectedInputError(
            f'"message" has {len(text)} characters; the limit is {max_length}.', 413)
    if not allow_intent_commands and text.lstrip().startswith("/"):
        return WORD_JOINER + text
    return text


def check_metadata(metadata: Any, keys: Sequence[Text], max_bytes: int) -> Optional[Dict]:
    """The allowed keys of a small JSON object, or None."""
    if metadata is None:
        return None
    if not isinstance(metadata, dict):
        raise RejectedInputError('"metadata" must be a JSON object.')
    size = len(json.dumps(metadata, ensure_ascii=False).encode())
    if size > max_bytes:
        raise RejectedInputError(f'"metadata" has {size} bytes; the limit is {max_bytes}.', 413)
    kept = {k: v for k, v in metadata.items() if k in keys}
    return kept or None


def clean_reply(message: Dict[Text, Any]) -> Dict[Text, Any]:
    """A reply with any markup a page could execute removed from its texts."""
    for key in ("text", "title"):
        if isinstance(message.get(key), str):
            message[key] = strip_markup(message[key])
    for button in message.get("buttons") or message.get("quick_replies") or []:
        if isinstance(button, dict) and isinstance(button.get("title"), str):
            button["title"] = strip_markup(button["title"])
    answer = message.get(ANSWER_KEY)
    if isinstance(answer, dict):
        clean_reply(answer)
        for source in answer.get("sources") or []:
            if isinstance(source, dict):
                clean_reply(source)
    return message


def channel_options(credentials: Optional[Dict[Text, Any]], channel: Text,
                    known: Sequence[Text]) -> Dict[Text, Any]:
    """The guard's options from a channel's credentials, checked; the rest untouched.

    Returns:
        `max_message_length`, `max_metadata_bytes`, `metadata_keys`,
        `allow_intent_commands` and `max_wait_seconds`, defaults filled in.

    Raises:
        ValueError: naming the channel and the option that is wrong or unknown.
    """
    options = dict(credentials or {})

    def positive(key: Text, default: float) -> Any:
        value = options.pop(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise ValueError(f"{channel}: '{key}' must be a positive number, got {value!r}.")
        return value

    checked = {
        "max_message_length": int(positive("max_message_length", DEFAULT_MAX_MESSAGE_LENGTH)),
        "max_metadata_bytes": int(positive("max_metadata_bytes", DEFAULT_MAX_METADATA_BYTES)),
        "max_wait_seconds": float(positive("max_wait_seconds", DEFAULT_MAX_WAIT_SECONDS)),
    }
    keys = options.pop("metadata_keys", None) or []
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise ValueError(f"{channel}: 'metadata_keys' must be a list of names.")
    commands = options.pop("allow_intent_commands", False)
    if not isinstance(commands, bool):
        raise ValueError(f"{channel}: 'allow_intent_commands' must be true or false.")
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise ValueError(f"{channel}: unknown option(s) {', '.join(unknown)}.")
    return {**checked, "metadata_keys": keys, "allow_intent_commands": commands}


def conversation_turn(request: Any, turns: ConversationTurns,
                      sender: Text) -> AsyncContextManager[None]:
    """The channel's own turn for `sender`, unless Rasa's lock store already serves a
    conversation's messages in arrival order with a bounded wait, across replicas
    (stores/lock_store.py): then none, so the message takes its ticket as it arrives.

    Args:
        request: the Sanic request (its app holds Rasa's agent).
        turns: the channel's in-process turns.
        sender: the conversation id.
    """
    agent = getattr(request.app.ctx, "agent", None)
    if getattr(getattr(agent, "lock_store", None), "serves_in_arrival_order", False):
        return contextlib.nullcontext()
    return turns.turn(sender)


def guarded(
    on_new_message: Callable[[UserMessage], Awaitable[Any]],
    turns: ConversationTurns,
    max_message_length: int,
    allow_intent_commands: bool,
) -> Callable[[UserMessage], Awaitable[Any]]:
    """Wraps the callback Rasa gives a channel so that every message it passes on is
    guarded: a leading `/` is text, an over-long text is cut, and one conversation's
    messages are handled one at a time. For channels whose requests come from a
    platform (Slack, Telegram), which expects its webhook to answer 200 regardless.
    """

    async def on_message(message: UserMessage) -> Any:
        text = message.text or ""
        if len(text) > max_message_length:
            logger.warning("channel.message_cut", extra={"characters": len(text)})
            text = text[:max_message_length]
        if not allow_intent_commands and text.lstrip().startswith("/"):
            text = WORD_JOINER + text
        message.text = text
        try:
            async with turns.turn(message.sender_id or ""):
                return await on_new_message(message)
        except ConversationBusyError:
            logger.warning("channel.busy", extra={"channel": message.input_channel})
            return None

    return on_message
