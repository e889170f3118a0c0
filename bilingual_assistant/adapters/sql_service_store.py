"""The services' own tables (API keys, hit-test runs, jobs, locks, workers, sessions,
feedback, curated answers, the chat log) on
SQLAlchemy: a SQLite file by default, PostgreSQL when `SERVICES_DB_URL` names one."""

from __future__ import annotations

import json
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Text

from sqlalchemy import (
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    delete,
    event,
    func,
    insert,
    inspect,
    or_,
    select,
    text,
    update,
)
from sqlalchemy import (
    Text as SqlText,
)
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, SQLAlchemyError

from bilingual_assistant.access.keys import KeyRecord
from bilingual_assistant.access.sessions import SessionRecord
from bilingual_assistant.conversations.history import ConversationSummary, Turn
from bilingual_assistant.encryption import Keyring
from bilingual_assistant.errors import ConfigurationError, ServiceError
from bilingual_assistant.feedback.models import CuratedAnswer, Feedback
from bilingual_assistant.jobs.models import Job
from bilingual_assistant.knowledge.hit_testing import HitTestRun

metadata = MetaData()
# Tries at making the tables, for processes that start together on a new database.
SCHEMA_ATTEMPTS = 5

api_keys = Table(
    "api_keys", metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("scopes", String(200), nullable=False),  # space separated
    Column("digest", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float),
    Column("revoked_at", Float),
    Column("last_used_at", Float),
    Column("groups", SqlText),  # space separated; NULL in rows from before groups
)

hit_test_runs = Table(
    "hit_test_runs", metadata,
    Column("id", String(32), primary_key=True),
    Column("created_at", Float, nullable=False, index=True),
    Column("subject", String(200), nullable=False),
    Column("body", SqlText, nullable=False),  # the run as JSON
)

