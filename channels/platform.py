"""What the chat platforms' channels (Slack, Telegram, WeCom) share: a webhook that
answers at once and hands its message to a background turn, each platform message
handled once, replies rendered from the answer's data, long texts split.

A platform calls its webhook and waits only seconds (Slack 3, WeCom 5) before it
sends the same message again; a knowledge answer takes longer. So the webhook
acknowledges first and the answer is posted through the platform's API when ready.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from typing import Any, Awaitable, Callable, Dict, List, Optional, Sequence, Set, Text

import aiohttp
from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bilingual_assistant.answers.messages import message
from bilingual_assistant.answers.models import ANSWER_KEY, AnswerPayload, SourcePayload
from bilingual_assistant.config import CacheSettings, load
from bilingual_assistant.errors import ConfigurationError, ServiceError
from bilingual_assistant.turns import ConversationTurns
from channels.guard import guarded

logger = logging.getLogger(__name__)

# Said in a private chat to a message that holds no text (a sticker, a photo):
# never anything the user did not write, in both languages as the language is unknown.
TEXT_ONLY_NOTE = "我只能读文字消息。/ I can only read text messages."
SEEN_SECONDS = 3600  # platforms resend within minutes; an hour is ample
SEEN_MAX = 50_000


class PlatformError(ServiceError):
    """A platform's API refused a call or could not be reached."""


