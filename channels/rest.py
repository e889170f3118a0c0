"""Rasa's REST channel (`POST /webhooks/rest/webhook`), made safe to put in front
of users.

Compared with Rasa's `rest` channel:
- a body that is not a JSON object, a missing or malformed `sender`, a missing or
  over-long `message`, or bad `metadata` gets HTTP 400/413 and a message saying
  what to fix; there is no shared `default` conversation;
- `metadata` is capped in size and only the keys listed in `credentials.yml` are
  kept; the client cannot pick the `input_channel`;
- with `REST_CHANNEL_SECRET` set, the conversation comes from a signed token
  (`Authorization: Bearer`, `bilingual_assistant/access/sender_tokens.py`), never
  from the body; without it, the body's `sender` is taken, and the channel refuses
  to start when Rasa listens on an address other than loopback;
- which documents the asker may read travels in the message's metadata
  (`reader`, `knowledge/access.py`) for the action server: from the signed token;
  unsigned (loopback only), from the body's `metadata.reader` that a front end on
  this machine sends, else everything (the machine's own user, `rasa shell`);
- a message starting with `/` is text, not Rasa's `/intent{"slot": ...}` shortcut
  (`allow_intent_commands: true` brings it back, for trusted clients only);
- one conversation's messages are handled one after another in arrival order; a
  message whose turn does not come in time gets 429 with `Retry-After` (the
  project's lock store queues them, across replicas, for `LOCK_WAIT_SECONDS`; with
  another lock store the channel queues them itself for `max_wait_seconds`), a
  lock store out of reach gets 503, and a message Rasa fails on gets 500: never an
  empty 200;
- replies carry no markup a page could execute; a knowledge answer's reply carries
  the answer as data (`answer`: its text and numbered sources) beside its text.
"""

from __future__ import annotations

import logging
from asyncio import CancelledError
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from rasa.core.lock_store import LockError
from sanic import Blueprint, response
from sanic.exceptions import InvalidUsage, PayloadTooLarge
from sanic.request import Request
from sanic.response import HTTPResponse

from bilingual_assistant.access.sender_tokens import SenderTokens, SignedSender
from bilingual_assistant.answers.models import ANSWER_KEY
from bilingual_assistant.config import RasaServerSettings, load
from bilingual_assistant.errors import AuthenticationError, ConfigurationError
from bilingual_assistant.knowledge.access import EVERYTHING, READER_KEY, Reader
from bilingual_assistant.turns import ConversationBusyError, ConversationTurns
from channels.guard import (
    DEFAULT_MAX_MESSAGE_LENGTH,
    DEFAULT_MAX_METADATA_BYTES,
    DEFAULT_MAX_WAIT_SECONDS,
    RejectedInputError,
    channel_options,
    check_metadata,
    check_sender,
    check_text,
    clean_reply,
    conversation_turn,
)

logger = logging.getLogger(__name__)

EXAMPLE = '{"sender": "user-1", "message": "hello"}'
LOOPBACK = ("127.0.0.1", "localhost", "::1")




class SanitizingCollector(CollectingOutputChannel):
    """Collects the replies with any markup a page could execute removed; a
    knowledge answer's reply carries the answer (text and sources) as data."""

    async def _persist_message(self, message: Dict[Text, Any]) -> None:
        await super()._persist_message(clean_reply(message))

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        """A knowledge answer is one message with `answer` beside its text; other
        texts as Rasa collects them (one message per paragraph)."""
        answer = kwargs.get(ANSWER_KEY)
        if isinstance(answer, dict):
            await self._persist_message(
                {"recipient_id": recipient_id, "text": text, ANSWER_KEY: answer})
            return
        await super().send_text_message(recipient_id, text, **kwargs)


def _http_error(error: RejectedInputError) -> Exception:
    return PayloadTooLarge(str(error)) if error.status == 413 else InvalidUsage(str(error))


