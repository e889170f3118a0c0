"""Rasa's SQL tracker store with every event encrypted at rest (AES-256-GCM).

    tracker_store:
      type: stores.tracker_store.EncryptedSQLTrackerStore   # endpoints.yml

SQLite under `.data/` by default, PostgreSQL (or any SQLAlchemy URL) with
`CONVERSATIONS_DB_URL`. Each event's content (texts, slots, entities, metadata, answers) is
sealed with the current key of the keyring (`CONVERSATION_KEYS` or the key file),
bound to its conversation id; older keys still open older rows. In the clear stay
what queries need: the conversation id, event type, intent and action names and
the timestamp. The `sender_id` index is made on old databases too.

While the database is down, Rasa's fail-safe wrapper would answer from an empty
in-memory conversation and keep nothing. Instead, the project's lock store asks
`conversations_ready()` before each message: a database out of reach refuses the
message (the REST channel answers 503 with Retry-After), so no turn is answered
that is not kept. A turn already in progress when the database goes away is kept
in memory and written as soon as the database answers again (tried every second),
and before anything of that conversation is read here.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import threading
import time
import weakref
from pathlib import Path
from typing import Any, Dict, Optional, Text, Tuple

import sqlalchemy as sa
import sqlalchemy.orm
from rasa.core.lock_store import LockError
from rasa.core.tracker_store import SQLTrackerStore, create_engine_kwargs
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY

from bilingual_assistant.config import ConversationStoreSettings, load
from bilingual_assistant.encryption import Keyring, keyring_from

logger = logging.getLogger(__name__)


# What a database out of reach raises (connection refused or cut, pool exhausted).
UNREACHABLE = (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.TimeoutError,
               sa.exc.DisconnectionError)


# How often turns kept while the database was out of reach are tried again.
RETRY_SECONDS = 1.0


class ConversationStoreUnavailableError(LockError):
    """The conversations' database cannot be reached: the message is not processed.

    A `LockError`: Rasa's lock store is where each message starts, and the REST
    channel answers lock errors with 503."""


def _sqlite_folder(url: Text) -> None:
    """Makes the folder of a SQLite file URL (`sqlite:///.data/x.db`)."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and url[len(prefix):] not in ("", ":memory:"):
        Path(url[len(prefix):]).parent.mkdir(parents=True, exist_ok=True)


