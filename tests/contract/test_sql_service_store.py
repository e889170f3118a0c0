"""The API service's tables on a SQLite file and on the real PostgreSQL at
127.0.0.1:5432, as the API uses them."""

import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from bilingual_assistant.access.keys import ApiKeys
from bilingual_assistant.adapters.sql_service_store import (
    SqlHitTestLog,
    SqlJobStore,
    SqlKeyStore,
    connect,
)
from bilingual_assistant.errors import (
    AuthenticationError,
    ConfigurationError,
    NotFoundError,
    ServiceError,
)
from bilingual_assistant.knowledge.hit_testing import Hit, HitTestRun, QuestionResult


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    """A new database's URL: a SQLite file, or a fresh database on the PostgreSQL."""
    return (f"sqlite:///{tmp_path}/sub/api.db" if request.param == "sqlite"
            else request.getfixturevalue("postgres_url"))


@pytest.fixture
def engine(url):
    engine = connect(url)
    yield engine
    engine.dispose()


def run(run_id, created_at, question="VPN?"):
    hit = Hit(1, "en/it-vpn.md", "VPN", "Install", "Install Secure Connect", 0.03, 0.71)
    return HitTestRun(run_id, created_at, "local", "hybrid", 5,
                      [QuestionResult(question, [hit], 12.5), QuestionResult("?", [], 1.0)])


def test_keys_live_in_the_database_across_connections(engine):
    keys = ApiKeys(SqlKeyStore(engine))
    token, record = keys.issue("export", ["chat", "knowledge:read"], days=7,
                               groups=["hr", "財務"])
    again = ApiKeys(SqlKeyStore(connect(str(engine.url.render_as_string(False)))))
    caller = again.authenticate(token)
    assert caller.subject == f"key:{record.id}" and caller.allows("knowledge:read")
    assert caller.groups == {"hr", "財務"} and again.store.get(record.id).groups == "hr 財務"
    assert again.store.get(record.id).last_used_at is not None
    with engine.connect() as connection:
        stored = " ".join(str(v) for row in connection.execute(
            sa.text("SELECT * FROM api_keys")) for v in row)
    assert token.split("_", 2)[2] not in stored  # only the hash is kept
    again.revoke(record.id)
    with pytest.raises(AuthenticationError, match="revoked"):
        keys.authenticate(token)


def test_a_revoked_key_stays_revoked_while_requests_race_the_revocation(engine):
    """Eight threads keep using a key while another connection revokes it; no use
    recorded around the revocation may write it back (issue #27 item 2). The old
    read-then-write-the-whole-row, with 2 ms between the two, failed 4 runs of 4
    on SQLite and on PostgreSQL."""
    keys = ApiKeys(SqlKeyStore(engine))
    token, record = keys.issue("busy script", ["chat"])
    start = threading.Barrier(9)

    def requests_() -> None:
        mine = ApiKeys(SqlKeyStore(engine))
        start.wait()
        for _ in range(200):
            try:
                mine.authenticate(token)
            except AuthenticationError:
                return

    threads = [threading.Thread(target=requests_) for _ in range(8)]
    for thread in threads:
        thread.start()
    start.wait()
    time.sleep(0.05)
    ApiKeys(SqlKeyStore(engine)).revoke(record.id)
    for thread in threads:
        thread.join(60)
    assert keys.store.get(record.id).revoked_at is not None
    with pytest.raises(AuthenticationError, match="revoked"):
        keys.authenticate(token)


def test_hit_test_runs_come_back_newest_first_and_old_ones_are_dropped(engine):
    log = SqlHitTestLog(engine, keep=3)
    for n in range(5):
        log.add(run(f"r{n}", 100.0 + n, question=f"问题 {n}"))
    assert [r.id for r in log.recent(10)] == ["r4", "r3", "r2"]
    assert log.get("r3") == run("r3", 103.0, question="问题 3")
    assert log.get("r0") is None
    theirs = run("r5", 99.0)  # older than the others, by someone else
    log.add(HitTestRun("r5", 106.0, "oidc:bob", "hybrid", 5, theirs.results))
    assert [r.id for r in log.recent(10, "oidc:bob")] == ["r5"]
    assert [r.id for r in log.recent(1, "local")] == ["r4"]


def test_a_bad_url_says_what_a_good_one_looks_like():
    with pytest.raises(ConfigurationError, match="sqlite:///"):
        connect("nonsense://")


