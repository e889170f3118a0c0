"""API keys for scripts and other services: shown once, stored hashed, scoped,
expiring and revocable; a key may name groups, whose documents it then reads."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from typing import Callable, Iterable, List, Optional, Protocol, Sequence, Text, Tuple

from bilingual_assistant.access.principal import SCOPES, Principal
from bilingual_assistant.errors import AuthenticationError, InputError, NotFoundError
from bilingual_assistant.knowledge.access import check_groups

PREFIX = "ba"  # "bilingual assistant": lets secret scanners and people spot a key
_TOKEN = re.compile(rf"^{PREFIX}_([0-9a-f]{{12}})_([A-Za-z0-9_-]{{43}})$")
MAX_NAME = 80
HOW = "Send it as `Authorization: Bearer ba_…` (make one: python -m apps.cli.api_keys create)."


def digest(secret: Text) -> Text:
    """The stored form of a key's secret. A key holds 256 random bits, so a fast hash
    is enough (a slow one protects guessable passwords, not random keys)."""
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


@dataclass(frozen=True)
class KeyRecord:
    """What is stored of a key: never the key itself."""

    id: Text
    name: Text
    scopes: Tuple[Text, ...]
    digest: Text
    created_at: float
    expires_at: Optional[float] = None
    revoked_at: Optional[float] = None
    last_used_at: Optional[float] = None
    groups: Text = ""  # space separated; the documents it reads besides everyone's

    def state(self, now: float) -> Text:
        """`active`, `expired` or `revoked`."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and now >= self.expires_at:
            return "expired"
        return "active"


class KeyStore(Protocol):
    """Where key records live (SQL in the service; a dict in tests)."""

    def add(self, record: KeyRecord) -> None:
        """Stores a new record."""

    def get(self, key_id: Text) -> Optional[KeyRecord]:
        """The record with this id, or None."""

    def all(self) -> List[KeyRecord]:
        """Every record, newest first."""

    def mark_used(self, key_id: Text, at: float) -> None:
        """Records a use: sets only `last_used_at`, and only while the key is not
        revoked, so that a request in flight never writes a revocation back."""

    def mark_revoked(self, key_id: Text, at: float) -> None:
        """Sets `revoked_at` unless it is already set (the first revocation stays)."""


def check_scopes(scopes: Iterable[Text]) -> Tuple[Text, ...]:
    """The scopes, sorted and without repeats.

    Raises:
        InputError: for none, or an unknown one (the message lists the known ones).
    """
    chosen = tuple(sorted(set(scopes)))
    unknown = [s for s in chosen if s not in SCOPES]
    if unknown or not chosen:
        problem = f"Unknown scope(s): {', '.join(unknown)}." if unknown else "No scope given."
        raise InputError(f"{problem} Choose from: {', '.join(SCOPES)}.")
    return chosen


class ApiKeys:
    """Issues, checks and revokes API keys."""

    def __init__(self, store: KeyStore, clock: Callable[[], float] = time.time) -> None:
        """Args:
        store: where the records are kept.
        clock: seconds since the epoch (tests pass their own).
        """
        self.store = store
        self.clock = clock

    def issue(self, name: Text, scopes: Sequence[Text], days: Optional[float] = None,
              groups: Sequence[Text] = ()) -> Tuple[Text, KeyRecord]:
        """A new key, returned once: only its digest is stored.

        Args:
            name: what it is for ("nightly export").
            scopes: what it may do (`SCOPES`).
            days: lifetime; None never expires.
            groups: the groups whose documents it reads (besides the documents that
                name no groups); a key with the `admin` scope reads every document.

        Raises:
            InputError: for an empty or over-long name, an unknown scope, a lifetime
                that is not positive, or a name that is not a group name.
        """
        name = name.strip()
        if not name or len(name) > MAX_NAME:
            raise InputError(f"Give the key a name of 1 to {MAX_NAME} characters.")
        if days is not None and not days > 0:
            raise InputError("A key's lifetime must be a positive number of days.")
        chosen = check_scopes(scopes)
        named = check_groups(groups, "groups")
        key_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
        now = self.clock()
        record = KeyRecord(key_id, name, chosen, digest(secret), now,
                           None if days is None else now + days * 86400,
                           groups=" ".join(named))
        self.store.add(record)
        return f"{PREFIX}_{key_id}_{secret}", record

    def authenticate(self, token: Text) -> Principal:
        """The caller a key stands for.

        Raises:
            AuthenticationError: for a malformed, unknown, wrong, expired or revoked
                key (the same message for the first three: no hint for guessers).
        """
        match = _TOKEN.match(token.strip())
        record = self.store.get(match.group(1)) if match else None
        if match is None or record is None or not hmac.compare_digest(
                record.digest, digest(match.group(2))):
            raise AuthenticationError(f"The API key is not valid. {HOW}")
        now = self.clock()
        state = record.state(now)
        if state != "active":
            raise AuthenticationError(
                f"The API key '{record.name}' ({record.id}) is {state}; ask an "
                f"administrator for a new one.")
        self.store.mark_used(record.id, now)
        return Principal(subject=f"key:{record.id}", name=record.name, roles=frozenset(),
                         scopes=frozenset(record.scopes), via="api_key",
                         groups=frozenset(record.groups.split()))

    def revoke(self, key_id: Text) -> KeyRecord:
        """Revokes a key at once (idempotent).

        Raises:
            NotFoundError: when no key has this id.
        """
        if self.store.get(key_id) is None:
            raise NotFoundError(f"No API key has the id {key_id!r}; list them to see the ids.")
        self.store.mark_revoked(key_id, self.clock())
        record = self.store.get(key_id)
        assert record is not None  # keys are never deleted
        return record

    def list(self) -> List[KeyRecord]:
        """Every key's record, newest first."""
        return self.store.all()
