"""WeCom (企业微信) for a company's self-built application: the callback URL
(`/webhooks/wecom/webhook`) is verified with `echostr`, every callback's
`msg_signature` is checked and its message decrypted, the callback is acknowledged
at once (WeCom waits 5 s, then sends it again), and the answer is sent through the
message API with a cached access token.

    channels.wecom.WeComChannel:               # credentials.yml
      corp_id: ${WECOM_CORP_ID}
      agent_id: ${WECOM_AGENT_ID}
      secret: ${WECOM_SECRET}
      token: ${WECOM_TOKEN}
      encoding_aes_key: ${WECOM_ENCODING_AES_KEY}
"""

from __future__ import annotations

import asyncio
import html
import logging
import time
import xml.etree.ElementTree as ElementTree
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bilingual_assistant.answers.models import AnswerPayload
from bilingual_assistant.config import ChannelSettings, load
from bilingual_assistant.errors import ConfigurationError
from channels.guard import channel_options, is_printable_id
from channels.platform import (
    ApiSession,
    BackgroundTurns,
    PlatformChannel,
    PlatformError,
    PlatformOutput,
    required,
    seen_ids,
    source_url,
    sources_label,
    split_text,
    utf8_size,
)
from channels.wecom_crypto import CallbackError, WeComCrypto

logger = logging.getLogger(__name__)

MAX_TEXT_BYTES = 2_000  # WeCom's text messages hold 2,048 bytes
MAX_CALLBACK_BYTES = 64 * 1024
TOKEN_MARGIN_SECONDS = 300  # refresh the access token this long before it expires
# Errors that mean the access token is no longer good: fetch a new one, call again.
TOKEN_ERRORS = (40001, 40014, 42001)
OPTIONS = ("corp_id", "agent_id", "secret", "token", "encoding_aes_key", "api_url",
           "source_base_url")


def parse_xml(body: bytes) -> Dict[Text, Text]:
    """A flat WeCom XML document as a dict; documents with a DOCTYPE or entities
    (entity expansion attacks) are refused."""
    if b"<!DOCTYPE" in body.upper() or b"<!ENTITY" in body.upper():
        raise CallbackError("XML with a DOCTYPE is not accepted")
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError as error:
        raise CallbackError(f"the body is not XML: {error}") from None
    return {child.tag: (child.text or "") for child in root}


