"""Rasa's REST channel (`POST /webhooks/rest/webhook`), made safe to put in front
of users.

Compared with Rasa's `rest` channel:
- a body that is not a JSON object, a missing or malformed `sender`, a missing or
  over-long `message`, or bad `metadata` gets HTTP 400/413 and a message saying
  what to fix; there is no shared `default` conversation;
- `metadata` is capped in size and only the keys listed in `credentials.yml` are
  kept; the client cannot pick the `input_channel`;
- a message starting with `/` is text, not Rasa's `/intent{"slot": ...}` shortcut
  (`allow_intent_commands: true` brings it back, for trusted clients only);
- one conversation's messages are handled one after another in arrival order; a
  message whose turn does not come within `max_wait_seconds` gets 429 with
  `Retry-After`, and a message Rasa fails on gets 500: never an empty 200;
- replies carry no markup a page could execute.
"""

from __future__ import annotations

import json
import logging
import unicodedata
from asyncio import CancelledError
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.exceptions import InvalidUsage, PayloadTooLarge
from sanic.request import Request
from sanic.response import HTTPResponse

from assistant.text import strip_markup
from assistant.turns import ConversationBusyError, ConversationTurns

logger = logging.getLogger(__name__)

DEFAULT_MAX_MESSAGE_LENGTH = 20_000
DEFAULT_MAX_METADATA_BYTES = 2_048
DEFAULT_MAX_WAIT_SECONDS = 60
MAX_SENDER_LENGTH = 128
EXAMPLE = '{"sender": "user-1", "message": "hello"}'
# Put before a leading "/" so that Rasa's RegexMessageHandler does not read the
# message as `/intent{...}`: invisible, and not whitespace (Rasa strips that).
WORD_JOINER = "\u2060"


def is_printable_id(value: Text) -> bool:
    """No control, format, line or paragraph separator characters (no forged logs)."""
    return all(unicodedata.category(c)[0] != "C" and unicodedata.category(c) not in
               ("Zl", "Zp") for c in value)


class SanitizingCollector(CollectingOutputChannel):
    """Collects the replies with any markup a page could execute removed."""

    async def _persist_message(self, message: Dict[Text, Any]) -> None:
        for key in ("text", "title"):
            if isinstance(message.get(key), str):
                message[key] = strip_markup(message[key])
        for button in message.get("buttons") or []:
            if isinstance(button, dict) and isinstance(button.get("title"), str):
                button["title"] = strip_markup(button["title"])
        await super()._persist_message(message)


