"""Browser sessions after sign-in: a random token in an HTTP-only cookie, stored
hashed with who signed in (their roles and groups), ending at expiry or sign-out."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Callable, Optional, Protocol, Text

from bilingual_assistant.access.principal import Principal
from bilingual_assistant.errors import AuthenticationError

SESSION_HOURS = 8.0


def token_digest(token: Text) -> Text:
    """The stored form of a session token (256 random bits: a fast hash suffices)."""
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


@dataclass(frozen=True)
class SessionRecord:
    """A session as stored."""

    digest: Text
    subject: Text
    name: Text
    roles: Text  # space separated
    created_at: float
    expires_at: float
    groups: Text = ""  # space separated; the documents they may read


class SessionStore(Protocol):
    """Sessions (SQL in the service; a dict in tests). A pending sign-in is kept in
    the browser's sealed login cookie, not here."""

    def add(self, record: SessionRecord) -> None:
        """Stores a session."""

    def get(self, digest: Text) -> Optional[SessionRecord]:
        """The session, or None."""

    def remove(self, digest: Text) -> None:
        """Ends a session."""


class Sessions:
    """Creates, checks and ends sessions."""

    def __init__(self, store: SessionStore, clock: Callable[[], float] = time.time,
                 hours: float = SESSION_HOURS) -> None:
        self.store, self.clock, self.hours = store, clock, hours

    def create(self, principal: Principal) -> Text:
        """A new session's token (for the cookie; only its hash is stored)."""
        token = secrets.token_urlsafe(32)
        now = self.clock()
        self.store.add(SessionRecord(token_digest(token), principal.subject, principal.name,
                                     " ".join(sorted(principal.roles)), now,
                                     now + self.hours * 3600,
                                     " ".join(sorted(principal.groups))))
        return token

    def principal(self, token: Text) -> Principal:
        """Who the session is.

        Raises:
            AuthenticationError: for an unknown, ended or expired session.
        """
        record = self.store.get(token_digest(token))
        if record is None or record.expires_at <= self.clock():
            raise AuthenticationError("Your session has ended; sign in again.")
        return Principal(subject=record.subject, name=record.name,
                         roles=frozenset(record.roles.split()), scopes=frozenset(),
                         via="session", groups=frozenset(record.groups.split()))

    def end(self, token: Text) -> None:
        """Signs the session out (idempotent)."""
        self.store.remove(token_digest(token))
