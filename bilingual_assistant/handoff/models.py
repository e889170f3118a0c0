"""Handing a conversation to a person, as data: the handoff, what was said in it,
and what keeps them (SQL in the services; lists in tests)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Dict, List, Optional, Protocol, Sequence, Text

# waiting: in the queue; claimed: an agent has it; closed: over (see `OUTCOMES`).
STATES = ("waiting", "claimed", "closed")
OPEN_STATES = ("waiting", "claimed")
# Why it started: the person asked, the assistant offered after answers that did
# not help (two "not in the documents" / "not sure" in a row, or a thumbs-down).
REASONS = ("asked", "misses", "thumbs_down")
# How it ended: the agent gave the conversation back to the assistant, closed it,
# or the person said never mind.
OUTCOMES = ("handed_back", "closed", "cancelled")
AUTHORS = ("user", "assistant", "agent")


@dataclass(frozen=True)
class Handoff:
    """One conversation handed to a person.

    Attributes:
        id: its id.
        conversation: Rasa's conversation id (`oidc:<sub>:web`, `telegram:<chat>:<user>`).
        channel: the channel the person wrote on (`rest`, `socketio`, `slack`, ...),
            where an agent's replies go.
        subject: who the person is as the API knows them (`oidc:<sub>`, `key:<id>`),
            or the conversation id for a platform's person.
        language: `zh` or `en`, for what they are told.
        reason: one of `REASONS`.
        state: one of `STATES`.
        created_at, claimed_at, first_reply_at, closed_at: seconds since the epoch.
        agent: the agent who claimed it.
        outcome: one of `OUTCOMES` once closed.
    """

    id: Text
    conversation: Text
    channel: Text
    subject: Text
    language: Text
    reason: Text
    state: Text
    created_at: float
    agent: Optional[Text] = None
    claimed_at: Optional[float] = None
    first_reply_at: Optional[float] = None
    closed_at: Optional[float] = None
    outcome: Optional[Text] = None

    @property
    def is_open(self) -> bool:
        """Waiting or claimed: the assistant keeps quiet."""
        return self.state in OPEN_STATES

    def to_payload(self) -> Dict[Text, Any]:
        """The JSON-ready form."""
        return asdict(self)


@dataclass(frozen=True)
class HandoffMessage:
    """One message of a handoff: what the person wrote, what the assistant had
    answered before (with its sources), or an agent's reply.

    Attributes:
        handoff_id: the handoff.
        number: its place in the handoff, from 1.
        at: seconds since the epoch.
        author: one of `AUTHORS`.
        text: what was said.
        sources: a reply's numbered sources (`{"number", "title", "source"}`).
        by: the agent who wrote it (agents' replies).
    """

    handoff_id: Text
    number: int
    at: float
    author: Text
    text: Text
    sources: Sequence[Dict[Text, Any]] = ()
    by: Optional[Text] = None

    def to_payload(self) -> Dict[Text, Any]:
        """The JSON-ready form."""
        payload = asdict(self)
        payload["sources"] = list(self.sources)
        return payload


class HandoffStore(Protocol):
    """Where handoffs live; every replica reads and writes the same one.

    Changes are conditional single updates, so that two agents (or two replicas)
    acting at once cannot both win.
    """

    def open(self, handoff: Handoff) -> Handoff:
        """Stores a new handoff unless its conversation has an open one; returns the
        open one either way."""

    def get(self, handoff_id: Text) -> Optional[Handoff]:
        """The handoff, or None."""

    def open_for(self, conversation: Text) -> Optional[Handoff]:
        """The conversation's open handoff, or None."""

    def listed(self, states: Sequence[Text], limit: int) -> List[Handoff]:
        """Handoffs in these states, oldest first."""

    def claim(self, handoff_id: Text, agent: Text, now: float) -> bool:
        """Gives a waiting handoff to `agent`; False if it was not waiting."""

    def replied(self, handoff_id: Text, now: float) -> None:
        """Records the first agent reply's time (later ones leave it)."""

    def close(self, handoff_id: Text, outcome: Text, now: float) -> bool:
        """Ends an open handoff; False if it was not open."""

    def add_message(self, message: HandoffMessage) -> HandoffMessage:
        """Appends a message, numbered after the handoff's last one; returns it
        numbered."""

    def messages(self, handoff_id: Text) -> List[HandoffMessage]:
        """The handoff's messages, in order."""
