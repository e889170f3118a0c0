"""Tickets for a helpdesk when nobody can take a conversation: what one holds,
where it goes (`TicketSink`: a signed webhook in production), and where one that
could not be delivered is kept (`DeadLetters`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional, Protocol, Text


@dataclass(frozen=True)
class Ticket:
    """A request for a person, for a helpdesk system.

    Attributes:
        id: its id (also the webhook's idempotency key: a retried delivery carries
            the same one).
        conversation: Rasa's conversation id, to find the conversation again.
        channel: where the person wrote (`slack`, `telegram`, `wecom`, `rest`, ...).
        language: `zh` or `en`.
        reason: why (`asked`, `misses`, `thumbs_down`).
        created_at: seconds since the epoch.
        transcript: the conversation so far, oldest first: `{"author": "user" |
            "assistant", "text": ...}`.
    """

    id: Text
    conversation: Text
    channel: Text
    language: Text
    reason: Text
    created_at: float
    transcript: List[Dict[Text, Text]] = field(default_factory=list)

    def to_payload(self) -> Dict[Text, Any]:
        """The webhook's JSON body."""
        return {"type": "handoff.ticket", **asdict(self)}


class TicketSink(Protocol):
    """Where tickets go."""

    async def send(self, ticket: Ticket) -> None:
        """Delivers a ticket.

        Raises:
            ServiceError: when it could not be delivered (after retries); the ticket
                is then kept as a dead letter.
        """


class DeadLetters(Protocol):
    """Tickets that could not be delivered, kept for an operator to resend."""

    def add(self, ticket: Ticket, error: Text, attempts: int) -> None:
        """Keeps a ticket with why its delivery failed."""

    def listed(self, limit: int) -> List[Dict[Text, Any]]:
        """The newest dead letters: the ticket, the error, the attempts, when."""


def transcript_of(turns: List[Dict[Text, Text]], limit: int = 10,
                  chars: Optional[int] = 2000) -> List[Dict[Text, Text]]:
    """The last `limit` turns, each cut to `chars` characters."""
    return [{"author": t["author"], "text": t["text"][:chars] if chars else t["text"]}
            for t in turns[-limit:]]
