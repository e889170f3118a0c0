"""Who a REST message is from (issue #27 item 1): with REST_CHANNEL_SECRET the
conversation comes from a signed token, never from the body; without it the channel
serves loopback only."""

from __future__ import annotations

import aiohttp
import pytest

from bilingual_assistant.access.sender_tokens import SenderTokens
from bilingual_assistant.errors import ConfigurationError
from bilingual_assistant.knowledge.access import EVERYONE, EVERYTHING, Reader
from channels.rest import ValidatingRestInput
from tests.channels.serving import Agent, serve

SECRET = "r" * 43


async def post(url, body, token=None):
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    async with aiohttp.ClientSession() as client:
        async with client.post(f"{url}/webhook", json=body, headers=headers) as response:
            return response.status, await response.json()


async def test_with_signed_senders_the_conversation_is_the_tokens():
    agent = Agent()
    tokens = SenderTokens(SECRET)
    async with serve(ValidatingRestInput(sender_tokens=tokens), agent) as url:
        status, _ = await post(url, {"message": "hi"}, tokens.sign("oidc:ann:web"))
        assert status == 200
        status, _ = await post(url, {"sender": "oidc:ann:web", "message": "again"},
                               tokens.sign("oidc:ann:web"))
        assert status == 200
    assert [m.sender_id for m in agent.messages] == ["oidc:ann:web", "oidc:ann:web"]


@pytest.mark.parametrize("token", [None, "", "garbage",
                                   SenderTokens("x" * 43).sign("oidc:victim:web")])
async def test_without_a_valid_token_nothing_reaches_any_conversation(token):
    agent = Agent()
    async with serve(ValidatingRestInput(sender_tokens=SenderTokens(SECRET)), agent) as url:
        status, body = await post(url, {"sender": "oidc:victim:web", "message": "hi"}, token)
    assert status == 401 and "REST_CHANNEL_SECRET" in body["error"]
    assert agent.messages == []


async def test_a_token_cannot_be_pointed_at_another_conversation():
    agent = Agent()
    tokens = SenderTokens(SECRET)
    async with serve(ValidatingRestInput(sender_tokens=tokens), agent) as url:
        status, body = await post(url, {"sender": "oidc:victim:web", "message": "hi"},
                                  tokens.sign("oidc:mallory:web"))
    assert status == 401 and "sender" in body["error"]
    assert agent.messages == []


def test_from_credentials_signs_senders_when_the_secret_is_set(monkeypatch):
    monkeypatch.setenv("REST_CHANNEL_SECRET", SECRET)
    monkeypatch.setenv("RASA_HOST", "0.0.0.0")
    channel = ValidatingRestInput.from_credentials({"max_message_length": 100})
    assert channel.sender_tokens is not None and channel.max_message_length == 100


def test_without_a_secret_the_channel_refuses_to_serve_beyond_loopback(monkeypatch):
    monkeypatch.delenv("REST_CHANNEL_SECRET", raising=False)
    monkeypatch.setenv("RASA_HOST", "0.0.0.0")
    with pytest.raises(ConfigurationError, match="REST_CHANNEL_SECRET"):
        ValidatingRestInput.from_credentials(None)
    monkeypatch.setenv("RASA_HOST", "127.0.0.1")
    assert ValidatingRestInput.from_credentials(None).sender_tokens is None


def test_a_short_secret_stops_the_channel_at_start(monkeypatch):
    monkeypatch.setenv("REST_CHANNEL_SECRET", "too-short")
    with pytest.raises(ConfigurationError, match="at least 32"):
        ValidatingRestInput.from_credentials(None)


def test_the_socketio_channel_follows_the_same_rule(monkeypatch):
    from channels.socketio import SecureSocketIOInput

    monkeypatch.delenv("REST_CHANNEL_SECRET", raising=False)
    monkeypatch.setenv("RASA_HOST", "0.0.0.0")
    with pytest.raises(ConfigurationError, match="anonymous sessions"):
        SecureSocketIOInput.from_credentials({"session_persistence": True})
    monkeypatch.setenv("REST_CHANNEL_SECRET", SECRET)
    channel = SecureSocketIOInput.from_credentials({"session_persistence": True})
    assert channel.sender_tokens is not None
    monkeypatch.delenv("REST_CHANNEL_SECRET")
    monkeypatch.setenv("RASA_HOST", "127.0.0.1")
    assert SecureSocketIOInput.from_credentials({}).sender_tokens is None


async def test_the_reader_in_the_metadata_is_the_tokens_never_the_bodys():
    agent = Agent()
    tokens = SenderTokens(SECRET)
    hr = Reader(frozenset({"hr"}))
    async with serve(ValidatingRestInput(sender_tokens=tokens, metadata_keys=["reader"]),
                     agent) as url:
        forged = {"message": "hi", "metadata": {"reader": {"everything": True}}}
        assert (await post(url, forged, tokens.sign("oidc:ann:web", reader=hr)))[0] == 200
        assert (await post(url, forged, tokens.sign("oidc:bob:web")))[0] == 200
    readers = [Reader.from_metadata(m.metadata) for m in agent.messages]
    assert readers == [hr, EVERYONE]


async def test_unsigned_on_loopback_the_front_end_names_the_reader_else_everything():
    agent = Agent()
    async with serve(ValidatingRestInput(), agent) as url:
        await post(url, {"sender": "local", "message": "hi"})
        await post(url, {"sender": "local", "message": "hi",
                         "metadata": {"reader": {"groups": ["hr"]}}})
    assert [Reader.from_metadata(m.metadata) for m in agent.messages] == [
        EVERYTHING, Reader(frozenset({"hr"}))]


async def test_unsigned_senders_are_refused_from_a_name_other_than_loopback():
    """A page of another site whose name now points at 127.0.0.1 (DNS rebinding)
    sends its own Host."""
    agent = Agent()
    async with serve(ValidatingRestInput(), agent) as url:
        async with aiohttp.ClientSession() as client:
            async with client.post(f"{url}/webhook", json={"sender": "a", "message": "hi"},
                                   headers={"Host": "evil.example:5005"}) as response:
                assert response.status == 401
                assert "127.0.0.1" in (await response.json())["error"]
    assert agent.messages == []
