"""`HandoffStore`, and the tickets' `DeadLetters`, on the services' database
(`handoffs`, `handoff_messages`, `ticket_dead_letters`, made with the other tables
by `sql_service_store.connect`): every replica of the API and the action server
sees one queue, and each change is one conditional update, so that two agents
claiming at once cannot both win. What people and agents wrote is sealed with the
conversations' keys."""

from __future__ import annotations

import json
import time
from typing import Any, Dict, List, Optional, Sequence, Text

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from bilingual_assistant.adapters.sql_service_store import (
    _Tables,
    handoff_messages,
    handoffs,
    ticket_dead_letters,
)
from bilingual_assistant.errors import ServiceError
from bilingual_assistant.handoff.models import OPEN_STATES, Handoff, HandoffMessage
from bilingual_assistant.handoff.tickets import Ticket

# Tries at numbering a message when another process appended one at the same moment
# (SQLite; on PostgreSQL the handoff's row is locked while a message is numbered:
# with retries alone, one of six writers at once ran out of five tries).
APPEND_ATTEMPTS = 20


class SqlHandoffStore(_Tables):
    """Handoffs and their messages in SQL."""

    @staticmethod
    def _handoff(row: Any) -> Handoff:
        values = dict(row._mapping)
        values.pop("open_conversation", None)
        return Handoff(**values)

    def open(self, handoff: Handoff) -> Handoff:
        values = {**handoff.to_payload(), "open_conversation": handoff.conversation}
        try:
            with self.engine.begin() as connection:
                connection.execute(insert(handoffs).values(**values))
            return handoff
        except IntegrityError:  # the conversation has an open one: that one it is
            existing = self.open_for(handoff.conversation)
            if existing is None:
                raise ServiceError("A handoff could not be opened; try again.") from None
            return existing

    def get(self, handoff_id: Text) -> Optional[Handoff]:
        rows = self._read(select(handoffs).where(handoffs.c.id == handoff_id))
        return self._handoff(rows[0]) if rows else None

    def open_for(self, conversation: Text) -> Optional[Handoff]:
        rows = self._read(select(handoffs).where(handoffs.c.open_conversation == conversation))
        return self._handoff(rows[0]) if rows else None

    def listed(self, states: Sequence[Text], limit: int) -> List[Handoff]:
        rows = self._read(select(handoffs).where(handoffs.c.state.in_(list(states)))
                          .order_by(handoffs.c.created_at).limit(limit))
        return [self._handoff(row) for row in rows]

    def claim(self, handoff_id: Text, agent: Text, now: float) -> bool:
        return self._write(update(handoffs).where(handoffs.c.id == handoff_id,
                                                  handoffs.c.state == "waiting")
                           .values(state="claimed", agent=agent, claimed_at=now)) == 1

    def replied(self, handoff_id: Text, now: float) -> None:
        self._write(update(handoffs).where(handoffs.c.id == handoff_id,
                                           handoffs.c.first_reply_at.is_(None))
                    .values(first_reply_at=now))

    def close(self, handoff_id: Text, outcome: Text, now: float) -> bool:
        return self._write(update(handoffs).where(handoffs.c.id == handoff_id,
                                                  handoffs.c.state.in_(OPEN_STATES))
                           .values(state="closed", outcome=outcome, closed_at=now,
                                   open_conversation=None)) == 1

    def add_message(self, message: HandoffMessage) -> HandoffMessage:
        for attempt in range(1, APPEND_ATTEMPTS + 1):
            try:
                with self.engine.begin() as connection:
                    connection.execute(select(handoffs.c.id).where(
                        handoffs.c.id == message.handoff_id).with_for_update())
                    last = connection.execute(
                        select(func.max(handoff_messages.c.number))
                        .where(handoff_messages.c.handoff_id == message.handoff_id)
                    ).scalar()
                    number = int(last or 0) + 1
                    place = f"handoff_messages:{message.handoff_id}:{number}"
                    connection.execute(insert(handoff_messages).values(
                        handoff_id=message.handoff_id, number=number, at=message.at,
                        author=message.author, by=message.by,
                        text=self._seal(message.text, f"{place}:text"),
                        sources=self._seal(json.dumps(list(message.sources),
                                                      ensure_ascii=False),
                                           f"{place}:sources")))
                return HandoffMessage(message.handoff_id, number, message.at, message.author,
                                      message.text, tuple(message.sources), message.by)
            except IntegrityError:
                if attempt == APPEND_ATTEMPTS:
                    raise ServiceError("A handoff message could not be kept; try again.") \
                        from None
                time.sleep(0.01 * attempt)
        raise AssertionError("unreachable")

    def messages(self, handoff_id: Text) -> List[HandoffMessage]:
        rows = self._read(select(handoff_messages)
                          .where(handoff_messages.c.handoff_id == handoff_id)
                          .order_by(handoff_messages.c.number))
        found = []
        for row in rows:
            place = f"handoff_messages:{row.handoff_id}:{row.number}"
            found.append(HandoffMessage(
                row.handoff_id, row.number, row.at, row.author,
                self._open(row.text, f"{place}:text") or "",
                tuple(json.loads(self._open(row.sources, f"{place}:sources") or "[]")),
                row.by))
        return found


class SqlDeadLetters(_Tables):
    """`DeadLetters` on the `ticket_dead_letters` table; each ticket sealed."""

    def add(self, ticket: Ticket, error: Text, attempts: int) -> None:
        body = json.dumps(ticket.to_payload(), ensure_ascii=False)
        self._write(insert(ticket_dead_letters).values(
            id=ticket.id, conversation=ticket.conversation, created_at=ticket.created_at,
            attempts=attempts, error=error[:200],
            ticket=self._seal(body, f"ticket_dead_letters:{ticket.id}:ticket")))

    def listed(self, limit: int) -> List[Dict[Text, Any]]:
        rows = self._read(select(ticket_dead_letters)
                          .order_by(ticket_dead_letters.c.created_at.desc()).limit(limit))
        return [{"ticket": json.loads(self._open(row.ticket,
                                                 f"ticket_dead_letters:{row.id}:ticket")
                                      or "{}"),
                 "error": row.error, "attempts": row.attempts, "created_at": row.created_at}
                for row in rows]
