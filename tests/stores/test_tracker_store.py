"""Conversations at rest: encrypted in the SQLite file and in PostgreSQL's rows,
read back whole, rotated keys, the right to be forgotten."""

import base64
import hashlib
from pathlib import Path

import sqlalchemy as sa
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bilingual_assistant.encryption import Keyring
from stores.tracker_store import EncryptedSQLTrackerStore

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = Domain.load(str(ROOT / "domain.yml"))
CANARY = "canary-7f3a9c 明天北京"


def ring(*names):
    return Keyring([(name, hashlib.sha256(name.encode()).digest()) for name in names])


def conversation(sender, text=CANARY):
    return DialogueStateTracker.from_events(sender, [
        ActionExecuted("action_listen"),
        UserUttered(text, {"intent": {"name": "ask_weather", "confidence": 0.9}}),
        SlotSet("city", "Beijing"),
        BotUttered(f"reply to {text}", metadata={"answer": {"text": text}}),
    ], slots=DOMAIN.slots)


def sqlite_store(tmp_path, keyring=None, name="conversations.db"):
    return EncryptedSQLTrackerStore(DOMAIN, keyring=keyring or ring("k1"),
                                    db_url=f"sqlite:///{tmp_path / name}")


async def test_conversations_are_encrypted_in_the_sqlite_file(tmp_path):
    store = sqlite_store(tmp_path)
    await store.save(conversation("alice"))
    store.engine.dispose()
    raw = (tmp_path / "conversations.db").read_bytes()
    assert CANARY.encode() not in raw and "明天北京".encode() not in raw
    assert b"Beijing" not in raw
    back = await sqlite_store(tmp_path).retrieve("alice")
    assert back.latest_message.text == CANARY
    assert back.get_slot("city") == "Beijing"
    assert back.events[-1].metadata["answer"]["text"] == CANARY