jobs = Table(
    "jobs", metadata,
    Column("id", String(32), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("state", String(16), nullable=False, index=True),
    Column("created_by", String(200), nullable=False),
    Column("created_at", Float, nullable=False, index=True),
    Column("params", SqlText, nullable=False),  # JSON
    Column("progress", Float, nullable=False, default=0.0),
    Column("message", SqlText, nullable=False, default=""),
    Column("error", SqlText),
    Column("started_at", Float),
    Column("finished_at", Float),
    Column("heartbeat_at", Float),
    Column("worker", String(200)),
    Column("attempt", Integer, nullable=False, default=1),
    Column("retry_of", String(32)),
)

locks = Table(
    "locks", metadata,
    Column("name", String(64), primary_key=True),
    Column("owner", String(64), nullable=False),
    Column("expires_at", Float, nullable=False),
)

workers = Table(
    "workers", metadata,
    Column("name", String(200), primary_key=True),
    Column("heartbeat_at", Float, nullable=False),
)

sessions = Table(
    "sessions", metadata,
    Column("digest", String(64), primary_key=True),
    Column("subject", String(300), nullable=False),
    Column("name", String(300), nullable=False),
    Column("roles", String(100), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False, index=True),
    Column("groups", SqlText),  # space separated; NULL in rows from before groups
)

feedback = Table(
    "feedback", metadata,
    Column("id", String(32), primary_key=True),
    Column("created_at", Float, nullable=False, index=True),
    Column("subject", String(300), nullable=False),
    Column("conversation", String(100), nullable=False),
    Column("rating", Integer, nullable=False),
    Column("reason", SqlText, nullable=False),
    Column("message", SqlText, nullable=False),
    Column("reply", SqlText, nullable=False),
    Column("intent", String(100)),
    Column("confidence", Float),
    Column("sources", SqlText, nullable=False),  # JSON
    Column("status", String(16), nullable=False, index=True),
    Column("resolution", String(16)),
    Column("detail", SqlText),
    Column("resolved_by", String(300)),
    Column("resolved_at", Float),
)

# Conversations handed to a person (`bilingual_assistant/handoff`). While one is
# open, `open_conversation` holds its conversation: unique, so that a conversation
# has one open handoff however many replicas ask at once; NULL once it is closed.
handoffs = Table(
    "handoffs", metadata,
    Column("id", String(32), primary_key=True),
    Column("conversation", String(300), nullable=False, index=True),
    Column("open_conversation", String(300), unique=True),
    Column("channel", String(64), nullable=False),
    Column("subject", String(300), nullable=False, index=True),
    Column("language", String(8), nullable=False),
    Column("reason", String(16), nullable=False),
    Column("state", String(16), nullable=False, index=True),
    Column("created_at", Float, nullable=False, index=True),
    Column("agent", String(300)),
    Column("claimed_at", Float),
    Column("first_reply_at", Float),
    Column("closed_at", Float),
    Column("outcome", String(16)),
)

handoff_messages = Table(
    "handoff_messages", metadata,
    Column("handoff_id", String(32), primary_key=True),
    Column("number", Integer, primary_key=True),
    Column("at", Float, nullable=False),
    Column("author", String(16), nullable=False),
    Column("text", SqlText, nullable=False),  # sealed
    Column("sources", SqlText, nullable=False),  # JSON
    Column("by", String(300)),
)

# Helpdesk tickets the webhook did not take (`adapters/webhook_tickets.py`), kept
# for an operator to resend; the ticket (what the person wrote) is sealed.
ticket_dead_letters = Table(
    "ticket_dead_letters", metadata,
    Column("id", String(32), primary_key=True),
    Column("conversation", String(300), nullable=False, index=True),
    Column("created_at", Float, nullable=False, index=True),
    Column("attempts", Integer, nullable=False),
    Column("error", String(200), nullable=False),
    Column("ticket", SqlText, nullable=False),  # sealed JSON
)

curated_answers = Table(
    "curated_answers", metadata,
    Column("id", String(32), primary_key=True),
    Column("question", SqlText, nullable=False),
    Column("answer", SqlText, nullable=False),
    Column("language", String(8), nullable=False),
    Column("created_by", String(300), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("feedback_id", String(32)),
    Column("groups", SqlText),  # space separated; none: everyone
)

chat_turns = Table(
    "chat_turns", metadata,
    Column("id", String(32), primary_key=True),
    Column("created_at", Float, nullable=False),
    Column("subject", String(300), nullable=False),
    Column("conversation", String(100), nullable=False),
    Column("message", SqlText, nullable=False),
    Column("replies", SqlText, nullable=False),  # JSON
    Index("chat_turns_by_conversation", "subject", "conversation", "created_at"),
)


def connect(url: Text) -> Engine:
    """An engine for `url`, its tables created (and the columns they gained since an
    existing database was made, added); a SQLite file's folder is made.

    Raises:
        ConfigurationError: for a URL SQLAlchemy cannot parse or has no driver for.
        ServiceError: when the database cannot be reached.
    """
    try:
        parsed = make_url(url)
        options: Dict[Text, Any] = {}
        if parsed.get_backend_name() == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            options["connect_args"] = {"check_same_thread": False, "timeout": 30}
        engine = create_engine(parsed, pool_pre_ping=True, **options)
    except (ArgumentError, ImportError, ValueError) as error:
        raise ConfigurationError(
            f"SERVICES_DB_URL cannot be used ({error}). Give a SQLAlchemy URL such as "
            f"sqlite:///.data/api.db or postgresql://user:password@host:5432/db."
        ) from None
    if engine.dialect.name == "sqlite":
        @event.listens_for(engine, "connect")
        def _wal(connection: Any, _: Any) -> None:  # readers do not block the writer
            connection.execute("PRAGMA journal_mode=WAL")

    for attempt in range(1, SCHEMA_ATTEMPTS + 1):
        try:
            metadata.create_all(engine)
            add_missing_columns(engine)
            return engine
        except SQLAlchemyError as error:
            # `make run` starts the API and the worker on a database neither has
            # made: the second to create a table fails on it ("already exists",
            # a unique violation on PostgreSQL's catalogue) and finds it next time.
            if attempt == SCHEMA_ATTEMPTS:
                raise ServiceError(
                    f"The API database at {parsed.render_as_string(hide_password=True)} "
                    f"cannot be used: {error.__class__.__name__}. Check that it is "
                    f"running and SERVICES_DB_URL is right.") from None
            time.sleep(0.2 * attempt)
    raise AssertionError("unreachable")


def add_missing_columns(engine: Engine) -> List[Text]:
    """Adds the nullable columns our tables gained since the database was made
    (`ALTER TABLE … ADD COLUMN`), so that an existing database keeps working: there
    is no migration tool, and a new column here is always nullable. Several
    processes may start at once: a column another one added meanwhile is fine.

    Returns:
        The columns added, as `table.column`.

    Raises:
        ConfigurationError: for a missing column that is not nullable (it cannot be
            added to rows that exist).
        SQLAlchemyError: when the database refuses.
    """
    inspector = inspect(engine)
    existing = set(inspector.get_table_names())
    quote = engine.dialect.identifier_preparer.quote
    added = []
    for table in metadata.sorted_tables:
        if table.name not in existing:
            continue  # create_all made it whole
        present = {column["name"] for column in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name in present:
                continue
            if not column.nullable:
                raise ConfigurationError(
                    f"The services' database lacks the column {table.name}.{column.name}, "
                    f"which cannot be added to existing rows; add it by hand or start "
                    f"with a new SERVICES_DB_URL.")
            kind = column.type.compile(dialect=engine.dialect)
            try:
                with engine.begin() as connection:
                    connection.execute(text(f"ALTER TABLE {quote(table.name)} ADD COLUMN "
                                            f"{quote(column.name)} {kind}"))
            except SQLAlchemyError:
                if column.name not in {c["name"] for c in inspect(engine).get_columns(
                        table.name)}:
                    raise
                continue  # another process added it first
            added.append(f"{table.name}.{column.name}")
    return added


def _failed(error: SQLAlchemyError) -> ServiceError:
    return ServiceError(f"The API database failed ({error.__class__.__name__}); try again.")


class _Tables:
    """What every store here shares: one place that opens connections and turns the
    database's errors into `ServiceError`; and, given a keyring, the text people
    typed sealed at rest (AES-256-GCM, the conversations' keys)."""

    def __init__(self, engine: Engine, keyring: Optional[Keyring] = None) -> None:
        """Args:
        engine: the database.
        keyring: seals what people wrote (messages, replies, reasons, hit-test
            questions), each value bound to its table and row; None keeps text.
        """
        self.engine = engine
        self.keyring = keyring

    def _seal(self, value: Text, place: Text) -> Text:
        """`value` sealed for the row `place` (`table:id`), or as it is."""
        if self.keyring is None:
            return value
        return self.keyring.seal(value.encode("utf-8"), place.encode("utf-8"))

    def _open(self, value: Optional[Text], place: Text) -> Optional[Text]:
        """A stored value in clear: sealed ones opened, older plain ones as they are.

        Raises:
            ConfigurationError: sealed with a key that is not configured, or without
                a keyring at all.
        """
        if value is None or not Keyring.is_sealed(value):
            return value
        if self.keyring is None:
            raise ConfigurationError(
                "The services' tables hold sealed text but no keys are configured: "
                "set CONVERSATION_KEYS (or CONVERSATION_KEY_FILE) as for Rasa.")
        try:
            return self.keyring.open(value, place.encode("utf-8")).decode("utf-8")
        except ValueError:
            raise ServiceError(f"A stored value of {place} cannot be opened: it was "
                               f"changed or moved.") from None

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        """A connection whose statements commit together (or not at all)."""
        try:
            with self.engine.begin() as connection:
                yield connection
        except SQLAlchemyError as error:
            raise _failed(error) from None

    def _write(self, statement: Any) -> int:
        """Runs one changing statement; the rows it changed."""
        with self._transaction() as connection:
            return int(connection.execute(statement).rowcount or 0)

    def _read(self, statement: Any) -> List[Any]:
        """The rows of a query."""
        try:
            with self.engine.connect() as connection:
                return list(connection.execute(statement))
        except SQLAlchemyError as error:
            raise _failed(error) from None


class SqlKeyStore(_Tables):
    """`KeyStore` on the `api_keys` table."""

    @staticmethod
    def _record(row: Any) -> KeyRecord:
        return KeyRecord(row.id, row.name, tuple(row.scopes.split()), row.digest,
                         row.created_at, row.expires_at, row.revoked_at, row.last_used_at,
                         row.groups or "")

    @staticmethod
    def _values(record: KeyRecord) -> Dict[Text, Any]:
        return {"id": record.id, "name": record.name, "scopes": " ".join(record.scopes),
                "digest": record.digest, "created_at": record.created_at,
                "expires_at": record.expires_at, "revoked_at": record.revoked_at,
                "last_used_at": record.last_used_at, "groups": record.groups}

    def add(self, record: KeyRecord) -> None:
        self._write(insert(api_keys).values(**self._values(record)))

    def get(self, key_id: Text) -> Optional[KeyRecord]:
        rows = self._read(select(api_keys).where(api_keys.c.id == key_id))
        return self._record(rows[0]) if rows else None

    def all(self) -> List[KeyRecord]:
        return [self._record(row) for row in
                self._read(select(api_keys).order_by(api_keys.c.created_at.desc()))]

    def mark_used(self, key_id: Text, at: float) -> None:
        # One conditional UPDATE of one column: a revocation committed meanwhile
        # is neither overwritten nor undone.
        self._write(update(api_keys).where(api_keys.c.id == key_id,
                                           api_keys.c.revoked_at.is_(None))
                    .values(last_used_at=at))

    def mark_revoked(self, key_id: Text, at: float) -> None:
        self._write(update(api_keys).where(api_keys.c.id == key_id,
                                           api_keys.c.revoked_at.is_(None))
                    .values(revoked_at=at))


class SqlHitTestLog(_Tables):
    """`HitTestLog` on the `hit_test_runs` table; keeps the newest `keep` runs."""

    def __init__(self, engine: Engine, keep: int = 500,
                 keyring: Optional[Keyring] = None) -> None:
        super().__init__(engine, keyring)
        self.keep = keep

    def add(self, run: HitTestRun) -> None:
        with self._transaction() as connection:
            connection.execute(insert(hit_test_runs).values(
                id=run.id, created_at=run.created_at, subject=run.subject,
                body=self._seal(json.dumps(run.to_payload(), ensure_ascii=False),
                                f"hit_test_runs:{run.id}")))
            old = select(hit_test_runs.c.id).order_by(
                hit_test_runs.c.created_at.desc()).offset(self.keep)
            connection.execute(delete(hit_test_runs).where(hit_test_runs.c.id.in_(old)))

    def recent(self, limit: int, subject: Optional[Text] = None) -> List[HitTestRun]:
        query = select(hit_test_runs.c.id, hit_test_runs.c.body)
        if subject is not None:
            query = query.where(hit_test_runs.c.subject == subject)
        rows = self._read(query.order_by(hit_test_runs.c.created_at.desc()).limit(limit))
        return [self._run(row) for row in rows]

    def get(self, run_id: Text) -> Optional[HitTestRun]:
        rows = self._read(select(hit_test_runs.c.id, hit_test_runs.c.body)
                          .where(hit_test_runs.c.id == run_id))
        return self._run(rows[0]) if rows else None

    def _run(self, row: Any) -> HitTestRun:
        return HitTestRun.from_payload(json.loads(
            self._open(row.body, f"hit_test_runs:{row.id}") or "{}"))


class SqlJobStore(_Tables):
    """`JobStore` on the `jobs` and `locks` tables; every change is one statement
    guarded by the state it expects, so two workers never both claim a job."""

    @staticmethod
    def _job(row: Any) -> Job:
        values = dict(row._mapping)
        values["params"] = json.loads(values["params"])
        return Job(**values)

    def add(self, job: Job) -> None:
        values = job.to_payload()
        values["params"] = json.dumps(job.params, ensure_ascii=False)
        self._write(insert(jobs).values(**values))

    def get(self, job_id: Text) -> Optional[Job]:
        rows = self._read(select(jobs).where(jobs.c.id == job_id))
        return self._job(rows[0]) if rows else None

    def recent(self, limit: int) -> List[Job]:
        return [self._job(row) for row in
                self._read(select(jobs).order_by(jobs.c.created_at.desc()).limit(limit))]

    def claim(self, job_id: Text, worker: Text, now: float) -> bool:
        return self._write(
            update(jobs).where(jobs.c.id == job_id, jobs.c.state == "queued")
            .values(state="running", worker=worker, started_at=now, heartbeat_at=now,
                    message="started")) == 1

    def report(self, job_id: Text, progress: float, message: Text, now: float) -> None:
        self._write(update(jobs).where(jobs.c.id == job_id, jobs.c.state == "running")
                    .values(progress=progress, message=message, heartbeat_at=now))

    def heartbeat(self, job_id: Text, now: float) -> None:
        self._write(update(jobs).where(jobs.c.id == job_id, jobs.c.state == "running")
                    .values(heartbeat_at=now))

    def finish(self, job_id: Text, state: Text, message: Text, error: Optional[Text],
               now: float) -> None:
        values: Dict[Text, Any] = {"state": state, "message": message, "error": error,
                                   "finished_at": now}
        if state == "succeeded":
            values["progress"] = 1.0
        # A job already failed as lost stays failed: its outcome was reported.
        self._write(update(jobs).where(jobs.c.id == job_id,
                                       jobs.c.state.in_(("queued", "running")))
                    .values(**values))

    def fail_stale(self, before: float, now: float, reason: Text) -> List[Text]:
        stale = (jobs.c.state == "running") & (jobs.c.heartbeat_at < before)
        with self._transaction() as connection:
            ids = [row.id for row in connection.execute(select(jobs.c.id).where(stale))]
            if ids:
                connection.execute(update(jobs).where(stale, jobs.c.id.in_(ids)).values(
                    state="failed", message="failed", error=reason, finished_at=now))
        return ids

    def acquire(self, name: Text, owner: Text, now: float, ttl: float) -> bool:
        try:
            with self.engine.begin() as connection:
                connection.execute(insert(locks).values(name=name, owner=owner,
                                                        expires_at=now + ttl))
            return True
        except IntegrityError:
            pass  # held: taken over below if it is ours or its lease has run out
        except SQLAlchemyError as error:
            raise _failed(error) from None
        return self._write(
            update(locks).where(locks.c.name == name,
                                or_(locks.c.owner == owner, locks.c.expires_at < now))
            .values(owner=owner, expires_at=now + ttl)) == 1

    def release(self, name: Text, owner: Text) -> None:
        self._write(delete(locks).where(locks.c.name == name, locks.c.owner == owner))

    def worker_alive(self, name: Text, now: float) -> None:
        """Records that a worker process is running."""
        if self._write(update(workers).where(workers.c.name == name)
                       .values(heartbeat_at=now)) == 0:
            try:
                self._write(insert(workers).values(name=name, heartbeat_at=now))
            except ServiceError:  # another thread of the same worker inserted it
                self._write(update(workers).where(workers.c.name == name)
                            .values(heartbeat_at=now))

    def last_worker_seen(self) -> Optional[float]:
        """When any worker last said it was alive (None: never)."""
        rows = self._read(select(workers.c.heartbeat_at)
                          .order_by(workers.c.heartbeat_at.desc()).limit(1))
        return float(rows[0].heartbeat_at) if rows else None

    def unfinished(self) -> int:
        rows = self._read(select(func.count()).select_from(jobs)
                          .where(jobs.c.state.in_(("queued", "running"))))
        return int(rows[0][0])


class SqlSessionStore(_Tables):
    """`SessionStore` on the `sessions` table. (Pending sign-ins travel in a sealed
    cookie; a `logins` table an older version made is left as it is, unused.)"""

    def add(self, record: SessionRecord) -> None:
        self._write(insert(sessions).values(
            digest=record.digest, subject=record.subject, name=record.name[:300],
            roles=record.roles, created_at=record.created_at, expires_at=record.expires_at,
            groups=record.groups))
        # Expired sessions go as new ones come.
        self._write(delete(sessions).where(sessions.c.expires_at < record.created_at))

    def get(self, digest: Text) -> Optional[SessionRecord]:
        rows = self._read(select(sessions).where(sessions.c.digest == digest))
        if not rows:
            return None
        values = dict(rows[0]._mapping)
        values["groups"] = values["groups"] or ""  # NULL: a session from before groups
        return SessionRecord(**values)

    def remove(self, digest: Text) -> None:
        self._write(delete(sessions).where(sessions.c.digest == digest))


class SqlFeedbackStore(_Tables):
    """`FeedbackStore` on the `feedback` and `curated_answers` tables. Every text is
    a bound parameter: SQL in a message or a reason is stored as text."""

    SEALED = ("reason", "message", "reply", "sources")  # what the person wrote and saw

    def _feedback(self, row: Any) -> Feedback:
        values = dict(row._mapping)
        for column in self.SEALED:
            values[column] = self._open(values[column], f"feedback:{values['id']}:{column}")
        values["sources"] = json.loads(values["sources"])
        return Feedback(**values)

    def add(self, item: Feedback) -> None:
        values = item.to_payload()
        values["sources"] = json.dumps(item.sources, ensure_ascii=False)
        for column in self.SEALED:
            values[column] = self._seal(values[column], f"feedback:{item.id}:{column}")
        self._write(insert(feedback).values(**values))

    def get(self, feedback_id: Text) -> Optional[Feedback]:
        rows = self._read(select(feedback).where(feedback.c.id == feedback_id))
        return self._feedback(rows[0]) if rows else None

    def recent(self, status: Optional[Text], limit: int) -> List[Feedback]:
        query = select(feedback).order_by(feedback.c.created_at.desc()).limit(limit)
        if status is not None:
            query = query.where(feedback.c.status == status)
        return [self._feedback(row) for row in self._read(query)]

    def resolve(self, feedback_id: Text, resolution: Text, detail: Optional[Text],
                by: Text, now: float) -> bool:
        return self._write(update(feedback).where(feedback.c.id == feedback_id,
                                                  feedback.c.status == "open")
                           .values(status="resolved", resolution=resolution, detail=detail,
                                   resolved_by=by, resolved_at=now)) == 1

    def add_answer(self, answer: CuratedAnswer) -> None:
        values = answer.to_payload()
        values["groups"] = " ".join(answer.groups)
        self._write(insert(curated_answers).values(**values))

    def answers(self) -> List[CuratedAnswer]:
        rows = self._read(select(curated_answers)
                          .order_by(curated_answers.c.created_at.desc()))
        return [CuratedAnswer(**{**dict(row._mapping),
                                 "groups": tuple((row.groups or "").split())})
                for row in rows]

    def remove_answer(self, answer_id: Text) -> bool:
        return self._write(
            delete(curated_answers).where(curated_answers.c.id == answer_id)) == 1


class SqlTurnStore(_Tables):
    """`TurnStore` on the `chat_turns` table."""

    def add(self, turn: Turn) -> None:
        values = turn.to_payload()
        values["replies"] = self._seal(json.dumps(turn.replies, ensure_ascii=False),
                                       f"chat_turns:{turn.id}:replies")
        values["message"] = self._seal(turn.message, f"chat_turns:{turn.id}:message")
        self._write(insert(chat_turns).values(**values))

    def turns(self, subject: Text, conversation: Text, limit: int) -> List[Turn]:
        rows = self._read(select(chat_turns).where(
            chat_turns.c.subject == subject, chat_turns.c.conversation == conversation)
            .order_by(chat_turns.c.created_at.desc()).limit(limit))
        turns = []
        for row in reversed(rows):
            values = dict(row._mapping)
            values["message"] = self._open(values["message"], f"chat_turns:{row.id}:message")
            values["replies"] = json.loads(
                self._open(values["replies"], f"chat_turns:{row.id}:replies") or "[]")
            turns.append(Turn(**values))
        return turns

    def conversations(self, subject: Text, limit: int) -> List[ConversationSummary]:
        c = chat_turns.c
        grouped = (select(c.conversation, func.count().label("turns"),
                          func.min(c.created_at).label("first_at"),
                          func.max(c.created_at).label("last_at"))
                   .where(c.subject == subject).group_by(c.conversation)
                   .order_by(func.max(c.created_at).desc()).limit(limit))
        summaries = []
        for row in self._read(grouped):
            first = self._read(select(c.id, c.message).where(
                c.subject == subject, c.conversation == row.conversation,
                c.created_at == row.first_at).limit(1))
            summaries.append(ConversationSummary(
                row.conversation, int(row.turns), float(row.first_at), float(row.last_at),
                (self._open(first[0].message, f"chat_turns:{first[0].id}:message") or "")
                if first else ""))
        return summaries


class SqlPeople(_Tables):
    """What the services' tables keep about one person, for forgetting them."""

    # Every table with a row per person's doing, by the column naming them.
    THEIRS = ((chat_turns, chat_turns.c.subject), (feedback, feedback.c.subject),
              (hit_test_runs, hit_test_runs.c.subject), (sessions, sessions.c.subject))

    def forget(self, subject: Text) -> Dict[Text, int]:
        """Deletes the person's chat turns, feedback, hit tests, sessions (they are
        signed out) and handoffs with what was said in them, in one transaction;
        returns the rows deleted per table. Curated answers an administrator wrote
        from their feedback stay: they are the administrator's words."""
        deleted: Dict[Text, int] = {}
        with self._transaction() as connection:
            deleted.update(_delete_handoffs(connection, handoffs.c.subject == subject))
            deleted["ticket_dead_letters"] = int(connection.execute(
                delete(ticket_dead_letters).where(or_(
                    ticket_dead_letters.c.conversation == subject,
                    ticket_dead_letters.c.conversation.startswith(f"{subject}:",
                                                                 autoescape=True))))
                .rowcount or 0)
            for table, column in self.THEIRS:
                deleted[table.name] = int(
                    connection.execute(delete(table).where(column == subject)).rowcount or 0)
        return deleted


def _delete_handoffs(connection: Connection, *where: Any) -> Dict[Text, int]:
    """Deletes the handoffs matching `where`, and their messages; rows per table."""
    chosen = select(handoffs.c.id).where(*where)
    said = connection.execute(
        delete(handoff_messages).where(handoff_messages.c.handoff_id.in_(chosen)))
    gone = connection.execute(delete(handoffs).where(*where))
    return {"handoff_messages": int(said.rowcount or 0), "handoffs": int(gone.rowcount or 0)}


class SqlRetention(_Tables):
    """Deletes what people wrote once it is older than the retention period: in the
    services' tables, and Rasa's events in the conversations' database (its `events`
    table, read as a plain table: the worker has no Rasa)."""

    SERVICES = ((chat_turns, chat_turns.c.created_at), (feedback, feedback.c.created_at),
                (hit_test_runs, hit_test_runs.c.created_at),
                (ticket_dead_letters, ticket_dead_letters.c.created_at))

    def __init__(self, engine: Engine, conversations: Optional[Engine] = None) -> None:
        """`engine`: the services' database; `conversations`: Rasa's (None: skipped)."""
        super().__init__(engine)
        self.conversations = conversations

    def purge(self, before: float) -> Dict[Text, int]:
        """Deletes the rows written before `before` (seconds since the epoch); returns
        how many per table."""
        deleted: Dict[Text, int] = {}
        with self._transaction() as connection:
            deleted.update(_delete_handoffs(
                connection, handoffs.c.created_at < before, handoffs.c.state == "closed"))
            for table, created in self.SERVICES:
                deleted[table.name] = int(
                    connection.execute(delete(table).where(created < before)).rowcount or 0)
        if self.conversations is not None:
            events = Table("events", MetaData(), autoload_with=self.conversations) \
                if _has_events(self.conversations) else None
            if events is not None:
                try:
                    with self.conversations.begin() as connection:
                        deleted["events"] = int(connection.execute(
                            delete(events).where(events.c.timestamp < before)).rowcount or 0)
                except SQLAlchemyError as error:
                    raise _failed(error) from None
        return deleted


def _has_events(engine: Engine) -> bool:
    """Whether Rasa has made its `events` table there yet."""
    try:
        return "events" in inspect(engine).get_table_names()
    except SQLAlchemyError as error:
        raise _failed(error) from None