class ValidatingRestInput(RestInput):
    """`POST /webhooks/rest/webhook`, Rasa's REST channel made safe (see the module)."""

    def __init__(
        self,
        max_message_length: int = DEFAULT_MAX_MESSAGE_LENGTH,
        max_metadata_bytes: int = DEFAULT_MAX_METADATA_BYTES,
        metadata_keys: Optional[List[Text]] = None,
        allow_intent_commands: bool = False,
        max_wait_seconds: float = DEFAULT_MAX_WAIT_SECONDS,
    ) -> None:
        """See `from_credentials` for what each option means."""
        self.max_message_length = max_message_length
        self.max_metadata_bytes = max_metadata_bytes
        self.metadata_keys = tuple(metadata_keys or ())
        self.allow_intent_commands = allow_intent_commands
        self.turns = ConversationTurns(max_wait_seconds=max_wait_seconds)

    @classmethod
    def name(cls) -> Text:
        """Same name, so the same URL, as Rasa's REST channel."""
        return "rest"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> RestInput:
        """Reads the options from credentials.yml; each is optional.

        `max_message_length` (characters, 20000), `max_metadata_bytes` (2048),
        `metadata_keys` (the metadata keys stored; none by default),
        `allow_intent_commands` (false), `max_wait_seconds` (60).
        """
        options = dict(credentials or {})

        def positive(key: Text, default: float) -> Any:
            value = options.pop(key, default)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ValueError(f"rest: '{key}' must be a positive number, got {value!r}.")
            return value

        length = int(positive("max_message_length", DEFAULT_MAX_MESSAGE_LENGTH))
        metadata_bytes = int(positive("max_metadata_bytes", DEFAULT_MAX_METADATA_BYTES))
        wait = float(positive("max_wait_seconds", DEFAULT_MAX_WAIT_SECONDS))
        keys = options.pop("metadata_keys", None) or []
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise ValueError("rest: 'metadata_keys' must be a list of names.")
        commands = options.pop("allow_intent_commands", False)
        if not isinstance(commands, bool):
            raise ValueError("rest: 'allow_intent_commands' must be true or false.")
        if options:
            raise ValueError(f"rest: unknown option(s) {', '.join(sorted(options))}.")
        return cls(length, metadata_bytes, keys, commands, wait)

    # --- reading a request ----------------------------------------------------------

    @staticmethod
    def _body(request: Request) -> Dict[Text, Any]:
        body = request.json  # Sanic answers 400 itself for text that is not JSON
        if not isinstance(body, dict):
            raise InvalidUsage(f"The request body must be a JSON object such as {EXAMPLE}.")
        return body

    async def _extract_sender(self, req: Request) -> Optional[Text]:
        sender = self._body(req).get("sender")
        if sender is None:
            raise InvalidUsage(
                f'"sender" is required: it names the conversation, as in {EXAMPLE}. Use '
                "one per user: messages with the same sender share a conversation."
            )
        if isinstance(sender, bool) or not isinstance(sender, (str, int)):
            raise InvalidUsage('"sender" must be a string that names the conversation.')
        sender = str(sender)
        if not sender.strip() or len(sender) > MAX_SENDER_LENGTH:
            raise InvalidUsage(f'"sender" must be 1 to {MAX_SENDER_LENGTH} characters long.')
        if not is_printable_id(sender):
            raise InvalidUsage('"sender" must not hold control characters or line breaks.')
        return sender

    def _extract_message(self, req: Request) -> Optional[Text]:
        message = self._body(req).get("message")
        if not isinstance(message, str):
            raise InvalidUsage(f'"message" must be a string, as in {EXAMPLE}.')
        if len(message) > self.max_message_length:
            raise PayloadTooLarge(
                f'"message" has {len(message)} characters; the limit is '
                f"{self.max_message_length}."
            )
        if not self.allow_intent_commands and message.lstrip().startswith("/"):
            return WORD_JOINER + message
        return message

    def _extract_input_channel(self, req: Request) -> Text:
        """Always this channel: clients do not choose how they are treated."""
        return self.name()

    def get_metadata(self, request: Request) -> Optional[Dict[Text, Any]]:
        """The allowed keys of `metadata`, which must be a small JSON object."""
        metadata = self._body(request).get("metadata")
        if metadata is None:
            return None
        if not isinstance(metadata, dict):
            raise InvalidUsage('"metadata" must be a JSON object.')
        size = len(json.dumps(metadata, ensure_ascii=False).encode())
        if size > self.max_metadata_bytes:
            raise PayloadTooLarge(
                f'"metadata" has {size} bytes; the limit is {self.max_metadata_bytes}.'
            )
        kept = {k: v for k, v in metadata.items() if k in self.metadata_keys}
        return kept or None

    # --- the endpoint ---------------------------------------------------------------

    def blueprint(
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> Blueprint:
        """`GET /webhooks/rest/` (health) and `POST /webhooks/rest/webhook`."""
        webhook = Blueprint(f"custom_webhook_{type(self).__name__}", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if request.args.get("stream", "").lower() in ("true", "1"):
                raise InvalidUsage("Streaming is not offered here; use the socket.io channel.")
            sender = await self._extract_sender(request)
            assert sender is not None
            text = self._extract_message(request)
            metadata = self.get_metadata(request)
            collector = SanitizingCollector()
            try:
                async with self.turns.turn(sender):
                    await on_new_message(UserMessage(
                        text, collector, sender, input_channel=self.name(), metadata=metadata
                    ))
            except ConversationBusyError as busy:
                logger.warning("rest.busy", extra={"sender": sender})
                return response.json(
                    {"error": str(busy)}, status=429,
                    headers={"Retry-After": str(busy.retry_after_seconds)},
                )
            except CancelledError:
                logger.error("rest.timeout", extra={"sender": sender})
                return response.json(
                    {"error": "The assistant took too long to answer; try again."},
                    status=503, headers={"Retry-After": "30"},
                )
            except Exception:  # Rasa's processing failed: say so, never answer empty
                logger.exception("rest.failure", extra={"sender": sender})
                return response.json(
                    {"error": "The assistant could not handle this message; try again."},
                    status=500,
                )
            return response.json(collector.messages)

        return webhook