class EncryptedSQLTrackerStore(SQLTrackerStore):
    """`SQLTrackerStore` whose `data` column holds sealed events."""

    engine: sa.engine.Engine  # made by Rasa's SQLTrackerStore, rebuilt here

    def __init__(
        self,
        domain: Any = None,
        event_broker: Any = None,
        keyring: Optional[Keyring] = None,
        db_url: Optional[Text] = None,
        **kwargs: Any,
    ) -> None:
        """Connects to the database of `CONVERSATIONS_DB_URL` with the keyring of the settings.

        Args:
            domain: Rasa's domain.
            event_broker: Rasa's event broker, if any.
            keyring: the keys (from the settings by default).
            db_url: the database (from the settings by default).
            **kwargs: Rasa's other tracker store options.
        """
        settings = load(ConversationStoreSettings)
        url = db_url or settings.db_url
        _sqlite_folder(url)
        if keyring is None:
            keyring, origin = keyring_from(settings.keys, Path(settings.key_file))
            logger.info(f"Conversations are encrypted with key '{keyring.current}' "
                        f"(keys from {origin}).")
        self.keyring = keyring
        for ignored in ("host", "dialect", "db", "url"):
            kwargs.pop(ignored, None)
        super().__init__(domain=domain, host=url, event_broker=event_broker, **kwargs)
        self._check_connections_before_use()
        self._ensure_sender_index()
        # Turns whose save failed because the database was out of reach, by
        # conversation: the latest tracker (saving it writes every missing event).
        self._unsaved: Dict[Text, DialogueStateTracker] = {}
        self._unsaved_lock = threading.Lock()
        self._down_since: Optional[float] = None
        self._writer: Optional[threading.Thread] = None
        _STORES.add(self)

    def _check_connections_before_use(self) -> None:
        """Rebuilds the engine with `pool_pre_ping`: a connection the database
        closed (a PostgreSQL restart, a failover) is replaced before it is used.
        Without it the first message after a restart failed to read its
        conversation, and Rasa's fail-safe store answered it from an empty
        in-memory conversation that was never saved (seen:
        tests/integration/test_database_restart.py lost that message)."""
        if self.engine.dialect.name == "sqlite":
            return
        url = self.engine.url
        self.engine.dispose()
        self.engine = sa.create_engine(url, pool_pre_ping=True,
                                       **create_engine_kwargs(url))
        self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)

    def _ensure_sender_index(self) -> None:
        """`create_all` skips a table that exists, so old databases lack the index
        that every conversation lookup needs (Rasa's PR #3645 left it to users)."""
        indexes = sa.inspect(self.engine).get_indexes("events")
        if not any(index["column_names"] == ["sender_id"] for index in indexes):
            with self.engine.begin() as connection:
                connection.execute(sa.text(
                    "CREATE INDEX ix_events_sender_id ON events (sender_id)"))
            logger.info("Created the index ix_events_sender_id on events (sender_id).")

    def _seal(self, sender_id: Text, event: Dict[Text, Any]) -> Text:
        return self.keyring.seal(json.dumps(event).encode(), sender_id.encode())

    def _open(self, sender_id: Text, data: Text) -> Dict[Text, Any]:
        if not Keyring.is_sealed(data):
            return json.loads(data)  # written before encryption was turned on
        return json.loads(self.keyring.open(data, sender_id.encode()))

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Stores the events the database does not hold yet, sealed; with the
        database out of reach, keeps the turn to write it when it is back."""
        await self.stream_events(tracker)
        try:
            self._write(tracker)
        except UNREACHABLE as error:
            with self._unsaved_lock:
                self._unsaved[tracker.sender_id] = copy.deepcopy(tracker)
            self._keep_trying()
            logger.error(f"The conversation database is out of reach ({type(error).__name__}); "
                         f"conversation '{tracker.sender_id}' is kept in memory and written "
                         f"when it answers again. New messages are refused until then.")

    def ready(self) -> None:
        """Checks that the database answers and writes the turns kept while it did not.

        Raises:
            ConversationStoreUnavailableError: if it does not answer.
        """
        try:
            with self.engine.connect() as connection:
                connection.execute(sa.text("SELECT 1"))
            self._flush()
        except UNREACHABLE as error:
            refused = ConversationStoreUnavailableError(
                f"The conversation database ({self.engine.url.render_as_string(True)}) cannot "
                f"be reached ({type(error).__name__}); the message was not processed. "
                f"Start the database or correct CONVERSATIONS_DB_URL; messages are taken "
                f"again as soon as "
                f"it answers.")
            if self._down_since is None:  # one line per outage, not per message
                self._down_since = time.monotonic()
                logger.error(f"{refused} Cause: {str(error).splitlines()[0][:300]}")
            raise refused from error
        if self._down_since is not None:
            logger.info(f"The conversation database answers again after "
                        f"{time.monotonic() - self._down_since:.0f} s; messages are taken.")
            self._down_since = None

    def _keep_trying(self) -> None:
        """Writes the kept turns in the background, every second until the database
        takes them (also when no message comes to this process)."""
        if self._writer is not None and self._writer.is_alive():
            return

        def retry() -> None:
            while self._unsaved:
                time.sleep(RETRY_SECONDS)
                try:
                    self._flush()
                except UNREACHABLE:
                    continue

        self._writer = threading.Thread(target=retry, name="unsaved-turns", daemon=True)
        self._writer.start()

    def _flush(self, sender_id: Optional[Text] = None) -> None:
        """Writes the kept turns (of one conversation, or all)."""
        with self._unsaved_lock:
            senders = [sender_id] if sender_id is not None else list(self._unsaved)
            for sender in senders:
                tracker = self._unsaved.get(sender)
                if tracker is None:
                    continue
                self._write(tracker)
                del self._unsaved[sender]
                logger.info(f"Conversation '{sender}': the turn kept while the database "
                            f"was out of reach is written.")

    def _write(self, tracker: DialogueStateTracker) -> None:
        with self.session_scope() as session:
            for event in self._additional_events(session, tracker):
                data = event.as_dict()
                session.add(
                    self.SQLEvent(
                        sender_id=tracker.sender_id,
                        type_name=event.type_name,
                        timestamp=data.get("timestamp"),
                        intent_name=data.get("parse_data", {}).get("intent", {}).get(
                            INTENT_NAME_KEY),
                        action_name=data.get("name"),
                        data=self._seal(tracker.sender_id, data),
                    )
                )
            session.commit()

    async def _retrieve(
        self, sender_id: Text, fetch_events_from_all_sessions: bool
    ) -> Optional[DialogueStateTracker]:
        if self._unsaved:
            self._flush(sender_id)  # a kept turn comes before anything is read
        with self.session_scope() as session:
            rows = self._event_query(
                session, sender_id, fetch_events_from_all_sessions=fetch_events_from_all_sessions
            ).all()
            events = [self._open(sender_id, row.data) for row in rows]
        if self.domain and events:
            return DialogueStateTracker.from_dict(sender_id, events, self.domain.slots)
        return None

    def forget(self, sender_id: Text) -> int:
        """Deletes a conversation (the right to be forgotten); returns the events deleted."""
        with self.session_scope() as session:
            deleted = session.query(self.SQLEvent).filter(
                self.SQLEvent.sender_id == sender_id).delete(synchronize_session=False)
            session.commit()
        logger.info(f"Deleted conversation '{sender_id}' ({deleted} events).")
        return int(deleted)

    def forget_person(self, subject: Text) -> Tuple[int, int]:
        """Deletes every conversation of the person `subject` (`oidc:…`, `key:…`):
        the one named by the subject itself and each `<subject>:<conversation>`
        the API opened for them. Returns (conversations, events) deleted."""
        with self.session_scope() as session:
            theirs = sa.or_(
                self.SQLEvent.sender_id == subject,
                self.SQLEvent.sender_id.startswith(f"{subject}:", autoescape=True))
            conversations = session.query(
                sa.func.count(sa.distinct(self.SQLEvent.sender_id))).filter(theirs).scalar() or 0
            deleted = session.query(self.SQLEvent).filter(theirs).delete(
                synchronize_session=False)
            session.commit()
        logger.info("conversations.person_forgotten",
                    extra={"conversations": conversations, "events": deleted})
        return int(conversations), int(deleted)

    def reseal(self) -> int:
        """Seals every event with the current key (after a rotation, before an old key
        is retired); returns how many rows changed."""
        changed = 0
        with self.session_scope() as session:
            for row in session.query(self.SQLEvent).yield_per(500):
                if row.data.startswith(f"aesgcm1:{self.keyring.current}:"):
                    continue
                row.data = self._seal(row.sender_id, self._open(row.sender_id, row.data))
                changed += 1
            session.commit()
        return changed


_STORES: weakref.WeakSet[EncryptedSQLTrackerStore] = weakref.WeakSet()


async def conversations_ready() -> None:
    """Checks every conversation store of this process (see `ready`).

    Raises:
        ConversationStoreUnavailableError: if one cannot be reached.
    """
    for store in list(_STORES):
        await asyncio.to_thread(store.ready)