async def test_the_sender_id_index_exists_also_on_an_old_database(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    with engine.begin() as connection:  # a table made without the index
        connection.execute(sa.text(
            "CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id VARCHAR(255) NOT NULL, "
            "type_name VARCHAR(255) NOT NULL, timestamp FLOAT, intent_name VARCHAR(255), "
            "action_name VARCHAR(255), data TEXT)"))
        connection.execute(sa.text(
            "INSERT INTO events (sender_id, type_name, timestamp, data) VALUES "
            "('legacy', 'action', 1.0, '{\"event\": \"action\", \"name\": \"action_listen\", "
            "\"timestamp\": 1.0}')"))
    store = sqlite_store(tmp_path, name="old.db")
    indexes = {i["name"] for i in sa.inspect(store.engine).get_indexes("events")}
    assert "ix_events_sender_id" in indexes
    legacy = await store.retrieve("legacy")  # rows from before encryption still read
    assert legacy.latest_action_name == "action_listen"


async def test_rotated_keys_new_rows_use_the_new_key_old_rows_still_open(tmp_path):
    await sqlite_store(tmp_path, ring("k1")).save(conversation("alice"))
    rotated = sqlite_store(tmp_path, ring("k2", "k1"))
    await rotated.save(conversation("bob", "second canary"))
    with rotated.engine.connect() as connection:
        keys = dict(connection.execute(sa.text(
            "SELECT sender_id, substr(data, 1, 11) FROM events")).fetchall())
    assert keys == {"alice": "aesgcm1:k1:", "bob": "aesgcm1:k2:"}
    assert (await rotated.retrieve("alice")).latest_message.text == CANARY
    assert rotated.reseal() == 4  # alice's four events, now under k2
    only_new = sqlite_store(tmp_path, ring("k2"))
    assert (await only_new.retrieve("alice")).latest_message.text == CANARY


async def test_a_conversation_can_be_forgotten(tmp_path):
    store = sqlite_store(tmp_path)
    await store.save(conversation("alice"))
    await store.save(conversation("bob"))
    assert store.forget("alice") == 4
    assert await store.retrieve("alice") is None
    assert (await store.retrieve("bob")).latest_message.text == CANARY
    assert set(await store.keys()) == {"bob"}


async def test_conversations_are_encrypted_in_postgresql(postgres_url):
    store = EncryptedSQLTrackerStore(DOMAIN, keyring=ring("k1"), db_url=postgres_url)
    await store.save(conversation("alice"))
    with store.engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT * FROM events")).fetchall()
        indexes = {i["name"] for i in sa.inspect(connection).get_indexes("events")}
    assert len(rows) == 4 and "ix_events_sender_id" in indexes
    dump = " ".join(str(value) for row in rows for value in row)
    assert "canary" not in dump and "Beijing" not in dump
    again = EncryptedSQLTrackerStore(DOMAIN, keyring=ring("k1"), db_url=postgres_url)
    assert (await again.retrieve("alice")).latest_message.text == CANARY
    assert again.forget("alice") == 4
    store.engine.dispose()
    again.engine.dispose()


def test_the_project_names_this_store_in_its_endpoints():
    import yaml

    endpoints = yaml.safe_load((ROOT / "endpoints.yml").read_text())
    assert endpoints["tracker_store"]["type"] == "stores.tracker_store.EncryptedSQLTrackerStore"


def test_the_command_line_forgets_a_conversation(tmp_path):
    import asyncio
    import os
    import subprocess
    import sys

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    keys = "k1:" + base64.b64encode(hashlib.sha256(b"k1").digest()).decode()
    store = EncryptedSQLTrackerStore(DOMAIN, keyring=Keyring.parse(keys), db_url=url)
    asyncio.run(store.save(conversation("alice")))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CONVERSATIONS_DB_URL": url,
           "CONVERSATION_KEYS": keys}
    result = subprocess.run([sys.executable, "-m", "apps.cli.conversations", "forget", "alice"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Deleted conversation 'alice': 4 events." in result.stdout
    assert asyncio.run(store.retrieve("alice")) is None
    asyncio.run(store.save(conversation("oidc:ann:web")))
    result = subprocess.run([sys.executable, "-m", "apps.cli.conversations", "forget-person",
                             "oidc:ann"], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=120)
    assert "Deleted 1 conversation(s) of 'oidc:ann': 4 events." in result.stdout
    assert asyncio.run(store.retrieve("oidc:ann:web")) is None


def allow_connections(url: str, allowed: bool) -> None:
    """Takes a PostgreSQL database out of reach (every session cut, new ones refused)
    or brings it back: a database server that is down, for this database only."""
    from tests.conftest import PG_ADMIN

    name = url.rsplit("/", 1)[1]
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(
            f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(allowed).lower()}'))
        if not allowed:
            connection.execute(sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                {"n": name})
    admin.dispose()


async def test_a_database_out_of_reach_refuses_messages_and_loses_no_turn(postgres_url):
    import pytest

    from stores.tracker_store import ConversationStoreUnavailableError, conversations_ready

    store = EncryptedSQLTrackerStore(DOMAIN, keyring=ring("k1"), db_url=postgres_url)
    await store.save(conversation("carol", "first"))
    store.ready()
    allow_connections(postgres_url, False)
    try:
        # A turn in progress when the database went away: kept, not lost.
        tracker = conversation("carol", "first")
        tracker.update(UserUttered("second", {"intent": {"name": "greet"}}))
        await store.save(tracker)
        with pytest.raises(ConversationStoreUnavailableError, match="CONVERSATIONS_DB_URL"):
            store.ready()
        with pytest.raises(ConversationStoreUnavailableError):
            await conversations_ready()  # what the lock store asks before each message
    finally:
        allow_connections(postgres_url, True)
    import time

    deadline = time.monotonic() + 10  # written in the background, with no new message
    while store._unsaved and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not store._unsaved
    await conversations_ready()  # answers again, without a restart
    again = EncryptedSQLTrackerStore(DOMAIN, keyring=ring("k1"), db_url=postgres_url)
    texts = [e.text for e in (await again.retrieve("carol")).events
             if isinstance(e, UserUttered)]
    assert texts == ["first", "second"]
    store.engine.dispose()
    again.engine.dispose()


async def test_a_person_is_forgotten_in_every_conversation_and_only_they(tmp_path):
    store = sqlite_store(tmp_path)
    for sender in ("oidc:ann", "oidc:ann:web", "oidc:ann:c-2", "oidc:anna:web",
                   "oidc:bob:web", "oidc:ann_x:web"):
        await store.save(conversation(sender, f"{CANARY} {sender}"))
    assert store.forget_person("oidc:ann") == (3, 12)
    assert set(await store.keys()) == {"oidc:anna:web", "oidc:bob:web", "oidc:ann_x:web"}
    # LIKE's wildcards in a subject are letters, not patterns.
    assert store.forget_person("oidc:ann%") == (0, 0)
    assert store.forget_person("oidc:ann_") == (0, 0)
    assert set(await store.keys()) == {"oidc:anna:web", "oidc:bob:web", "oidc:ann_x:web"}
