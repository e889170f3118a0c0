"""Slack through the Events API (`POST /webhooks/slack/webhook`), done as Slack asks:
every request's signature checked, each event answered once, acknowledged at once,
the answer posted in the user's thread with its sources as Slack links.

    channels.slack.SlackChannel:               # credentials.yml
      bot_token: ${SLACK_BOT_TOKEN}
      signing_secret: ${SLACK_SIGNING_SECRET}

Rasa 3.6's own Slack channel answers within the request (a knowledge answer takes
longer than Slack's 3 s, so Slack sends the event again) and skips only retries
whose reason is `http_timeout`: other retries were answered twice.

The app subscribes to `app_mention` (in channels) and `message.im` (direct
messages); a conversation is one user in one channel.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
import time
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import response
from sanic.request import Request
from sanic.response import HTTPResponse

from bilingual_assistant.answers.models import AnswerPayload
from bilingual_assistant.config import ChannelSettings, load
from channels.guard import channel_options
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
)

logger = logging.getLogger(__name__)

MAX_AGE_SECONDS = 5 * 60  # Slack's replay window
# Slack truncates texts beyond 40,000 characters and advises 4,000 per message.
MAX_TEXT = 3_900
OPTIONS = ("bot_token", "signing_secret", "api_url", "source_base_url")
# Message subtypes that are a person writing: anything else (bot_message,
# message_changed, message_deleted, channel_join...) is not answered.
USER_SUBTYPES = (None, "file_share", "thread_broadcast")


def signature(secret: Text, timestamp: Text, body: bytes) -> Text:
    """Slack's request signature: `v0=` HMAC-SHA256 of `v0:{timestamp}:{body}`."""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def verify(secret: Text, timestamp: Optional[Text], given: Optional[Text], body: bytes,
           now: Optional[float] = None) -> Optional[Text]:
    """None if the request is Slack's and recent, else why not."""
    if not timestamp or not given:
        return "missing signature headers"
    try:
        age = abs((time.time() if now is None else now) - int(timestamp))
    except ValueError:
        return "malformed timestamp"
    if age > MAX_AGE_SECONDS:
        return "timestamp outside the 5-minute window"
    if not hmac.compare_digest(signature(secret, timestamp, body), given):
        return "signature does not match"
    return None


