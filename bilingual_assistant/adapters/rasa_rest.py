"""A client of Rasa's REST channel (`POST /webhooks/rest/webhook`): one message
in, the assistant's replies out, a knowledge answer's sources as data."""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Text, TypedDict

import httpx

from bilingual_assistant.access.sender_tokens import SenderTokens
from bilingual_assistant.answers.models import ANSWER_KEY, AnswerPayload
from bilingual_assistant.errors import InputError, ServiceError
from bilingual_assistant.knowledge.access import EVERYONE, READER_KEY, Reader

logger = logging.getLogger(__name__)

WEBHOOK = "/webhooks/rest/webhook"


class Reply(TypedDict, total=False):
    """One message of the assistant's, as the REST channel sends it."""

    text: Text
    answer: AnswerPayload  # a knowledge answer: its text and numbered sources
    buttons: List[Dict[Text, Any]]
    image: Text
    custom: Dict[Text, Any]


class RasaChat:
    """Sends a user's message to Rasa and returns the assistant's replies."""

    def __init__(self, base_url: Text, timeout_seconds: float = 60.0,
                 transport: Optional[httpx.AsyncBaseTransport] = None,
                 token: Text = "", sender_tokens: Optional[SenderTokens] = None) -> None:
        """Args:
        base_url: Rasa's server (`http://127.0.0.1:5005`).
        token: Rasa's HTTP API token (`RASA_AUTH_TOKEN`), for `understand`.
        sender_tokens: signs each message's conversation (`REST_CHANNEL_SECRET`),
            which the REST channel then requires.
        timeout_seconds: how long a turn may take (an uncached knowledge answer
            takes seconds; Rasa's action timeout is 30 s).
        transport: httpx's transport (tests pass `httpx.MockTransport`).
        """
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.sender_tokens = sender_tokens
        self._client = httpx.AsyncClient(base_url=self.base_url, timeout=timeout_seconds,
                                         transport=transport)

    async def send(self, sender: Text, message: Text,
                   metadata: Optional[Dict[Text, Any]] = None,
                   reader: Reader = EVERYONE) -> List[Reply]:
        """One turn of the conversation `sender`, asked by `reader` (the documents
        they may read): in the signed token, or, when senders are not signed (Rasa
        on loopback), in the message's metadata, which the channel then trusts.

        Raises:
            InputError: when Rasa refuses the message (too long, bad metadata), with
                its reason.
            ServiceError: when Rasa is down, busy with this conversation, or failed
                on the message.
        """
        body: Dict[Text, Any] = {"sender": sender, "message": message}
        metadata = dict(metadata or {})
        headers: Dict[Text, Text] = {}
        if self.sender_tokens is not None:
            token = self.sender_tokens.sign(sender, reader=reader)
            headers["Authorization"] = f"Bearer {token}"
        else:
            metadata[READER_KEY] = reader.to_metadata()
        if metadata:
            body["metadata"] = metadata
        try:
            response = await self._client.post(WEBHOOK, json=body, headers=headers)
        except httpx.TimeoutException:
            raise ServiceError(
                "The assistant took too long to answer; try again in a moment.") from None
        except httpx.HTTPError as error:
            raise ServiceError(
                f"The assistant (Rasa at {self.base_url}) cannot be reached "
                f"({error.__class__.__name__}); start it with `make run`.") from None
        if response.status_code in (400, 413):
            raise InputError(_reason(response))
        if response.status_code == 401:
            logger.error("rasa.sender_refused", extra={"signed": self.sender_tokens is not None})
            raise ServiceError(
                "Rasa refused to take the message from this service: set the same "
                "REST_CHANNEL_SECRET for Rasa and the API.")
        if response.status_code == 429:
            raise ServiceError(
                "The assistant is still answering this conversation's previous message; "
                "send the next one when it has replied.")
        if response.status_code != 200:
            logger.warning("rasa.failed", extra={"status": response.status_code})
            raise ServiceError(
                f"The assistant failed on this message (Rasa answered "
                f"{response.status_code}); try again or rephrase it.")
        try:
            replies = response.json()
        except ValueError:
            raise ServiceError("Rasa answered something that is not JSON.") from None
        if not isinstance(replies, list):
            raise ServiceError("Rasa answered something that is not a list.")
        return [_reply(r) for r in replies if isinstance(r, dict)]

    async def understand(self, text: Text) -> Optional[Dict[Text, Any]]:
        """What Rasa makes of a message (`intent`: name and confidence), or None when
        it cannot say (no token, Rasa down): feedback is kept without it."""
        if not self.token:
            return None
        try:
            response = await self._client.post("/model/parse", params={"token": self.token},
                                               json={"text": text}, timeout=10.0)
            body = response.json() if response.status_code == 200 else None
        except (httpx.HTTPError, ValueError):
            return None
        intent = body.get("intent") if isinstance(body, dict) else None
        return intent if isinstance(intent, dict) else None

    async def ready(self) -> bool:
        """Whether Rasa's server answers."""
        try:
            response = await self._client.get("/", timeout=3.0)
            return response.status_code == 200
        except httpx.HTTPError:
            return False

    async def close(self) -> None:
        """Closes the connection pool."""
        await self._client.aclose()


def _reason(response: httpx.Response) -> Text:
    try:
        body = response.json()
    except ValueError:
        return "The assistant refused the message."
    if isinstance(body, dict):
        return str(body.get("message") or body.get("reason") or
                   "The assistant refused the message.")
    return "The assistant refused the message."


def _reply(raw: Dict[Text, Any]) -> Reply:
    reply: Reply = {}
    for key in ("text", ANSWER_KEY, "buttons", "image", "custom"):
        if raw.get(key) is not None:
            reply[key] = raw[key]  # type: ignore[literal-required]
    return reply