def test_an_unreachable_database_is_a_service_error():
    with pytest.raises(ServiceError, match="SERVICES_DB_URL"):
        connect("postgresql://postgres@127.0.0.1:1/none")


def test_jobs_are_claimed_once_even_by_racing_workers(engine):
    import threading

    from bilingual_assistant.jobs.models import Job
    from bilingual_assistant.jobs.service import Jobs

    store = SqlJobStore(engine)
    job = Job("j1", "ingest", "queued", "local", 100.0, {"folder": "知识"})
    store.add(job)
    assert store.get("j1") == job
    assert store.unfinished() == 1  # the backlog /metrics shows
    results = []
    barrier = threading.Barrier(8)

    def claim(n):
        barrier.wait()
        results.append(SqlJobStore(engine).claim("j1", f"w{n}", 101.0))

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 7 + [True]
    store.report("j1", 0.25, "1 of 4", 102.0)
    running = store.get("j1")
    assert (running.state, running.progress, running.heartbeat_at) == ("running", 0.25, 102.0)
    jobs = Jobs(store, queue=None, clock=lambda: 200.0, stale_seconds=60)  # type: ignore
    assert jobs.reap() == ["j1"]
    lost = store.get("j1")
    assert lost.state == "failed" and "stopped responding" in lost.error
    assert store.unfinished() == 0
    store.finish("j1", "succeeded", "late", None, 201.0)
    assert store.get("j1").state == "failed"


def test_the_writers_lock_is_exclusive_until_released_or_expired(engine):
    a, b = SqlJobStore(engine), SqlJobStore(engine)
    assert a.acquire("knowledge", "job-a", 100.0, 60)
    assert not b.acquire("knowledge", "job-b", 110.0, 60)
    assert a.acquire("knowledge", "job-a", 150.0, 60)  # renewed by its owner
    assert not b.acquire("knowledge", "job-b", 200.0, 60)
    assert b.acquire("knowledge", "job-b", 211.0, 60)  # a's lease ran out
    a.release("knowledge", "job-a")  # not a's any more: nothing happens
    assert not a.acquire("knowledge", "job-a", 212.0, 60)
    b.release("knowledge", "job-b")
    assert a.acquire("knowledge", "job-a", 213.0, 60)


def test_workers_say_they_are_alive(engine):
    store = SqlJobStore(engine)
    assert store.last_worker_seen() is None
    store.worker_alive("w1", 100.0)
    store.worker_alive("w1", 105.0)
    store.worker_alive("w2", 103.0)
    assert store.last_worker_seen() == 105.0


def test_sessions_keep_who_signed_in_with_their_groups(engine):
    from bilingual_assistant.access.principal import Principal
    from bilingual_assistant.access.sessions import Sessions
    from bilingual_assistant.adapters.sql_service_store import SqlSessionStore

    store = SqlSessionStore(engine)
    now = [1000.0]
    sessions = Sessions(store, clock=lambda: now[0], hours=1)
    ann = Principal("oidc:u-1", "Ann 李", frozenset({"user", "admin"}), frozenset(), "session",
                    groups=frozenset({"hr", "team:payroll"}))
    token = sessions.create(ann)
    assert sessions.principal(token) == ann
    bob = Principal("oidc:u-2", "Bob", frozenset({"user"}), frozenset(), "session")
    assert sessions.principal(sessions.create(bob)).groups == frozenset()
    with engine.connect() as connection:
        stored = " ".join(str(v) for row in connection.execute(
            sa.text("SELECT * FROM sessions")) for v in row)
    assert token not in stored
    now[0] += 3601
    with pytest.raises(AuthenticationError, match="ended"):
        sessions.principal(token)
    again = sessions.create(ann)
    sessions.end(again)
    with pytest.raises(AuthenticationError):
        sessions.principal(again)


# The two tables as the release before document groups made them, and the table it
# kept pending sign-ins in.
OLD_TABLES = (
    "CREATE TABLE api_keys (id VARCHAR(32) PRIMARY KEY, name VARCHAR(200) NOT NULL, "
    "scopes VARCHAR(200) NOT NULL, digest VARCHAR(64) NOT NULL, created_at FLOAT NOT NULL, "
    "expires_at FLOAT, revoked_at FLOAT, last_used_at FLOAT)",
    "CREATE TABLE sessions (digest VARCHAR(64) PRIMARY KEY, subject VARCHAR(300) NOT NULL, "
    "name VARCHAR(300) NOT NULL, roles VARCHAR(100) NOT NULL, created_at FLOAT NOT NULL, "
    "expires_at FLOAT NOT NULL)",
    "CREATE TABLE logins (state VARCHAR(100) PRIMARY KEY, nonce VARCHAR(100) NOT NULL, "
    "verifier VARCHAR(200) NOT NULL, created_at FLOAT NOT NULL, next_path VARCHAR(500) "
    "NOT NULL)",
)