def escape(text: Text) -> Text:
    """Text for Slack's mrkdwn: only &, < and > are escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_REFERENCE = re.compile(r"<([^<>|]*)(?:\|([^<>]*))?>")


def readable(text: Text, bot_user_id: Text) -> Text:
    """A user's message as written: the bot's mention dropped, other mentions and
    links shown by their label, Slack's escapes undone."""

    def label(match: re.Match[Text]) -> Text:
        target, shown = match.group(1), match.group(2)
        if target == f"@{bot_user_id}":
            return ""
        if shown:
            return ("@" if target.startswith("@") else "#" if target.startswith("#") else
                    "") + shown
        return target.lstrip("@#!")

    text = _REFERENCE.sub(label, text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&").strip()


class SlackApi:
    """The Web API calls the channel makes (`auth.test`, `chat.postMessage`)."""

    def __init__(self, token: Text, base_url: Text, http: Optional[ApiSession] = None) -> None:
        self.token, self.base_url = token, base_url.rstrip("/")
        self.http = http or ApiSession()

    async def call(self, method: Text, payload: Dict[Text, Any]) -> Dict[Text, Any]:
        """One call; a `ratelimited` answer waits its Retry-After once."""
        for attempt in (1, 2):
            try:
                async with self.http.session.post(
                    f"{self.base_url}/{method}", json=payload,
                    headers={"Authorization": f"Bearer {self.token}"},
                ) as reply:
                    if reply.status == 429 and attempt == 1:
                        await _sleep(float(reply.headers.get("Retry-After", "1")))
                        continue
                    data = await reply.json(content_type=None)
            except Exception as error:
                raise PlatformError(f"Slack {method} failed: {error}") from error
            if not isinstance(data, dict) or not data.get("ok"):
                why = data.get("error") if isinstance(data, dict) else data
                raise PlatformError(f"Slack {method} answered {why}; check SLACK_BOT_TOKEN "
                                    "and the app's scopes (chat:write).")
            return data
        raise PlatformError(f"Slack {method} stayed rate-limited")


async def _sleep(seconds: float) -> None:
    await asyncio.sleep(min(max(seconds, 0.0), 30.0))


class SlackOutput(PlatformOutput):
    """Replies in the user's thread."""

    def __init__(self, api: SlackApi, channel: Text, thread_ts: Optional[Text],
                 source_base_url: Text) -> None:
        self.api, self.channel, self.thread_ts = api, channel, thread_ts
        self.source_base_url = source_base_url

    @classmethod
    def name(cls) -> Text:
        return "slack"

    def escape(self, text: Text) -> Text:
        return escape(text)

    def render_answer(self, answer: AnswerPayload) -> Text:
        lines = [escape(answer["text"])]
        if answer.get("sources"):
            lines.append(f"*{sources_label(answer.get('language', 'en'))}:*")
            for source in answer["sources"]:
                title = escape(source["title"]).replace("|", "¦")
                url = source_url(source, self.source_base_url)
                shown = f"<{url}|{title}>" if url else f"{title} ({escape(source['source'])})"
                lines.append(f"[{source['number']}] {shown}")
        return "\n".join(lines)

    async def send(self, text: Text) -> None:
        for piece in split_text(text, MAX_TEXT):
            payload: Dict[Text, Any] = {"channel": self.channel, "text": piece,
                                        "unfurl_links": False, "unfurl_media": False}
            if self.thread_ts:
                payload["thread_ts"] = self.thread_ts
            await self.api.call("chat.postMessage", payload)


class SlackChannel(PlatformChannel):
    """The Events API webhook."""

    def __init__(self, bot_token: Text, signing_secret: Text, api_url: Text,
                 source_base_url: Text = "", guard: Optional[Dict[Text, Any]] = None) -> None:
        self.signing_secret = signing_secret
        self.api = SlackApi(bot_token, api_url)
        self.source_base_url = source_base_url
        self.background = BackgroundTurns("slack", guard or channel_options({}, "slack", ()))
        self.seen = seen_ids("slack")
        self.bot_user_id = ""

    @classmethod
    def name(cls) -> Text:
        return "slack"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        """`bot_token` and `signing_secret` (required), `api_url` and `source_base_url`
        (default: the settings), and the guard's options."""
        options = dict(credentials or {})
        guard = channel_options(options, "slack", OPTIONS)
        token, secret = required(options, "slack", "bot_token", "signing_secret")
        settings = load(ChannelSettings)
        return cls(token, secret, options.get("api_url") or settings.slack_api_url,
                   options.get("source_base_url") or settings.source_base_url, guard)

    async def start(self) -> None:
        """Learns the bot's own user id (`auth.test`): its mentions and messages."""
        try:
            self.bot_user_id = (await self.api.call("auth.test", {})).get("user_id", "")
            logger.info("slack.connected", extra={"bot_user_id": self.bot_user_id})
        except PlatformError as error:
            logger.error("slack.auth_failed", extra={"error": str(error)})

    async def handle(self, request: Request,
                     on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> HTTPResponse:
        """Verifies, acknowledges, and starts the turn of a new user message."""
        body = request.body or b""
        problem = verify(self.signing_secret, request.headers.get("X-Slack-Request-Timestamp"),
                         request.headers.get("X-Slack-Signature"), body)
        if problem:
            logger.warning("slack.rejected", extra={"reason": problem})
            return response.json({"error": f"not a request from Slack: {problem}"}, status=401)
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return response.json({"error": "the body is not JSON"}, status=400)
        if not isinstance(payload, dict):
            return response.json({"error": "the body is not a JSON object"}, status=400)
        if payload.get("type") == "url_verification":
            return response.json({"challenge": str(payload.get("challenge", ""))})
        acknowledged = response.empty(status=200, headers={"X-Slack-No-Retry": "1"})
        if payload.get("type") != "event_callback" or not isinstance(payload.get("event"), dict):
            return acknowledged
        event_id = str(payload.get("event_id") or "")
        retry = request.headers.get("X-Slack-Retry-Num")
        if not event_id or not await self.seen.first_time(event_id):
            logger.info("slack.duplicate", extra={"event_id": event_id, "retry": retry})
            return acknowledged
        event = payload["event"]
        message = self.user_message(payload, event)
        if message is not None:
            self.background.start(on_new_message, message)
        elif (event.get("subtype") == "file_share" and event.get("channel_type") == "im"
              and not str(event.get("text") or "").strip() and not event.get("bot_id")):
            thread = event.get("ts")
            self.background.run(self.note(SlackOutput(
                self.api, str(event.get("channel")), str(thread) if thread else None, "")))
        return acknowledged

    def user_message(self, payload: Dict[Text, Any], event: Dict[Text, Any]
                     ) -> Optional[UserMessage]:
        """The event as a message to answer, or None for what is not answered: bot
        messages, edits and other subtypes, channel messages that are not mentions
        (their `app_mention` event is answered instead), empty texts."""
        kind, subtype = event.get("type"), event.get("subtype")
        if kind not in ("app_mention", "message") or subtype not in USER_SUBTYPES:
            return None
        if event.get("bot_id") or event.get("bot_profile"):
            return None
        user, channel = event.get("user"), event.get("channel")
        if not isinstance(user, str) or not isinstance(channel, str):
            return None
        if user == self.bot_user_id:
            return None
        if kind == "message" and event.get("channel_type") != "im":
            return None
        text = readable(str(event.get("text") or ""), self.bot_user_id)
        if not text:
            return None
        team = str(payload.get("team_id") or event.get("team") or "")
        thread = event.get("thread_ts") or event.get("ts")
        output = SlackOutput(self.api, channel, str(thread) if thread else None,
                             self.source_base_url)
        return UserMessage(text, output, f"slack:{team}:{channel}:{user}",
                           input_channel=self.name(),
                           metadata={"channel": channel, "user": user})

