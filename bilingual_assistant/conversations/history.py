"""The chat log: every turn a person had through the API (their message, the
assistant's replies with sources), listed back to that person only."""

from __future__ import annotations

import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Dict, List, Protocol, Text

MAX_TURNS = 200  # the most one request lists


@dataclass(frozen=True)
class Turn:
    """One message and the assistant's replies (`text`, `sources`, `buttons`, `image`)."""

    id: Text
    created_at: float
    subject: Text
    conversation: Text
    message: Text
    replies: List[Dict[Text, Any]] = field(default_factory=list)

    def to_payload(self) -> Dict[Text, Any]:
        """The JSON-ready form."""
        return asdict(self)


@dataclass(frozen=True)
class ConversationSummary:
    """One of a person's conversations."""

    conversation: Text
    turns: int
    first_at: float
    last_at: float
    first_message: Text

    def to_payload(self) -> Dict[Text, Any]:
        """The JSON-ready form."""
        return asdict(self)


class TurnStore(Protocol):
    """Where turns are kept (`SqlTurnStore`; an in-memory fake in tests)."""

    def add(self, turn: Turn) -> None:
        """Keeps one turn."""

    def turns(self, subject: Text, conversation: Text, limit: int) -> List[Turn]:
        """The newest `limit` turns of one conversation, oldest first."""

    def conversations(self, subject: Text, limit: int) -> List[ConversationSummary]:
        """A person's conversations, the most recently used first."""


class ChatHistory:
    """Records turns and lists a person's own."""

    def __init__(self, store: TurnStore, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock

    def record(self, subject: Text, conversation: Text, message: Text,
               replies: List[Dict[Text, Any]]) -> Turn:
        """Keeps a turn; returns it."""
        turn = Turn(uuid.uuid4().hex, self.clock(), subject, conversation, message,
                    list(replies))
        self.store.add(turn)
        return turn

    def turns(self, subject: Text, conversation: Text, limit: int = 50) -> List[Turn]:
        """One of `subject`'s conversations, oldest turn first."""
        return self.store.turns(subject, conversation, max(1, min(limit, MAX_TURNS)))

    def conversations(self, subject: Text, limit: int = 50) -> List[ConversationSummary]:
        """`subject`'s conversations, the most recent first."""
        return self.store.conversations(subject, max(1, min(limit, MAX_TURNS)))
