"""Rasa's socket.io channel, made to deliver its replies and to keep each session
with the client that started it.

Compared with Rasa 3.6.21's `socketio` channel:
- replies reach the client with `session_persistence: true`: Rasa calls
  python-socketio 5's `enter_room` without awaiting it, so the client never joins
  its room and no `bot_uttered` arrives (RasaHQ/rasa#13027);
- a session belongs to the client that started it: `session_confirm` carries a
  `session_token` (an HMAC of the session id), and a `session_request` resumes a
  session only with its token; messages always go to the sending client's own
  session, whatever `session_id` they claim;
- with `REST_CHANNEL_SECRET` set, a client connects only with a token the API
  issued (`auth: {token}`, `POST /v1/chat/token`), and its session is the token's
  conversation; without it, sessions are anonymous and the channel refuses to start
  on an address other than loopback, as the REST channel does;
- browsers may connect only from the origins listed in `cors_allowed_origins`
  (none but the server's own by default; Rasa's channel accepted any);
- the REST channel's checks (`channels/guard.py`): message length, `/intent` as
  text, metadata allow-list, one turn at a time per conversation, no markup in
  replies; and a `custom` payload is sent as data instead of crashing the emit;
- a knowledge answer's reply carries the answer as data (`answer`: text and
  sources) next to its display text;
- it serves a small web chat page at `/webhooks/socketio/chat/` (`web_chat: false`
  turns it off): the page is on Rasa's own origin, so no origin needs allowing.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import uuid
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text

from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.core.channels.socketio import SocketBlueprint, SocketIOInput, SocketIOOutput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from socketio import AsyncServer
from socketio.exceptions import ConnectionRefusedError as RefusedConnection

from bilingual_assistant.access.sender_tokens import SenderTokens, SignedSender
from bilingual_assistant.answers.models import ANSWER_KEY
from bilingual_assistant.config import RasaServerSettings, load
from bilingual_assistant.errors import AuthenticationError, ConfigurationError
from bilingual_assistant.knowledge.access import EVERYONE, READER_KEY
from bilingual_assistant.turns import ConversationBusyError, ConversationTurns
from channels.guard import (
    RejectedInputError,
    channel_options,
    check_metadata,
    check_text,
    clean_reply,
)

logger = logging.getLogger(__name__)

EXAMPLE = '{"message": "hello", "session_id": "<from session_confirm>"}'
RASA_OPTIONS = ("user_message_evt", "bot_message_evt", "namespace", "session_persistence",
                "socketio_path", "jwt_key", "jwt_method", "metadata_key",
                "cors_allowed_origins", "web_chat")
# The web chat page's files, served as they are (nothing else from the folder).
WEB_CHAT = Path(__file__).parent / "webchat"
WEB_CHAT_FILES = {"index.html": "text/html; charset=utf-8",
                  "chat.js": "application/javascript; charset=utf-8",
                  "socket.io.min.js": "application/javascript; charset=utf-8"}
# The page runs only its own scripts and talks only to its own origin.
WEB_CHAT_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; "
                               "connect-src 'self' ws: wss:; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class SafeSocketIOOutput(SocketIOOutput):
    """Sends replies without markup; a custom payload goes as data."""

    async def _send_message(self, socket_id: Text, response: Any) -> None:
        if isinstance(response, dict):
            response = clean_reply(response)
        await super()._send_message(socket_id, response)

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        """A knowledge answer goes as one message with its answer as data; other
        texts as Rasa sends them (one message per paragraph)."""
        answer = kwargs.get(ANSWER_KEY)
        if isinstance(answer, dict):
            await self._send_message(recipient_id, {"text": text, ANSWER_KEY: answer})
            return
        await super().send_text_message(recipient_id, text, **kwargs)

    async def send_custom_json(
        self, recipient_id: Text, json_message: Dict[Text, Any], **kwargs: Any
    ) -> None:
        """`{"custom": ...}` to the recipient (Rasa passes the payload's keys to
        `emit` as arguments, which fails for any payload but its own)."""
        await self.sio.emit(self.bot_message_evt, {"custom": json_message}, room=recipient_id)


def chat_file(name: Text) -> HTTPResponse:
    """One of the web chat's files, with headers that keep the page to itself."""
    return response.raw((WEB_CHAT / name).read_bytes(), content_type=WEB_CHAT_FILES[name],
                        headers=WEB_CHAT_HEADERS)


