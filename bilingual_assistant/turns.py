"""One conversation's messages are handled one after another, in arrival order,
and nobody waits without bound: a message that cannot start within the wait
limit is refused as busy (the caller says "try again"), never dropped silently.

Rasa's in-memory lock store lets waiting messages time out and drops them with an
empty reply; serialising in front of Rasa means its lock is never contended.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import AsyncIterator, Deque, Dict, Text

from bilingual_assistant.errors import ServiceError


class ConversationBusyError(ServiceError):
    """A conversation's earlier messages still take too long; try again later."""

    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__(
            "This conversation is still busy with earlier messages; send this one again "
            f"in {retry_after_seconds} s."
        )
        self.retry_after_seconds = retry_after_seconds


@dataclass
class _Conversation:
    waiting: Deque[asyncio.Future] = field(default_factory=deque)
    busy: bool = False
    started: float = 0.0


class ConversationTurns:
    """First come, first served per conversation id, with a bounded wait."""

    def __init__(self, max_wait_seconds: float = 60.0, max_waiting: int = 200) -> None:
        """Args:
        max_wait_seconds: how long a message may wait for its turn.
        max_waiting: messages that may wait for one conversation at once; more
            are refused at once.
        """
        self.max_wait_seconds = max_wait_seconds
        self.max_waiting = max_waiting
        self._conversations: Dict[Text, _Conversation] = {}

    def __len__(self) -> int:
        """Conversations with a message in progress or waiting."""
        return len(self._conversations)

    def _retry_after(self) -> int:
        return max(1, math.ceil(self.max_wait_seconds / 4))

    @asynccontextmanager
    async def turn(self, conversation_id: Text) -> AsyncIterator[None]:
        """Waits for the conversation's turn and holds it while the block runs.

        Raises:
            ConversationBusyError: if the turn did not come within the wait limit,
                or too many messages already wait.
        """
        conversation = self._conversations.setdefault(conversation_id, _Conversation())
        if conversation.busy:
            if len(conversation.waiting) >= self.max_waiting:
                raise ConversationBusyError(self._retry_after())
            ticket = asyncio.get_running_loop().create_future()
            conversation.waiting.append(ticket)
            try:
                await asyncio.wait_for(asyncio.shield(ticket), self.max_wait_seconds)
            except (TimeoutError, asyncio.CancelledError) as error:
                if ticket.done() and not ticket.cancelled():
                    self._hand_over(conversation_id, conversation)  # passed on to us late
                else:
                    ticket.cancel()
                    conversation.waiting.remove(ticket)
                if isinstance(error, asyncio.CancelledError):
                    raise
                raise ConversationBusyError(self._retry_after()) from None
        conversation.busy = True
        conversation.started = time.monotonic()
        try:
            yield
        finally:
            self._hand_over(conversation_id, conversation)

    def _hand_over(self, conversation_id: Text, conversation: _Conversation) -> None:
        while conversation.waiting:
            ticket = conversation.waiting.popleft()
            if not ticket.done():
                ticket.set_result(None)  # the next message keeps `busy`
                return
        conversation.busy = False
        self._conversations.pop(conversation_id, None)
