"""Handoffs on a SQLite file and on the real PostgreSQL (issue #28 item 2 and 3):
one open handoff per conversation and one winner per claim, however many replicas
or agents act at once; what was said is sealed at rest."""

import threading

import pytest

from bilingual_assistant.adapters.sql_handoff_store import SqlHandoffStore
from bilingual_assistant.adapters.sql_service_store import connect
from bilingual_assistant.encryption import Keyring, new_key_entry
from bilingual_assistant.errors import ConflictError
from bilingual_assistant.handoff.models import HandoffMessage
from bilingual_assistant.handoff.service import HandoffService
from tests.contract.test_sql_service_store import every_stored_text


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, tmp_path):
    url = (f"sqlite:///{tmp_path}/api.db" if request.param == "sqlite"
           else request.getfixturevalue("postgres_url"))
    engine = connect(url)
    yield engine
    engine.dispose()


def together(count, work):
    """Runs `work(n)` on `count` threads released at the same moment; their results."""
    start, results = threading.Barrier(count), [None] * count

    def run(n):
        start.wait()
        try:
            results[n] = work(n)
        except Exception as error:  # noqa: BLE001 - the test inspects what was raised
            results[n] = error

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_replicas_asking_at_once_open_one_handoff_per_conversation(engine):
    service = HandoffService(SqlHandoffStore(engine))
    opened = together(8, lambda n: service.request(
        "telegram:42:42", "telegram", "telegram:42:42", "zh", "asked",
        [HandoffMessage("", 0, 1.0, "user", f"转人工 {n}")]))
    assert len({h.id for h in opened}) == 1
    handoff = opened[0]
    assert service.open_for("telegram:42:42") == handoff
    assert len(service.messages(handoff.id)) == 1  # the winner's transcript only
    closed = service.cancel("telegram:42:42")
    assert closed.state == "closed" and closed.outcome == "cancelled"
    again = service.request("telegram:42:42", "telegram", "telegram:42:42", "zh", "misses")
    assert again.id != handoff.id and again.reason == "misses"


def test_two_agents_claiming_at_once_cannot_both_win(engine):
    service = HandoffService(SqlHandoffStore(engine))
    handoff = service.request("oidc:ann:web", "rest", "oidc:ann", "en", "asked")
    results = together(8, lambda n: service.claim(handoff.id, f"agent-{n}"))
    won = [r for r in results if not isinstance(r, Exception)]
    lost = [r for r in results if isinstance(r, ConflictError)]
    assert len(won) == 1 and len(lost) == 7
    winner = won[0].agent
    assert all(f"{winner} has this conversation" in str(e) for e in lost)
    assert service.get(handoff.id).agent == winner


def test_messages_appended_at_once_are_all_kept_in_order(engine):
    store = SqlHandoffStore(engine)
    service = HandoffService(store)
    handoff = service.request("oidc:ann:web", "rest", "oidc:ann", "en", "asked")
    said = together(6, lambda n: service.user_said("oidc:ann:web", f"message {n}"))
    assert not [s for s in said if isinstance(s, Exception)]
    messages = service.messages(handoff.id)
    assert [m.number for m in messages] == [1, 2, 3, 4, 5, 6]
    assert sorted(m.text for m in messages) == [f"message {n}" for n in range(6)]


def test_what_was_said_is_sealed_at_rest(engine):
    keyring = Keyring.parse(new_key_entry("k1"))
    service = HandoffService(SqlHandoffStore(engine, keyring))
    handoff = service.request("oidc:ann:web", "rest", "oidc:ann", "zh", "misses", [
        HandoffMessage("", 0, 1.0, "user", "我的工号是 canary-4711"),
        HandoffMessage("", 0, 2.0, "assistant", "不确定 canary-4711",
                       ({"number": 1, "title": "canary 标题", "source": "zh/a.md"},))])
    service.claim(handoff.id, "bob")
    service.reply(handoff.id, "bob", "canary-4711 已处理")
    stored = every_stored_text(engine)
    assert "canary" not in stored and "aesgcm1:k1:" in stored
    said = service.messages(handoff.id)
    assert [(m.author, m.text) for m in said] == [
        ("user", "我的工号是 canary-4711"), ("assistant", "不确定 canary-4711"),
        ("agent", "canary-4711 已处理")]
    assert said[1].sources[0]["title"] == "canary 标题" and said[2].by == "bob"