class WeComApi:
    """The API calls the channel makes (`gettoken`, `message/send`)."""

    def __init__(self, corp_id: Text, secret: Text, agent_id: int, base_url: Text,
                 http: Optional[ApiSession] = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.corp_id, self.secret, self.agent_id = corp_id, secret, agent_id
        self.base_url = base_url.rstrip("/")
        self.http = http or ApiSession()
        self.clock = clock
        self._token, self._expires = "", 0.0
        self._lock = asyncio.Lock()

    async def _get(self, path: Text, params: Dict[Text, Any]) -> Dict[Text, Any]:
        try:
            async with self.http.session.get(f"{self.base_url}{path}", params=params) as reply:
                return await reply.json(content_type=None)
        except Exception as error:  # the URL holds the secret: never in a message
            raise PlatformError(f"WeCom {path} failed: {type(error).__name__}") from None

    async def access_token(self, refresh: bool = False) -> Text:
        """The cached access token, fetched when missing, near its end or refused."""
        async with self._lock:
            if refresh or not self._token or self.clock() >= self._expires:
                data = await self._get("/cgi-bin/gettoken",
                                       {"corpid": self.corp_id, "corpsecret": self.secret})
                if data.get("errcode", 0) != 0 or not data.get("access_token"):
                    raise PlatformError(
                        f"WeCom gettoken answered {data.get('errcode')} {data.get('errmsg')}; "
                        "check WECOM_CORP_ID and WECOM_SECRET.")
                self._token = data["access_token"]
                lifetime = float(data.get("expires_in", 7200))
                self._expires = self.clock() + max(lifetime - TOKEN_MARGIN_SECONDS, 60.0)
            return self._token

    async def send_text(self, user: Text, content: Text) -> None:
        """`message/send` of a text to one user; a refused token is renewed once."""
        payload = {"touser": user, "msgtype": "text", "agentid": self.agent_id,
                   "text": {"content": content}, "safe": 0}
        for attempt in (1, 2):
            token = await self.access_token(refresh=attempt == 2)
            try:
                async with self.http.session.post(
                    f"{self.base_url}/cgi-bin/message/send", params={"access_token": token},
                    json=payload,
                ) as reply:
                    data = await reply.json(content_type=None)
            except Exception as error:
                raise PlatformError(f"WeCom message/send failed: "
                                    f"{type(error).__name__}") from None
            code = data.get("errcode", -1) if isinstance(data, dict) else -1
            if code == 0:
                return
            if code not in TOKEN_ERRORS:
                raise PlatformError(f"WeCom message/send answered {code} "
                                    f"{data.get('errmsg') if isinstance(data, dict) else ''}; "
                                    "check WECOM_AGENT_ID and the application's visible range.")
        raise PlatformError("WeCom refused a fresh access token; check WECOM_SECRET.")


class WeComOutput(PlatformOutput):
    """Replies to one user through the message API."""

    def __init__(self, api: WeComApi, user: Text, source_base_url: Text) -> None:
        self.api, self.user, self.source_base_url = api, user, source_base_url

    @classmethod
    def name(cls) -> Text:
        return "wecom"

    def render_answer(self, answer: AnswerPayload) -> Text:
        lines = [answer["text"]]
        if answer.get("sources"):
            lines.append(f"{sources_label(answer.get('language', 'en'))}:")
            for source in answer["sources"]:
                url = source_url(source, self.source_base_url)
                # WeCom renders <a> in text messages: the title and the address are
                # escaped, so a document's title cannot add markup or another link.
                title = html.escape(source["title"], quote=False)
                shown = (f'<a href="{html.escape(url, quote=True)}">{title}</a>' if url
                         else f"{title} ({html.escape(source['source'], quote=False)})")
                lines.append(f"[{source['number']}] {shown}")
        return "\n".join(lines)

    async def send(self, text: Text) -> None:
        for piece in split_text(text, MAX_TEXT_BYTES, utf8_size):
            await self.api.send_text(self.user, piece)


class WeComChannel(PlatformChannel):
    """The application's callback URL."""

    def __init__(self, crypto: WeComCrypto, api: WeComApi, source_base_url: Text = "",
                 guard: Optional[Dict[Text, Any]] = None) -> None:
        self.crypto, self.api, self.source_base_url = crypto, api, source_base_url
        self.background = BackgroundTurns("wecom", guard or channel_options({}, "wecom", ()))
        self.seen = seen_ids("wecom")

    @classmethod
    def name(cls) -> Text:
        return "wecom"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        """`corp_id`, `agent_id`, `secret`, `token`, `encoding_aes_key` (required),
        `api_url`, `source_base_url` (default: the settings), the guard's options."""
        options = dict(credentials or {})
        guard = channel_options(options, "wecom", OPTIONS)
        corp_id, agent_id, secret, token, aes = required(
            options, "wecom", "corp_id", "agent_id", "secret", "token", "encoding_aes_key")
        if not agent_id.isdigit():
            raise ConfigurationError("wecom: 'agent_id' is the application's AgentId, a "
                                     f"number (WECOM_AGENT_ID), got {agent_id!r}.")
        settings = load(ChannelSettings)
        api = WeComApi(corp_id, secret, int(agent_id),
                       options.get("api_url") or settings.wecom_api_url)
        return cls(WeComCrypto(token, aes, corp_id), api,
                   options.get("source_base_url") or settings.source_base_url, guard)

    def add_routes(self, hook: Blueprint) -> None:
        """`GET /webhook`: WeCom's check of the callback URL."""

        @hook.route("/webhook", methods=["GET"])
        async def verify_url(request: Request) -> HTTPResponse:
            """WeCom's check of the callback URL: the decrypted `echostr`, as text."""
            query = {k: request.args.get(k, "") for k in
                     ("msg_signature", "timestamp", "nonce", "echostr")}
            if not all(query.values()):
                return response.text("missing msg_signature, timestamp, nonce or echostr",
                                     status=400)
            try:
                plain = self.crypto.open(query["msg_signature"], query["timestamp"],
                                         query["nonce"], query["echostr"])
            except CallbackError as error:
                logger.warning("wecom.rejected", extra={"reason": str(error)})
                return response.text("not a request from WeCom", status=403)
            return response.text(plain)

    async def handle(self, request: Request,
                     on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> HTTPResponse:
        """Checks and opens a callback, acknowledges it, starts the turn."""
        body = request.body or b""
        if len(body) > MAX_CALLBACK_BYTES:
            return response.text("callback too large", status=413)
        try:
            envelope = parse_xml(body)
            encrypted = envelope.get("Encrypt", "")
            if not encrypted:
                raise CallbackError("no Encrypt element")
            plain = self.crypto.open(request.args.get("msg_signature", ""),
                                     request.args.get("timestamp", ""),
                                     request.args.get("nonce", ""), encrypted,
                                     now=time.time())
            message = parse_xml(plain.encode("utf-8"))
        except CallbackError as error:
            logger.warning("wecom.rejected", extra={"reason": str(error)})
            status = 403 if "signature" in str(error) or "company" in str(error) else 400
            return response.text(f"not a callback from WeCom: {error}", status=status)
        # An empty 200 is WeCom's "received, no passive reply".
        acknowledged = response.text("", status=200)
        key = message.get("MsgId") or (
            f"{message.get('FromUserName')}:{message.get('CreateTime')}:"
            f"{message.get('Event')}")
        if not await self.seen.first_time(key):
            logger.info("wecom.duplicate", extra={"msg_id": key})
            return acknowledged
        user = message.get("FromUserName", "")
        if not user or len(user) > 64 or not is_printable_id(user):
            return acknowledged
        output = WeComOutput(self.api, user, self.source_base_url)
        kind = message.get("MsgType")
        if kind == "text" and message.get("Content", "").strip():
            self.background.start(on_new_message, UserMessage(
                message["Content"], output, f"wecom:{self.api.agent_id}:{user}",
                input_channel=self.name(), metadata={"msg_type": kind}))
        elif kind in ("image", "voice", "video", "file", "location", "link"):
            self.background.run(self.note(output))
        return acknowledged
