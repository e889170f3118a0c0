"""Rasa's REST channel with request validation: bad bodies get a clear 4xx."""

from __future__ import annotations

from typing import Any, Dict, Optional, Text

from rasa.core.channels.rest import RestInput
from sanic.exceptions import InvalidUsage, PayloadTooLarge
from sanic.request import Request

DEFAULT_MAX_MESSAGE_LENGTH = 20_000
EXAMPLE = '{"sender": "user-1", "message": "hello"}'


class ValidatingRestInput(RestInput):
    """`POST /webhooks/rest/webhook`, exactly like Rasa's `rest` channel, except
    that a body that is not a JSON object, a missing or non-text `message`, a bad
    `sender` or `metadata`, or an over-long message is answered with HTTP 400/413
    and a message saying what to fix, instead of an empty reply or a server error.
    """

    def __init__(self, max_message_length: int = DEFAULT_MAX_MESSAGE_LENGTH) -> None:
        """`max_message_length` caps the characters of one message."""
        self.max_message_length = max_message_length

    @classmethod
    def name(cls) -> Text:
        """Same name, so the same URL, as Rasa's REST channel."""
        return "rest"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> RestInput:
        """Reads `max_message_length` from credentials.yml (optional)."""
        limit = (credentials or {}).get("max_message_length", DEFAULT_MAX_MESSAGE_LENGTH)
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError("rest: 'max_message_length' must be a positive integer.")
        return cls(limit)

    @staticmethod
    def _body(request: Request) -> Dict[Text, Any]:
        body = request.json  # Sanic answers 400 itself for text that is not JSON
        if not isinstance(body, dict):
            raise InvalidUsage(f"The request body must be a JSON object such as {EXAMPLE}.")
        return body

    async def _extract_sender(self, req: Request) -> Optional[Text]:
        sender = self._body(req).get("sender")
        if sender is None:
            return None
        if isinstance(sender, bool) or not isinstance(sender, (str, int)):
            raise InvalidUsage('"sender" must be a string that names the conversation.')
        if not str(sender).strip() or len(str(sender)) > 256:
            raise InvalidUsage('"sender" must be 1 to 256 characters long.')
        return str(sender)

    def _extract_message(self, req: Request) -> Optional[Text]:
        message = self._body(req).get("message")
        if not isinstance(message, str):
            raise InvalidUsage(f'"message" must be a string, as in {EXAMPLE}.')
        if len(message) > self.max_message_length:
            raise PayloadTooLarge(
                f'"message" has {len(message)} characters; the limit is '
                f"{self.max_message_length}."
            )
        return message

    def get_metadata(self, request: Request) -> Optional[Dict[Text, Any]]:
        """Optional `metadata`, which must be a JSON object."""
        metadata = self._body(request).get("metadata")
        if metadata is not None and not isinstance(metadata, dict):
            raise InvalidUsage('"metadata" must be a JSON object.')
        return metadata
