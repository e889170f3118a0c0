"""Signed senders for the REST channel: the conversation comes from the token."""

import jwt
import pytest

from bilingual_assistant.access.sender_tokens import AUDIENCE, SenderTokens
from bilingual_assistant.errors import AuthenticationError, ConfigurationError

SECRET = "s" * 43


class Clock:
    now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_signed_sender_comes_back_until_it_expires():
    clock = Clock()
    tokens = SenderTokens(SECRET, clock)
    token = tokens.sign("oidc:u-1:web")
    assert tokens.sender(token) == "oidc:u-1:web"
    clock.now += 299
    assert tokens.sender(token) == "oidc:u-1:web"
    clock.now += 10
    with pytest.raises(AuthenticationError, match="expired"):
        tokens.sender(token)


@pytest.mark.parametrize("forge", [
    lambda: jwt.encode({"sub": "victim", "aud": AUDIENCE, "exp": 1_800_000_100}, "x" * 43,
                       algorithm="HS256"),  # another secret
    lambda: jwt.encode({"sub": "victim", "aud": AUDIENCE, "exp": 1_800_000_100}, None,
                       algorithm="none"),  # unsigned
    lambda: jwt.encode({"sub": "victim", "aud": "other", "exp": 1_800_000_100}, SECRET,
                       algorithm="HS256"),  # another audience
    lambda: jwt.encode({"sub": "victim", "aud": AUDIENCE}, SECRET, algorithm="HS256"),
    lambda: jwt.encode({"sub": "victim", "aud": AUDIENCE, "exp": 1_800_999_999}, SECRET,
                       algorithm="HS256"),  # meant to live for days
    lambda: jwt.encode({"sub": "", "aud": AUDIENCE, "exp": 1_800_000_100}, SECRET,
                       algorithm="HS256"),
    lambda: "not-a-token", lambda: "",
])
def test_forged_unsigned_foreign_or_everlasting_tokens_are_refused(forge):
    with pytest.raises(AuthenticationError):
        SenderTokens(SECRET, Clock()).sender(forge())


def test_a_short_secret_is_refused_with_how_to_make_one():
    with pytest.raises(ConfigurationError, match="at least 32"):
        SenderTokens("short")
