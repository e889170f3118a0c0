"""Two Rasa replicas on one PostgreSQL tracker store and one Redis lock store, each
conversation's messages sent to them in turn with overlapping sends: every
conversation is whole (benchmarks/replicas.py drives and checks; `make
benchmark-replicas` compares with Rasa's own `RedisLockStore`)."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from benchmarks.replicas import (
    Replicas,
    check,
    credentials_file,
    drive,
    endpoints_file,
    replica_env,
    summary,
    table,
)

pytestmark = pytest.mark.slow

REDIS_URL = "redis://127.0.0.1:6379/10"


def test_fifty_conversations_alternating_between_two_replicas_stay_whole(
        small_model: Path, work_dir: Path, postgres_url: str) -> None:
    token = uuid.uuid4().hex
    folder = work_dir / "replicas"
    folder.mkdir(exist_ok=True)
    replicas = Replicas(small_model, endpoints_file(folder, "ours", REDIS_URL),
                        credentials_file(folder), replica_env(postgres_url, REDIS_URL, token),
                        folder)
    try:
        plan = asyncio.run(drive(replicas.urls, conversations=50, messages=20, gap=2.0,
                                 burst=2, within=0.05))
        checked = asyncio.run(check(replicas.urls[1], token, plan, burst=2))
    finally:
        replicas.stop()
    row = summary("ours", plan, checked, 0)
    print(table([row]))
    assert row["answered 200"] == 1000, row
    assert row["sent before the last was answered"] > 50, row  # the sends did overlap
    broken = [c for c in checked if not c.intact]
    assert not broken, broken[:3]
    assert all(c.texts for c in checked)
    # Each message was answered by exactly one replica, once.
    assert all(sent.replies >= 1 for sent in plan)
