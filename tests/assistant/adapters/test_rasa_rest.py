"""The API's client of Rasa's REST channel, over httpx's mock transport."""

from __future__ import annotations

import json

import httpx
import pytest

from bilingual_assistant.access.sender_tokens import SenderTokens
from bilingual_assistant.adapters.rasa_rest import RasaChat
from bilingual_assistant.errors import InputError, ServiceError

SECRET = "k" * 43


def rasa(seen, status=200, body=None):
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, json=body if body is not None else [{"text": "hi"}])
    return httpx.MockTransport(handle)


async def test_each_message_carries_a_token_for_its_own_conversation():
    seen = []
    tokens = SenderTokens(SECRET)
    chat = RasaChat("http://rasa", transport=rasa(seen), sender_tokens=tokens)
    assert await chat.send("oidc:ann:web", "VPN?") == [{"text": "hi"}]
    scheme, _, token = seen[0].headers["authorization"].partition(" ")
    assert scheme == "Bearer" and tokens.sender(token) == "oidc:ann:web"
    assert json.loads(seen[0].content) == {"sender": "oidc:ann:web", "message": "VPN?"}


async def test_without_a_secret_no_token_is_sent():
    seen = []
    await RasaChat("http://rasa", transport=rasa(seen)).send("local:web", "hi")
    assert "authorization" not in seen[0].headers


@pytest.mark.parametrize("status,error", [(400, InputError), (401, ServiceError),
                                          (429, ServiceError), (500, ServiceError)])
async def test_refusals_become_the_libraries_errors(status, error):
    chat = RasaChat("http://rasa", transport=rasa([], status, {"message": "too long"}))
    with pytest.raises(error):
        await chat.send("local:web", "hi")


async def test_a_secret_rasa_does_not_share_is_named_in_the_error():
    chat = RasaChat("http://rasa", transport=rasa([], 401, {"error": "not valid"}))
    with pytest.raises(ServiceError, match="REST_CHANNEL_SECRET"):
        await chat.send("local:web", "hi")