class SecureSocketIOInput(SocketIOInput):
    """Rasa's socket.io channel with delivery, session ownership and the guard."""

    def __init__(
        self,
        *args: Any,
        cors_allowed_origins: Optional[List[Text]] = None,
        session_secret: Text = "",
        web_chat: bool = True,
        guard: Optional[Dict[Text, Any]] = None,
        sender_tokens: Optional[SenderTokens] = None,
        **kwargs: Any,
    ) -> None:
        """Rasa's options, plus the allowed origins, the secret that signs session
        tokens (a random one when empty: sessions then end with the process) and
        the guard's options (see `channels.guard.channel_options`)."""
        super().__init__(*args, **kwargs)
        self.cors_allowed_origins = list(cors_allowed_origins or [])
        self.web_chat = web_chat
        self._secret = (session_secret or secrets.token_hex(32)).encode()
        options = guard or channel_options({}, "socketio", ())
        self.max_message_length = options["max_message_length"]
        self.max_metadata_bytes = options["max_metadata_bytes"]
        self.metadata_keys = tuple(options["metadata_keys"])
        self.allow_intent_commands = options["allow_intent_commands"]
        self.turns = ConversationTurns(max_wait_seconds=options["max_wait_seconds"])
        self._sessions: Dict[Text, Text] = {}  # socket id -> its session id
        self.sender_tokens = sender_tokens
        # socket id -> its token's conversation and reader
        self._signed: Dict[Text, SignedSender] = {}

    @classmethod
    def name(cls) -> Text:
        """Same name, so the same URL, as Rasa's socket.io channel."""
        return "socketio"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        """Rasa's options, `cors_allowed_origins` (a list) and the guard's options."""
        credentials = dict(credentials or {})
        guard = channel_options(credentials, "socketio", RASA_OPTIONS)
        origins = credentials.get("cors_allowed_origins") or []
        if not isinstance(origins, list) or not all(isinstance(o, str) for o in origins):
            raise ValueError("socketio: 'cors_allowed_origins' must be a list of origins.")
        server = load(RasaServerSettings)
        tokens = None
        if server.rest_channel_secret.strip():
            tokens = SenderTokens(server.rest_channel_secret)
        elif server.host not in ("127.0.0.1", "localhost", "::1"):
            raise ConfigurationError(
                f"Rasa listens on {server.host}, and the socket.io channel would open "
                f"anonymous sessions for anyone who reaches it. Set REST_CHANNEL_SECRET "
                f"(clients then connect with a token from the API's POST /v1/chat/token), "
                f"or listen on 127.0.0.1.")
        return cls(
            credentials.get("user_message_evt", "user_uttered"),
            credentials.get("bot_message_evt", "bot_uttered"),
            credentials.get("namespace"),
            credentials.get("session_persistence", False),
            credentials.get("socketio_path", "/socket.io"),
            credentials.get("jwt_key"),
            credentials.get("jwt_method", "HS256"),
            credentials.get("metadata_key", "metadata"),
            cors_allowed_origins=origins,
            session_secret=load(RasaServerSettings).session_secret,
            web_chat=bool(credentials.get("web_chat", True)),
            guard=guard,
            sender_tokens=tokens,
        )

    def session_token(self, session_id: Text) -> Text:
        """The token that lets a client resume `session_id`."""
        return hmac.new(self._secret, session_id.encode(), hashlib.sha256).hexdigest()

    def owns(self, session_id: Any, token: Any) -> bool:
        """Whether `token` was issued for `session_id`."""
        return (isinstance(session_id, str) and isinstance(token, str)
                and hmac.compare_digest(self.session_token(session_id), token))

    def get_output_channel(self) -> Optional[SocketIOOutput]:
        """The output channel for messages Rasa sends on its own (reminders)."""
        return None if self.sio is None else SafeSocketIOOutput(self.sio, self.bot_message_evt)

    def blueprint(
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> Blueprint:
        """The socket.io endpoint (see the module for what differs from Rasa's)."""
        # python-socketio: None allows the server's own origin only; Rasa passed []
        # ("no CORS handling"), which lets every web page connect.
        sio = AsyncServer(async_mode="sanic",
                          cors_allowed_origins=self.cors_allowed_origins or None)
        webhook = SocketBlueprint(sio, self.socketio_path, "socketio_webhook", __name__)
        self.sio = sio

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        if self.web_chat:

            @webhook.route("/chat/", methods=["GET"])
            async def chat_index(request: Request) -> HTTPResponse:
                if not request.path.endswith("/"):  # the page's files are relative to it
                    return response.redirect(request.path + "/")
                return chat_file("index.html")

            @webhook.route("/chat/<name>", methods=["GET"])
            async def chat_asset(request: Request, name: Text) -> HTTPResponse:
                if not name:  # Sanic routes "/chat/" here too
                    return await chat_index(request)
                if name not in WEB_CHAT_FILES:
                    return response.json({"error": "Not found"}, status=404)
                return chat_file(name)

        @sio.on("connect", namespace=self.namespace)
        async def connect(sid: Text, environ: Dict, auth: Optional[Dict]) -> bool:
            if self.sender_tokens is not None:
                token = (auth if isinstance(auth, dict) else {}).get("token")
                try:
                    self._signed[sid] = self.sender_tokens.check(
                        token if isinstance(token, str) else "")
                except AuthenticationError as refused:
                    logger.info("socketio.unsigned_refused", extra={"sid": sid})
                    raise RefusedConnection(str(refused)) from None
                return True
            if not self.jwt_key:
                return True
            import rasa.core.channels.channel

            token = (auth or {}).get("token")
            return bool(token and rasa.core.channels.channel.decode_bearer_token(
                token, self.jwt_key, self.jwt_algorithm))

        @sio.on("disconnect", namespace=self.namespace)
        async def disconnect(sid: Text) -> None:
            self._sessions.pop(sid, None)
            self._signed.pop(sid, None)

        @sio.on("session_request", namespace=self.namespace)
        async def session_request(sid: Text, data: Optional[Dict]) -> None:
            data = data if isinstance(data, dict) else {}
            claimed = data.get("session_id")
            if sid in self._signed:  # the token's conversation, whatever is claimed
                session_id = self._signed[sid].sender
            elif self.owns(claimed, data.get("session_token")):
                session_id = str(claimed)
            else:
                if claimed:
                    logger.info("socketio.session_not_resumed", extra={"sid": sid})
                session_id = uuid.uuid4().hex
            previous = self._sessions.get(sid)
            if previous and previous != session_id:
                await sio.leave_room(sid, previous, namespace=self.namespace)
            self._sessions[sid] = session_id
            if self.session_persistence:
                await sio.enter_room(sid, session_id, namespace=self.namespace)
            await sio.emit("session_confirm", {
                "session_id": session_id, "session_token": self.session_token(session_id),
            }, room=sid, namespace=self.namespace)

        async def refuse(sid: Text, message: Text, **extra: Any) -> None:
            await sio.emit("error", {"error": message, **extra}, room=sid,
                           namespace=self.namespace)

        @sio.on(self.user_message_evt, namespace=self.namespace)
        async def handle_message(sid: Text, data: Any) -> None:
            data = data if isinstance(data, dict) else {}
            signed = self._signed.get(sid)
            # Unsigned, any page the browser has open may have connected (sockets
            # know no same-origin rule): the documents that name no groups only.
            reader = signed.reader if signed is not None else EVERYONE
            sender: Optional[Text] = signed.sender if signed is not None else None
            if sender is not None:
                pass  # the token's conversation, whatever the message claims
            elif self.session_persistence:
                sender = self._sessions.get(sid)
                if sender is None:
                    await refuse(sid, "Send session_request first; its session_confirm "
                                      "names your session.")
                    return
                claimed = data.get("session_id")
                if claimed and claimed != sender:
                    logger.warning("socketio.foreign_session", extra={"sid": sid})
                    await refuse(sid, "This session belongs to another client.")
                    return
            else:
                sender = sid
            try:
                text = check_text(data.get("message"), self.max_message_length,
                                  self.allow_intent_commands, EXAMPLE)
                metadata = check_metadata(data.get(self.metadata_key), self.metadata_keys,
                                          self.max_metadata_bytes)
            except RejectedInputError as error:
                await refuse(sid, str(error))
                return
            metadata = {**(metadata or {}), READER_KEY: reader.to_metadata()}
            output = SafeSocketIOOutput(sio, self.bot_message_evt)
            try:
                async with self.turns.turn(sender):
                    await on_new_message(UserMessage(
                        text, output, sender, input_channel=self.name(), metadata=metadata))
            except ConversationBusyError as busy:
                await refuse(sid, str(busy), retry_after=busy.retry_after_seconds)

        return webhook
