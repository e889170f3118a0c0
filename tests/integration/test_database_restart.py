"""PostgreSQL restarting under a running Rasa: every connection Rasa holds is cut (as
a server restart cuts them); the next messages are answered without restarting
Rasa, and no event is lost."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from benchmarks.replicas import MESSAGES, Sent, check, send, start_replicas
from tests.conftest import PG_ADMIN

pytestmark = pytest.mark.slow

REDIS_URL = "redis://127.0.0.1:6379/10"


def cut_connections(database: str) -> int:
    """Ends every session on `database`, as a PostgreSQL restart does."""
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        ended = connection.execute(sa.text(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = :name AND pid <> pg_backend_pid()"), {"name": database}).scalar()
    admin.dispose()
    return int(ended or 0)


def talk(urls, messages) -> None:
    """Sends the messages one after another, each after the reply to the last."""
    import aiohttp

    async def each():
        async with aiohttp.ClientSession() as session:
            for sent in messages:
                await send(session, urls, sent)

    asyncio.run(each())


def test_rasa_answers_on_after_the_database_cut_its_connections(
        small_model: Path, work_dir: Path, postgres_url: str) -> None:
    rasa = start_replicas(small_model, work_dir / "database-restart", postgres_url, REDIS_URL,
                          count=1)
    conversation = f"restart-{uuid.uuid4().hex[:6]}"
    plan = [Sent(conversation, text, replica=0) for text in MESSAGES[:6]]

    try:
        talk(rasa.urls, plan[:3])
        assert cut_connections(postgres_url.rsplit("/", 1)[1]) >= 1
        talk(rasa.urls, plan[3:])
        [checked] = asyncio.run(check(rasa.urls[0], rasa.token, plan))
    finally:
        rasa.stop()
    assert [s.status for s in plan] == [200] * 6
    assert all(s.replies >= 1 for s in plan)
    assert checked.intact and checked.texts == list(MESSAGES[:6]), checked


def test_while_the_database_is_down_messages_are_refused_and_none_is_lost(
        small_model: Path, work_dir: Path, postgres_url: str) -> None:
    from tests.stores.test_tracker_store import allow_connections

    folder = work_dir / "database-down"
    rasa = start_replicas(small_model, folder, postgres_url, REDIS_URL, count=1)
    conversation = f"down-{uuid.uuid4().hex[:6]}"
    plan = [Sent(conversation, text, replica=0) for text in MESSAGES[:7]]

    try:
        talk(rasa.urls, plan[:2])
        allow_connections(postgres_url, False)
        try:
            talk(rasa.urls, plan[2:4])  # the database is down
        finally:
            allow_connections(postgres_url, True)
        talk(rasa.urls, plan[4:])  # back, and Rasa was not restarted
        answered = [s for s in plan if s.status == 200]
        [checked] = asyncio.run(check(rasa.urls[0], rasa.token, answered))
    finally:
        rasa.stop()
    assert [s.status for s in plan] == [200, 200, 503, 503, 200, 200, 200]
    assert all(s.seconds < 10 for s in plan[2:4])  # refused at once, not hung
    assert checked.intact and checked.texts == [s.text for s in answered], checked
    log = (folder / "replica-0.log").read_text()
    assert log.count("cannot be reached") == 1  # one line for the outage
    assert "The conversation database answers again after" in log
    assert "Falling back to use the 'InMemoryTrackerStore'" not in log