class ValidatingRestInput(RestInput):
    """`POST /webhooks/rest/webhook`, Rasa's REST channel made safe (see the module)."""

    def __init__(
        self,
        max_message_length: int = DEFAULT_MAX_MESSAGE_LENGTH,
        max_metadata_bytes: int = DEFAULT_MAX_METADATA_BYTES,
        metadata_keys: Optional[List[Text]] = None,
        allow_intent_commands: bool = False,
        max_wait_seconds: float = DEFAULT_MAX_WAIT_SECONDS,
        sender_tokens: Optional[SenderTokens] = None,
    ) -> None:
        """See `from_credentials` for what each option means; `sender_tokens`: when
        given, the conversation comes from a signed token only."""
        self.sender_tokens = sender_tokens
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
        `allow_intent_commands` (false), `max_wait_seconds` (60). The sender's
        signature comes from `REST_CHANNEL_SECRET`.

        Raises:
            ConfigurationError: without `REST_CHANNEL_SECRET` on an address other
                than loopback, or with one shorter than 32 characters.
        """
        server = load(RasaServerSettings)
        tokens = None
        if server.rest_channel_secret.strip():
            tokens = SenderTokens(server.rest_channel_secret)
        elif server.host not in LOOPBACK:
            raise ConfigurationError(
                f"Rasa listens on {server.host}, and the REST channel would take the "
                f"conversation id from the request body: anyone who reaches it could write "
                f"into anyone's conversation. Set REST_CHANNEL_SECRET (at least 32 "
                f"characters, the same for Rasa and the API; `make secrets` makes one), or "
                f"listen on 127.0.0.1.")
        else:
            logger.warning("rest.unsigned_senders_on_loopback", extra={"host": server.host})
        return cls(**channel_options(credentials, "rest", known=()), sender_tokens=tokens)

    # --- reading a request ----------------------------------------------------------

    @staticmethod
    def _body(request: Request) -> Dict[Text, Any]:
        body = request.json  # Sanic answers 400 itself for text that is not JSON
        if not isinstance(body, dict):
            raise InvalidUsage(f"The request body must be a JSON object such as {EXAMPLE}.")
        return body

    async def _extract_sender(self, req: Request) -> Optional[Text]:
        """The conversation (see `_who`)."""
        return self._who(req).sender

    def _who(self, req: Request) -> SignedSender:
        """The conversation and who asks: the token's when senders are signed (a
        body `sender` must then be absent or the same); the body's otherwise, and
        the reader its front end names, else everything."""
        body = self._body(req)
        if self.sender_tokens is not None:
            scheme, _, token = (req.headers.get("authorization") or "").partition(" ")
            signed = self.sender_tokens.check(token.strip() if scheme.lower() == "bearer"
                                              else "")
            if body.get("sender") not in (None, signed.sender):
                raise AuthenticationError(
                    "The body's `sender` is not the conversation the token is for; leave "
                    "it out.")
            return signed
        if req.host.rsplit(":", 1)[0].strip("[]") not in LOOPBACK:
            # A page from another site, renamed to this machine (DNS rebinding).
            raise AuthenticationError(
                "Unsigned senders are taken only from 127.0.0.1/localhost; set "
                "REST_CHANNEL_SECRET to take signed ones from elsewhere.")
        try:
            sender = check_sender(body.get("sender"), EXAMPLE)
        except RejectedInputError as error:
            raise _http_error(error) from None
        metadata = body.get("metadata")
        named = Reader.from_metadata(metadata) if isinstance(metadata, dict) else None
        return SignedSender(sender, named or EVERYTHING)

    def _extract_message(self, req: Request) -> Optional[Text]:
        try:
            return check_text(self._body(req).get("message"), self.max_message_length,
                              self.allow_intent_commands, EXAMPLE)
        except RejectedInputError as error:
            raise _http_error(error) from None

    def _extract_input_channel(self, req: Request) -> Text:
        """Always this channel: clients do not choose how they are treated."""
        return self.name()

    def get_metadata(self, request: Request) -> Optional[Dict[Text, Any]]:
        """The allowed keys of `metadata`, which must be a small JSON object."""
        try:
            return check_metadata(self._body(request).get("metadata"), self.metadata_keys,
                                  self.max_metadata_bytes)
        except RejectedInputError as error:
            raise _http_error(error) from None

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
            try:
                who = self._who(request)
            except AuthenticationError as refused:
                return response.json({"error": str(refused)}, status=401,
                                     headers={"WWW-Authenticate": "Bearer"})
            sender = who.sender
            text = self._extract_message(request)
            metadata = {**(self.get_metadata(request) or {}),
                        READER_KEY: who.reader.to_metadata()}
            collector = SanitizingCollector()
            try:
                async with conversation_turn(request, self.turns, sender):
                    await on_new_message(UserMessage(
                        text, collector, sender, input_channel=self.name(), metadata=metadata
                    ))
            except (ConversationBusyError, LockError) as busy:
                retry_after = getattr(busy, "retry_after_seconds", None)
                logger.warning("rest.busy", extra={"sender": sender, "error": str(busy)})
                return response.json(
                    {"error": str(busy) if retry_after else
                     "The assistant cannot take messages right now; try again shortly."},
                    status=429 if retry_after else 503,
                    headers={"Retry-After": str(retry_after or 30)},
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
