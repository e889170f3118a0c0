"""Telegram through a bot's webhook (`POST /webhooks/telegram/webhook`): only
updates that carry the webhook's secret token are taken, the webhook is registered
at start-up (no open route sets it), long answers are split under Telegram's
limit, and in groups the bot answers only when addressed.

    channels.telegram.TelegramChannel:         # credentials.yml
      access_token: ${TELEGRAM_ACCESS_TOKEN}
      webhook_url: ${TELEGRAM_WEBHOOK_URL}

Rasa 3.6's own Telegram channel does not check the secret token (anyone who knows
the URL can post updates as any user) and lets anyone call its `set_webhook` route.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import html
import json
import logging
import re
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import response
from sanic.request import Request
from sanic.response import HTTPResponse

from bilingual_assistant.answers.models import AnswerPayload
from bilingual_assistant.config import ChannelSettings, load
from bilingual_assistant.errors import ConfigurationError
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
    utf16_size,
)

logger = logging.getLogger(__name__)

# Telegram's limit is 4,096 characters of visible text (counted in UTF-16 units).
MAX_TEXT = 4_000
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
_SECRET_FORMAT = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
OPTIONS = ("access_token", "webhook_url", "webhook_secret", "api_url", "source_base_url")
# Telegram's commands that start and explain a chat, read as what they mean.
COMMANDS = {"/start": "hello", "/help": "what can you do?"}


def derived_secret(token: Text) -> Text:
    """The webhook secret when none is configured: the same on every replica,
    unguessable without the bot token."""
    return hmac.new(token.encode(), b"telegram-webhook-secret", hashlib.sha256).hexdigest()


class TelegramApi:
    """The Bot API calls the channel makes (`getMe`, `setWebhook`, `sendMessage`)."""

    def __init__(self, token: Text, base_url: Text, http: Optional[ApiSession] = None) -> None:
        self.token, self.base_url = token, base_url.rstrip("/")
        self.http = http or ApiSession()

    async def call(self, method: Text, payload: Dict[Text, Any]) -> Any:
        """One call; a 429 waits its `retry_after` once."""
        for attempt in (1, 2):
            try:
                async with self.http.session.post(
                    f"{self.base_url}/bot{self.token}/{method}", json=payload
                ) as reply:
                    data = await reply.json(content_type=None)
            except Exception as error:
                # The URL holds the token: never in a message.
                raise PlatformError(f"Telegram {method} failed: "
                                    f"{type(error).__name__}") from None
            if isinstance(data, dict) and data.get("ok"):
                return data.get("result")
            parameters = (data.get("parameters") or {}) if isinstance(data, dict) else {}
            if attempt == 1 and data.get("error_code") == 429:
                await asyncio.sleep(min(float(parameters.get("retry_after", 1)), 30.0))
                continue
            description = data.get("description") if isinstance(data, dict) else data
            raise PlatformError(f"Telegram {method} answered {description}; check "
                                "TELEGRAM_ACCESS_TOKEN.")
        raise PlatformError(f"Telegram {method} stayed rate-limited")


class TelegramOutput(PlatformOutput):
    """Replies in the chat, as HTML (links for sources); in a group, as a reply to
    the message that addressed the bot."""

    def __init__(self, api: TelegramApi, chat_id: int, reply_to: Optional[int],
                 source_base_url: Text) -> None:
        self.api, self.chat_id, self.reply_to = api, chat_id, reply_to
        self.source_base_url = source_base_url

    @classmethod
    def name(cls) -> Text:
        return "telegram"

    def escape(self, text: Text) -> Text:
        return text  # `send` escapes each piece after splitting

    def render_answer(self, answer: AnswerPayload) -> Text:
        # Marked with NUL characters, escaped and turned into links in `send`.
        lines = [answer["text"].replace("\0", "")]
        if answer.get("sources"):
            lines.append(f"{sources_label(answer.get('language', 'en'))}:")
            for source in answer["sources"]:
                url = source_url(source, self.source_base_url)
                title = source["title"].replace("\0", "")
                shown = (f"\0{url}\0{title}\0" if url
                         else f"{title} ({source['source']})")
                lines.append(f"[{source['number']}] {shown}")
        return "\n".join(lines)

    async def send(self, text: Text) -> None:
        for piece in split_text(text, MAX_TEXT, lambda t: utf16_size(_visible(t))):
            payload: Dict[Text, Any] = {"chat_id": self.chat_id, "text": _html(piece),
                                        "parse_mode": "HTML",
                                        "link_preview_options": {"is_disabled": True}}
            if self.reply_to is not None:
                payload["reply_parameters"] = {"message_id": self.reply_to,
                                               "allow_sending_without_reply": True}
            await self.api.call("sendMessage", payload)


_LINK = re.compile(r"\0([^\0]*)\0([^\0]*)\0")


def _visible(text: Text) -> Text:
    return _LINK.sub(lambda m: m.group(2), text)


def _html(text: Text) -> Text:
    """Escaped text; marked sources as links."""
    parts, last = [], 0
    for match in _LINK.finditer(text):
        parts.append(html.escape(text[last:match.start()], quote=False))
        parts.append(f'<a href="{html.escape(match.group(1))}">'
                     f"{html.escape(match.group(2), quote=False)}</a>")
        last = match.end()
    parts.append(html.escape(text[last:].replace("\0", ""), quote=False))
    return "".join(parts)


class TelegramChannel(PlatformChannel):
    """The bot's webhook."""

    def __init__(self, access_token: Text, webhook_url: Text, webhook_secret: Text,
                 api_url: Text, source_base_url: Text = "",
                 guard: Optional[Dict[Text, Any]] = None) -> None:
        self.api = TelegramApi(access_token, api_url)
        self.webhook_url = webhook_url
        self.secret = webhook_secret or derived_secret(access_token)
        if not _SECRET_FORMAT.match(self.secret):
            raise ConfigurationError("telegram: the webhook secret takes 1-256 of A-Z a-z "
                                     "0-9 _ - (TELEGRAM_WEBHOOK_SECRET).")
        self.source_base_url = source_base_url
        self.background = BackgroundTurns("telegram",
                                          guard or channel_options({}, "telegram", ()))
        self.seen = seen_ids("telegram")
        self.bot_id: Optional[int] = None
        self.bot_username = ""

    @classmethod
    def name(cls) -> Text:
        return "telegram"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        """`access_token` and `webhook_url` (required), `webhook_secret`, `api_url`,
        `source_base_url` (default: the settings) and the guard's options."""
        options = dict(credentials or {})
        guard = channel_options(options, "telegram", OPTIONS)
        token, webhook_url = required(options, "telegram", "access_token", "webhook_url")
        if not webhook_url.startswith("https://") and not webhook_url.startswith("http://"):
            raise ConfigurationError(
                "telegram: 'webhook_url' must be the public https:// address of "
                "/webhooks/telegram/webhook (TELEGRAM_WEBHOOK_URL).")
        settings = load(ChannelSettings)
        return cls(token, webhook_url,
                   str(options.get("webhook_secret") or settings.telegram_webhook_secret),
                   options.get("api_url") or settings.telegram_api_url,
                   options.get("source_base_url") or settings.source_base_url, guard)

    async def start(self) -> None:
        """Learns the bot's name (`getMe`) and registers the webhook with its secret
        (`setWebhook`); a failure is logged with its fix, Rasa keeps running."""
        try:
            me = await self.api.call("getMe", {})
            self.bot_id, self.bot_username = me.get("id"), str(me.get("username") or "")
            await self.api.call("setWebhook", {
                "url": self.webhook_url, "secret_token": self.secret,
                "allowed_updates": ["message"], "max_connections": 40,
            })
            logger.info("telegram.webhook_set", extra={"bot": self.bot_username})
        except PlatformError as error:
            logger.error("telegram.start_failed", extra={"error": str(error)})

    async def handle(self, request: Request,
                     on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> HTTPResponse:
        """Checks the secret, acknowledges, and starts the turn of a new message."""
        given = request.headers.get(SECRET_HEADER) or ""
        if not hmac.compare_digest(given.encode(), self.secret.encode()):
            logger.warning("telegram.rejected", extra={"reason": "secret token"})
            return response.json({"error": "not an update from Telegram"}, status=403)
        try:
            update = json.loads(request.body or b"")
        except (ValueError, UnicodeDecodeError):
            return response.json({"error": "the body is not JSON"}, status=400)
        if not isinstance(update, dict) or not isinstance(update.get("update_id"), int):
            return response.json({"error": "not a Telegram update"}, status=400)
        if not await self.seen.first_time(str(update["update_id"])):
            logger.info("telegram.duplicate", extra={"update_id": update["update_id"]})
            return response.empty(status=200)
        message = update.get("message")
        if isinstance(message, dict):
            user_message = self.user_message(message)
            if user_message is not None:
                self.background.start(on_new_message, user_message)
        return response.empty(status=200)

    def user_message(self, message: Dict[Text, Any]) -> Optional[UserMessage]:
        """The message to answer, or None: other bots, group messages that do not
        address the bot; a private message without text gets a short note."""
        chat, sender = message.get("chat"), message.get("from")
        if not isinstance(chat, dict) or not isinstance(chat.get("id"), int):
            return None
        if not isinstance(sender, dict) or sender.get("is_bot") or not isinstance(
                sender.get("id"), int):
            return None
        private = chat.get("type") == "private"
        output = TelegramOutput(self.api, chat["id"],
                                None if private else message.get("message_id"),
                                self.source_base_url)
        text = message.get("text")
        if not isinstance(text, str) or not text.strip():
            if private:
                self.background.run(self.note(output))
            return None
        if not private:
            text = self.addressed(message, text)
            if text is None:
                return None
        command = text.strip().split("@")[0].lower()
        text = COMMANDS.get(command, text)
        return UserMessage(text, output, f"telegram:{chat['id']}:{sender['id']}",
                           input_channel=self.name(),
                           metadata={"chat_type": chat.get("type")})

    def addressed(self, message: Dict[Text, Any], text: Text) -> Optional[Text]:
        """In a group: the text without the bot's @name if it names the bot or replies
        to it, else None."""
        reply = message.get("reply_to_message") or {}
        replied_to_bot = (self.bot_id is not None
                          and (reply.get("from") or {}).get("id") == self.bot_id)
        if self.bot_username:
            mention = re.compile(rf"@{re.escape(self.bot_username)}\b", re.IGNORECASE)
            if mention.search(text):
                return mention.sub("", text).strip() or "hello"
        return text if replied_to_bot else None
