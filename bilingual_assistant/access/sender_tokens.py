"""Signed senders for Rasa's REST channel: who a message is from, vouched for by a
service that knows (the API, a trusted front end), so that the channel never takes
a conversation id from the request body when others can reach it.

A token is a JWT (HS256) over `REST_CHANNEL_SECRET` whose `sub` is the
conversation id, for the audience `rasa-rest`, valid for minutes. Its `reader`
claim says which documents the person may read (`knowledge/access.py`): their
groups, or everything; a token without it reads the documents that name no groups.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Text

import jwt

from bilingual_assistant.errors import AuthenticationError, ConfigurationError
from bilingual_assistant.knowledge.access import EVERYONE, Reader

AUDIENCE = "rasa-rest"
TOKEN_SECONDS = 300
MAX_TOKEN_SECONDS = 3600  # a token meant to last longer is refused
LEEWAY_SECONDS = 5
MIN_SECRET_CHARACTERS = 32  # `make secrets` makes 43 (32 random bytes, base64)
HOW = ("Send `Authorization: Bearer <token>` signed with REST_CHANNEL_SECRET "
       "(the API does this for its /v1/chat).")


@dataclass(frozen=True)
class SignedSender:
    """What a valid token vouches for: the conversation and who is asking."""

    sender: Text
    reader: Reader


class SenderTokens:
    """Signs and checks the tokens that say which conversation a message belongs to."""

    def __init__(self, secret: Text, clock: Callable[[], float] = time.time) -> None:
        """Raises:
            ConfigurationError: for a secret shorter than `MIN_SECRET_CHARACTERS`.
        """
        if len(secret.strip()) < MIN_SECRET_CHARACTERS:
            raise ConfigurationError(
                f"REST_CHANNEL_SECRET has {len(secret.strip())} characters; it needs at "
                f"least {MIN_SECRET_CHARACTERS} (`make secrets` makes one, or "
                f"`python -c \"import secrets; print(secrets.token_urlsafe(32))\"`).")
        self._secret = secret.strip()
        self.clock = clock

    def sign(self, sender: Text, seconds: int = TOKEN_SECONDS,
             reader: Reader = EVERYONE) -> Text:
        """A token for messages of the conversation `sender` by `reader`."""
        now = int(self.clock())
        return jwt.encode({"sub": sender, "aud": AUDIENCE, "iat": now, "exp": now + seconds,
                           "reader": reader.to_metadata()},
                          self._secret, algorithm="HS256")

    def sender(self, token: Text) -> Text:
        """The conversation a token vouches for (see `check`)."""
        return self.check(token).sender

    def check(self, token: Text) -> SignedSender:
        """The conversation a token vouches for, and who is asking.

        Raises:
            AuthenticationError: for a missing, malformed, forged or expired token.
        """
        if not token:
            raise AuthenticationError(f"This channel needs a signed sender. {HOW}")
        try:  # times are checked below, against this object's clock
            claims = jwt.decode(token, self._secret, algorithms=["HS256"], audience=AUDIENCE,
                                options={"require": ["sub", "exp", "aud"],
                                         "verify_exp": False, "verify_iat": False})
        except jwt.PyJWTError:
            raise AuthenticationError(f"The sender token is not valid. {HOW}") from None
        now, expires = self.clock(), claims["exp"]
        if not isinstance(expires, (int, float)) or expires + LEEWAY_SECONDS <= now:
            raise AuthenticationError(f"The sender token has expired. {HOW}")
        if expires - now > MAX_TOKEN_SECONDS:
            raise AuthenticationError(
                f"The sender token is valid for more than {MAX_TOKEN_SECONDS} s. {HOW}")
        if not isinstance(claims["sub"], str) or not claims["sub"]:
            raise AuthenticationError(f"The sender token names no conversation. {HOW}")
        reader = Reader.from_metadata({"reader": claims.get("reader")})
        return SignedSender(claims["sub"], reader or EVERYONE)
