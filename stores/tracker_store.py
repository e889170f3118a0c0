"""Rasa's SQL tracker store with every event encrypted at rest (AES-256-GCM).

    tracker_store:
      type: stores.tracker_store.EncryptedSQLTrackerStore   # endpoints.yml

SQLite under `.data/` by default, PostgreSQL (or any SQLAlchemy URL) with
`DB_URL`. Each event's content (texts, slots, entities, metadata, answers) is
sealed with the current key of the keyring (`CONVERSATION_KEYS` or the key file),
bound to its conversation id; older keys still open older rows. In the clear stay
what queries need: the conversation id, event type, intent and action names and
the timestamp. The `sender_id` index is made on old databases too.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Dict, Optional, Text

import sqlalchemy as sa
import sqlalchemy.orm
from rasa.core.tracker_store import SQLTrackerStore, create_engine_kwargs
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY

from assistant.config import ConversationStoreSettings, load
from assistant.encryption import Keyring, keyring_from

logger = logging.getLogger(__name__)


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
        """Connects to the database of `DB_URL` with the keyring of the settings.

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
        """Stores the events the database does not hold yet, sealed."""
        await self.stream_events(tracker)
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