class SeenIds:
    """Ids of platform messages already taken, for an hour: a resent message (a
    retry, a duplicate delivery) is recognised and not answered again. One process's
    memory: `seen_ids()` gives the Redis one that replicas share when `REDIS_URL` is
    set."""

    def __init__(self, seconds: float = SEEN_SECONDS, limit: int = SEEN_MAX,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds, self.limit, self.clock = seconds, limit, clock
        self._seen: OrderedDict[Text, float] = OrderedDict()

    async def first_time(self, key: Text) -> bool:
        """True the first time `key` is offered within the window, then False."""
        now = self.clock()
        while self._seen and (next(iter(self._seen.values())) < now - self.seconds
                              or len(self._seen) > self.limit):
            self._seen.popitem(last=False)
        if key in self._seen:
            return False
        self._seen[key] = now
        return True


class RedisSeenIds:
    """`SeenIds` in Redis (`SET NX` with the window as expiry), shared by replicas: a
    platform's retry that reaches another replica is recognised too. When Redis
    cannot be reached the message is taken (answered, maybe twice) and it is logged:
    a doubled answer is better than a lost one."""

    def __init__(self, url: Text, channel: Text, seconds: float = SEEN_SECONDS,
                 client: Any = None) -> None:
        import redis.asyncio

        self._redis = client or redis.asyncio.Redis.from_url(
            url, socket_timeout=2, socket_connect_timeout=2)
        self.prefix = f"rasa:seen:{channel}:"
        self.seconds = seconds

    async def first_time(self, key: Text) -> bool:
        try:
            return bool(await self._redis.set(self.prefix + key, 1, nx=True,
                                              ex=max(1, int(self.seconds))))
        except Exception as error:  # Redis out of reach: take the message
            logger.warning("channel.seen_unavailable",
                           extra={"channel": self.prefix, "error": str(error)})
            return True


def seen_ids(channel: Text) -> Any:
    """The channel's memory of messages taken: in Redis when `REDIS_URL` is set
    (every replica sees it), else in this process."""
    url = load(CacheSettings).redis_url
    return RedisSeenIds(url, channel) if url else SeenIds()


class BackgroundTurns:
    """Runs each accepted message's turn after the webhook has answered: through the
    channel guard, one conversation at a time, errors logged, never raised."""

    def __init__(self, channel: Text, options: Dict[Text, Any]) -> None:
        """`options`: the guard's, from `channels.guard.channel_options`."""
        self.channel = channel
        self.options = options
        self.turns = ConversationTurns(max_wait_seconds=options["max_wait_seconds"])
        self.tasks: Set[asyncio.Task[Any]] = set()

    def start(self, on_new_message: Callable[[UserMessage], Awaitable[Any]],
              message: UserMessage) -> None:
        """Schedules the message's turn and returns at once."""
        handle = guarded(on_new_message, self.turns, self.options["max_message_length"],
                         self.options["allow_intent_commands"])

        async def turn() -> None:
            started = time.monotonic()
            try:
                await handle(message)
            except Exception:  # a turn's failure must not end the channel
                logger.exception("channel.turn_failed", extra={"channel": self.channel})
            else:
                logger.info("channel.turn", extra={
                    "channel": self.channel, "seconds": round(time.monotonic() - started, 2)})

        self.run(turn())

    def run(self, work: Awaitable[Any]) -> None:
        """Runs `work` in the background, holding a reference until it ends (or
        the task may be collected mid-turn)."""
        task = asyncio.ensure_future(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def drain(self) -> None:
        """Waits for the turns in progress (shutdown, tests)."""
        while self.tasks:
            await asyncio.gather(*list(self.tasks), return_exceptions=True)


def split_text(text: Text, limit: int, size: Callable[[Text], int] = len) -> List[Text]:
    """Pieces of at most `limit` (as `size` measures), cut at a paragraph, a line, a
    space, or else anywhere; nothing lost but the whitespace at a cut."""
    text = text.strip()
    if size(text) <= limit:
        return [text] if text else []
    for separator in ("\n\n", "\n", " "):
        cut = _last_fit(text, separator, limit, size)
        if cut > 0:
            return [text[:cut].rstrip()] + split_text(text[cut + len(separator):], limit, size)
    end = len(text)
    while end > 1 and size(text[:end]) > limit:
        end -= 1
    return [text[:end]] + split_text(text[end:], limit, size)


def _last_fit(text: Text, separator: Text, limit: int, size: Callable[[Text], int]) -> int:
    cut = text.rfind(separator)
    while cut > 0 and size(text[:cut].rstrip()) > limit:
        cut = text.rfind(separator, 0, cut)
    return cut


def utf8_size(text: Text) -> int:
    """Bytes in UTF-8 (WeCom's limits)."""
    return len(text.encode("utf-8"))


def utf16_size(text: Text) -> int:
    """UTF-16 code units (Telegram's limits)."""
    return len(text.encode("utf-16-le")) // 2


def source_url(source: SourcePayload, base_url: Text) -> Optional[Text]:
    """A source's address: its own if it is one, else under `base_url` if set."""
    path = source.get("source", "")
    if path.startswith(("https://", "http://")):
        return path
    if base_url and path:
        return f"{base_url.rstrip('/')}/{path.lstrip('/')}"
    return None


def answer_of(kwargs: Dict[Text, Any]) -> Optional[AnswerPayload]:
    """The knowledge answer that travels with a reply as data, if any."""
    answer = kwargs.get(ANSWER_KEY)
    if isinstance(answer, dict) and isinstance(answer.get("text"), str):
        return answer  # type: ignore[return-value]
    return None


def sources_label(language: Text) -> Text:
    return message("sources", language)


class PlatformOutput(OutputChannel):
    """Replies for one platform conversation. Subclasses say how a text is sent and
    how an answer with sources is written; buttons become a list of their titles
    (Rasa would show their payloads, `/affirm`), custom payloads are not shown."""

    async def send(self, text: Text) -> None:
        """Sends one text as the platform's message(s)."""
        raise NotImplementedError

    def render_answer(self, answer: AnswerPayload) -> Text:
        """The answer and its sources, in the platform's format."""
        raise NotImplementedError

    def escape(self, text: Text) -> Text:
        """Plain text made safe for the platform's format."""
        return text

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        answer = answer_of(kwargs)
        await self.send(self.render_answer(answer) if answer else self.escape(text))

    async def send_text_with_buttons(self, recipient_id: Text, text: Text,
                                     buttons: List[Dict[Text, Any]], **kwargs: Any) -> None:
        titles = [str(b.get("title", "")) for b in buttons if b.get("title")]
        lines = [text] + [f"• {title}" for title in titles]
        await self.send(self.escape("\n".join(lines)))

    async def send_quick_replies(self, recipient_id: Text, text: Text,
                                 quick_replies: List[Dict[Text, Any]], **kwargs: Any) -> None:
        await self.send_text_with_buttons(recipient_id, text, quick_replies, **kwargs)

    async def send_image_url(self, recipient_id: Text, image: Text, **kwargs: Any) -> None:
        await self.send(self.escape(image))

    async def send_attachment(self, recipient_id: Text, attachment: Text, **kwargs: Any) -> None:
        await self.send(self.escape(str(attachment)))

    async def send_custom_json(self, recipient_id: Text, json_message: Dict[Text, Any],
                               **kwargs: Any) -> None:
        logger.info("channel.custom_not_shown", extra={"channel": self.name()})

    async def send_elements(self, recipient_id: Text, elements: Sequence[Dict[Text, Any]],
                            **kwargs: Any) -> None:
        logger.info("channel.elements_not_shown", extra={"channel": self.name()})


class ApiSession:
    """One aiohttp session per channel, opened in the server's event loop on first
    use; every call has a deadline."""

    def __init__(self, timeout_seconds: float = 15.0) -> None:
        self.timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._session: Optional[aiohttp.ClientSession] = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class PlatformChannel(InputChannel):
    """A platform's webhook channel: `start` at server start, `handle` for each
    `POST /webhook`, turns drained and the API session closed at shutdown."""

    background: BackgroundTurns
    api: Any  # the platform's API client; `api.http` is its ApiSession

    async def start(self) -> None:
        """Calls the platform at start-up (identity, webhook registration)."""

    async def handle(self, request: Request,
                     on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> HTTPResponse:
        """Answers one webhook request."""
        raise NotImplementedError

    def add_routes(self, hook: Blueprint) -> None:
        """Routes beyond `GET /` and `POST /webhook` (WeCom's URL check)."""

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        hook = Blueprint(f"{self.name()}_webhook", __name__)

        @hook.listener("after_server_start")
        async def start(app: Any, loop: Any) -> None:
            await self.start()

        @hook.listener("before_server_stop")
        async def stop(app: Any, loop: Any) -> None:
            await self.background.drain()
            await self.api.http.close()

        @hook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @hook.route("/webhook", methods=["POST"])
        async def webhook(request: Request) -> HTTPResponse:
            return await self.handle(request, on_new_message)

        self.add_routes(hook)
        return hook

    async def note(self, output: PlatformOutput) -> None:
        """Tells a user who sent no text (a sticker, a file) that text is read."""
        try:
            await output.send(output.escape(TEXT_ONLY_NOTE))
        except PlatformError as error:
            logger.error("channel.send_failed", extra={"channel": self.name(),
                                                       "error": str(error)})

    def get_metadata(self, request: Request) -> Optional[Dict[Text, Any]]:
        return None


def required(options: Dict[Text, Any], channel: Text, *names: Text) -> List[Text]:
    """The named options as non-empty texts, or a ConfigurationError that says which."""
    values = []
    for name in names:
        value = options.get(name)
        if value is None or str(value).strip() == "":
            raise ConfigurationError(
                f"{channel}: '{name}' is empty; set it in credentials.yml (or the "
                "environment variable it names) or remove the channel.")
        values.append(str(value).strip())
    return values