def test_an_existing_database_gains_the_new_columns_and_its_rows_still_work(url):
    """Issue #27 item 6: a database made before groups (`.data/services.db`, or
    PostgreSQL) gets `groups` added to `api_keys` and `sessions` when it is opened;
    its keys and sessions keep working, reading as no groups, and new ones keep
    theirs. Several processes opening it at once all start."""
    from bilingual_assistant.access.keys import digest
    from bilingual_assistant.access.principal import Principal
    from bilingual_assistant.access.sessions import Sessions, token_digest
    from bilingual_assistant.adapters.sql_service_store import (
        SqlSessionStore,
        add_missing_columns,
        metadata,
    )

    secret = "s" * 43
    old_key, old_session = f"ba_{'a' * 12}_{secret}", "old-session-token"
    made = sa.engine.make_url(url)
    if made.get_backend_name() == "sqlite":
        Path(made.database).parent.mkdir(parents=True)
    old = sa.create_engine(url)
    with old.begin() as connection:
        for statement in OLD_TABLES:
            connection.execute(sa.text(statement))
        connection.execute(sa.text(
            "INSERT INTO api_keys (id, name, scopes, digest, created_at) "
            "VALUES (:id, 'old script', 'chat knowledge:read', :digest, 1.0)"),
            {"id": "a" * 12, "digest": digest(secret)})
        connection.execute(sa.text(
            "INSERT INTO sessions (digest, subject, name, roles, created_at, expires_at) "
            "VALUES (:digest, 'oidc:old', 'Old', 'user editor', 1.0, 9e9)"),
            {"digest": token_digest(old_session)})
    metadata.create_all(old)  # the other tables, as they were (the two above stay)
    old.dispose()

    opened: list = []
    start = threading.Barrier(4)

    def open_it() -> None:
        start.wait()
        opened.append(connect(url))

    threads = [threading.Thread(target=open_it) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(opened) == 4  # none of the racing processes failed to start
    engine = opened[0]
    inspector = sa.inspect(engine)
    for table in ("api_keys", "sessions"):
        assert "groups" in {c["name"] for c in inspector.get_columns(table)}, table
    assert "logins" in inspector.get_table_names()  # left as it was
    assert add_missing_columns(engine) == []  # nothing left to add

    keys = ApiKeys(SqlKeyStore(engine))
    caller = keys.authenticate(old_key)
    assert caller.subject == f"key:{'a' * 12}" and caller.groups == frozenset()
    assert keys.store.get("a" * 12).groups == ""
    token, _ = keys.issue("new script", ["chat"], groups=["hr"])
    assert keys.authenticate(token).groups == {"hr"}
    sessions = Sessions(SqlSessionStore(engine))
    person = sessions.principal(old_session)
    assert (person.subject, person.roles, person.groups) == (
        "oidc:old", {"user", "editor"}, frozenset())
    ann = Principal("oidc:ann", "Ann", frozenset({"user"}), frozenset(), "session",
                    groups=frozenset({"hr"}))
    assert sessions.principal(sessions.create(ann)) == ann
    for engine in opened:
        engine.dispose()


def test_feedback_and_curated_answers(engine):
    from bilingual_assistant.adapters.sql_service_store import SqlFeedbackStore
    from bilingual_assistant.feedback.service import FeedbackService
    from tests.fakes.in_memory import ListedExamples

    reviews = FeedbackService(SqlFeedbackStore(engine), ListedExamples("affirm"))
    text = "'; DROP TABLE feedback; -- 好的"
    item = reviews.submit("oidc:1", "c-1", -1, text, text, "Bye",
                          [{"number": 1, "title": "标题", "source": "zh/a.md"}], "goodbye", 0.6)
    assert reviews.store.get(item.id) == item
    assert reviews.queue() == [item]
    reviews.correct_intent(item.id, "affirm", "admin")
    assert reviews.queue() == [] and reviews.queue("resolved")[0].resolution == "intent"
    curated = reviews.add_answer("班车几点发车?", "8:00", "admin")
    assert reviews.store.answers() == [curated]
    for_hr = reviews.add_answer("奖金哪天发?", "3 月", "admin", groups=["hr", "team:pay"])
    assert for_hr in reviews.store.answers() and for_hr.groups == ("hr", "team:pay")
    assert reviews.store.remove_answer(for_hr.id)
    assert reviews.store.remove_answer(curated.id) and not reviews.store.remove_answer("x")


def test_the_chat_log_keeps_each_persons_conversations_apart(engine):
    from bilingual_assistant.adapters.sql_service_store import SqlTurnStore
    from bilingual_assistant.conversations.history import ChatHistory

    clock = iter(float(n) for n in range(100, 200))
    history = ChatHistory(SqlTurnStore(engine), clock=lambda: next(clock))
    reply = [{"text": "5 次 [1]", "sources": [{"number": 1, "title": "密码",
                                              "source": "zh/it-password.md"}]}]
    history.record("ann", "c-1", "密码输错几次会锁?", reply)
    history.record("ann", "c-2", "'; DROP TABLE chat_turns; --", [])
    history.record("bob", "c-1", "bob", [])
    history.record("ann", "c-1", "那解锁呢?", [])
    assert [(c.conversation, c.turns, c.first_message)
            for c in history.conversations("ann")] == [
        ("c-1", 2, "密码输错几次会锁?"), ("c-2", 1, "'; DROP TABLE chat_turns; --")]
    turns = history.turns("ann", "c-1")
    assert [t.message for t in turns] == ["密码输错几次会锁?", "那解锁呢?"]
    assert turns[0].replies == reply
    assert [t.message for t in history.turns("ann", "c-1", limit=1)] == ["那解锁呢?"]
    assert history.turns("carol", "c-1") == []


CANARY = "canary-7f3a 我的工号是 4711"


def every_stored_text(engine) -> str:
    """Every value of every table, as text."""
    with engine.connect() as connection:
        return " ".join(str(value) for table in sa.inspect(engine).get_table_names()
                        for row in connection.execute(sa.text(f'SELECT * FROM "{table}"'))
                        for value in row)


def test_what_people_wrote_is_sealed_at_rest_and_reads_back(engine):
    """Issue #27 item 5: the API's copies of chats, feedback and hit tests are
    encrypted with the conversations' keys; older plain rows still read."""
    from bilingual_assistant.adapters.sql_service_store import SqlFeedbackStore, SqlTurnStore
    from bilingual_assistant.conversations.history import ChatHistory
    from bilingual_assistant.encryption import Keyring, new_key_entry
    from bilingual_assistant.feedback.service import FeedbackService
    from tests.fakes.in_memory import ListedExamples

    legacy = ChatHistory(SqlTurnStore(engine))  # written before keys were configured
    legacy.record("ann", "c-0", "an old question", [{"text": "an old reply"}])
    keyring = Keyring.parse(new_key_entry("k1"))
    history = ChatHistory(SqlTurnStore(engine, keyring))
    history.record("ann", "c-1", CANARY, [{"text": f"reply to {CANARY}"}])
    reviews = FeedbackService(SqlFeedbackStore(engine, keyring), ListedExamples("affirm"))
    item = reviews.submit("ann", "c-1", -1, CANARY, CANARY, f"reply {CANARY}",
                          [{"number": 1, "title": CANARY, "source": "zh/a.md"}], None, None)
    SqlHitTestLog(engine, keyring=keyring).add(run("r-1", 5.0, question=CANARY))
    stored = every_stored_text(engine)
    assert "canary" not in stored and "4711" not in stored and "aesgcm1:k1:" in stored
    assert "an old question" in stored  # legacy rows stay as they were
    assert [t.message for t in history.turns("ann", "c-1")] == [CANARY]
    assert history.turns("ann", "c-1")[0].replies == [{"text": f"reply to {CANARY}"}]
    assert history.turns("ann", "c-0")[0].message == "an old question"
    assert {c.first_message for c in history.conversations("ann")} == {
        CANARY, "an old question"}
    assert reviews.store.get(item.id) == item
    assert SqlHitTestLog(engine, keyring=keyring).get("r-1").results[0].question == CANARY
    # Without the keys, sealed rows do not open, and say what to set.
    with pytest.raises(ConfigurationError, match="CONVERSATION_KEYS"):
        ChatHistory(SqlTurnStore(engine)).turns("ann", "c-1")


def test_a_sealed_value_moved_to_another_row_does_not_open(engine):
    from bilingual_assistant.adapters.sql_service_store import SqlTurnStore
    from bilingual_assistant.conversations.history import ChatHistory
    from bilingual_assistant.encryption import Keyring, new_key_entry

    keyring = Keyring.parse(new_key_entry("k1"))
    clock = iter(float(n) for n in range(10, 20))
    history = ChatHistory(SqlTurnStore(engine, keyring), clock=lambda: next(clock))
    history.record("ann", "c-1", "ann's secret", [])
    history.record("bob", "c-1", "bob's question", [])
    with engine.begin() as connection:
        ann = connection.execute(sa.text(
            "SELECT message FROM chat_turns WHERE subject = 'ann'")).scalar_one()
        connection.execute(sa.text("UPDATE chat_turns SET message = :m WHERE subject = 'bob'"),
                           {"m": ann})
    with pytest.raises(ServiceError, match="changed or moved"):
        history.turns("bob", "c-1")


def test_forgetting_a_person_removes_their_rows_and_only_theirs(engine):
    """Issue #27 item 5: one person's chat turns, feedback, hit tests and sessions
    go; another person's stay."""
    from bilingual_assistant.access.principal import Principal
    from bilingual_assistant.access.sessions import Sessions
    from bilingual_assistant.adapters.sql_service_store import (
        SqlFeedbackStore,
        SqlPeople,
        SqlSessionStore,
        SqlTurnStore,
    )
    from bilingual_assistant.conversations.history import ChatHistory
    from bilingual_assistant.encryption import Keyring, new_key_entry
    from bilingual_assistant.feedback.service import FeedbackService
    from tests.fakes.in_memory import ListedExamples

    keyring = Keyring.parse(new_key_entry("k1"))
    history = ChatHistory(SqlTurnStore(engine, keyring))
    reviews = FeedbackService(SqlFeedbackStore(engine, keyring), ListedExamples("affirm"))
    sessions = Sessions(SqlSessionStore(engine))
    log = SqlHitTestLog(engine, keyring=keyring)
    for person in ("oidc:ann", "oidc:bob"):
        history.record(person, "c-1", f"{CANARY} {person}", [])
        reviews.submit(person, "c-1", -1, "wrong", CANARY, "reply", [], None, None)
        sessions.create(Principal(person, person, frozenset({"user"}), frozenset(),
                                  "session"))
    log.add(HitTestRun("r-ann", 1.0, "oidc:ann", "hybrid", 5, []))
    from bilingual_assistant.adapters.sql_handoff_store import SqlHandoffStore
    from bilingual_assistant.handoff.service import HandoffService

    desk = HandoffService(SqlHandoffStore(engine, keyring))
    from bilingual_assistant.adapters.sql_handoff_store import SqlDeadLetters
    from bilingual_assistant.handoff.tickets import Ticket

    letters = SqlDeadLetters(engine, keyring)
    for person in ("oidc:ann", "oidc:bob", "oidc:ann_x"):  # ann_x: a subject ann starts
        desk.request(f"{person}:c-1", "rest", person, "en", "asked")
        desk.user_said(f"{person}:c-1", CANARY)
        letters.add(Ticket(f"t-{person}", f"{person}:c-1", "rest", "en", "asked", 1.0,
                           [{"author": "user", "text": CANARY}]), "HTTP 500", 3)
    deleted = SqlPeople(engine).forget("oidc:ann")
    assert deleted == {"chat_turns": 1, "feedback": 1, "hit_test_runs": 1, "sessions": 1,
                       "handoffs": 1, "handoff_messages": 1, "ticket_dead_letters": 1}
    assert desk.open_for("oidc:ann:c-1") is None
    assert desk.messages(desk.open_for("oidc:bob:c-1").id)[0].text == CANARY
    assert sorted(d["ticket"]["id"] for d in letters.listed(10)) == [
        "t-oidc:ann_x", "t-oidc:bob"]
    assert history.turns("oidc:ann", "c-1") == [] and log.get("r-ann") is None
    assert [f.subject for f in reviews.queue()] == ["oidc:bob"]
    assert len(history.turns("oidc:bob", "c-1")) == 1
    assert SqlPeople(engine).forget("oidc:ann") == {
        "chat_turns": 0, "feedback": 0, "hit_test_runs": 0, "sessions": 0,
        "handoffs": 0, "handoff_messages": 0, "ticket_dead_letters": 0}


def test_retention_deletes_what_is_older_than_the_period_and_nothing_newer(engine, tmp_path):
    """Issue #27 item 5: RETENTION_DAYS, run by the job worker."""
    from apps.worker.wiring import keep_for
    from bilingual_assistant.adapters.sql_service_store import SqlRetention, SqlTurnStore
    from bilingual_assistant.conversations.history import ChatHistory

    conversations = sa.create_engine(f"sqlite:///{tmp_path / 'conversations.db'}")
    with conversations.begin() as connection:  # Rasa's events table, as Rasa makes it
        connection.execute(sa.text(
            "CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id VARCHAR(255) NOT NULL, "
            "type_name VARCHAR(255) NOT NULL, timestamp FLOAT, intent_name VARCHAR(255), "
            "action_name VARCHAR(255), data TEXT)"))
        for stamp in (100.0, 5_000_000.0):
            connection.execute(sa.text(
                "INSERT INTO events (sender_id, type_name, timestamp, data) "
                "VALUES ('ann', 'user', :t, 'sealed')"), {"t": stamp})
    clock = iter([100.0, 5_000_000.0])
    history = ChatHistory(SqlTurnStore(engine), clock=lambda: next(clock))
    history.record("ann", "c-1", "old", [])
    history.record("ann", "c-1", "new", [])
    SqlHitTestLog(engine).add(run("r-old", 50.0))
    from bilingual_assistant.adapters.sql_handoff_store import SqlHandoffStore
    from bilingual_assistant.handoff.service import HandoffService

    stamps = iter([100.0, 101.0, 102.0, 103.0, 5_000_000.0, 5_000_001.0])
    desk = HandoffService(SqlHandoffStore(engine), clock=lambda: next(stamps))
    old = desk.request("ann:c-1", "rest", "ann", "en", "asked")
    desk.user_said("ann:c-1", "old")
    desk.cancel("ann:c-1")
    waiting = desk.request("ann:c-2", "rest", "ann", "en", "asked")  # old, still open
    recent = desk.request("ann:c-3", "rest", "ann", "en", "asked")
    now = 5_000_000.0 + 3600
    keep_for(SqlRetention(engine, conversations), days=30, clock=lambda: now,
             sleep=lambda _: None, rounds=2)
    assert [t.message for t in history.turns("ann", "c-1")] == ["new"]
    assert SqlHitTestLog(engine).get("r-old") is None
    assert desk.get(waiting.id) and desk.get(recent.id)  # an open one waits for its agent
    with pytest.raises(NotFoundError):
        desk.get(old.id)
    with conversations.connect() as connection:
        assert connection.execute(sa.text("SELECT timestamp FROM events")).scalars().all() == [
            5_000_000.0]


def test_a_column_another_process_added_meanwhile_is_no_error(url, monkeypatch):
    """Two processes opening an old database both see `groups` missing; the one
    whose ALTER comes second finds it there and starts."""
    import bilingual_assistant.adapters.sql_service_store as sql

    made = sa.engine.make_url(url)
    if made.get_backend_name() == "sqlite":
        Path(made.database).parent.mkdir(parents=True)
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text(OLD_TABLES[1]))  # sessions without groups
    sql.metadata.create_all(engine)
    assert sql.add_missing_columns(engine) == ["sessions.groups"]  # the other process

    class Before:
        """What this process read before the other one added the column."""

        def __init__(self, real):
            self.real = real

        def get_table_names(self):
            return self.real.get_table_names()

        def get_columns(self, table):
            return [c for c in self.real.get_columns(table) if c["name"] != "groups"]

    looks = iter([Before(sa.inspect(engine))])
    monkeypatch.setattr(sql, "inspect", lambda e: next(looks, None) or sa.inspect(e))
    assert sql.add_missing_columns(engine) == []
    assert next(looks, None) is None  # it looked
    engine.dispose()


def test_a_new_database_opened_by_several_processes_at_once_serves_them_all(url):
    """`make run` starts the API and the worker together on a database neither has
    made yet: whichever creates a table second must not fail on it."""
    start, engines, failures = threading.Barrier(6), [], []

    def open_it():
        start.wait()
        try:
            engines.append(connect(url))
        except ServiceError as error:
            failures.append(str(error))

    threads = [threading.Thread(target=open_it) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    keys = ApiKeys(SqlKeyStore(engines[0]))
    token, _ = keys.issue("export", ["chat"], days=1)
    assert ApiKeys(SqlKeyStore(engines[-1])).authenticate(token).allows("chat")
    for engine in engines:
        engine.dispose()
