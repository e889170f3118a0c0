"""The handoff's rules: one open handoff per conversation, a claimed one is its
agent's alone, only its agent replies, and the person or the agent ends it."""

from __future__ import annotations

import secrets
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Text

from bilingual_assistant.errors import ConflictError, InputError, NotFoundError
from bilingual_assistant.handoff.models import (
    OPEN_STATES,
    OUTCOMES,
    REASONS,
    STATES,
    Handoff,
    HandoffMessage,
    HandoffStore,
)

MAX_REPLY_CHARS = 4000
MAX_LISTED = 200


class HandoffService:
    """Starts, hands out, carries and ends handoffs."""

    def __init__(self, store: HandoffStore, clock: Callable[[], float] = time.time) -> None:
        self.store, self.clock = store, clock

    # --- the person's side (the action server) -----------------------------------

    def request(self, conversation: Text, channel: Text, subject: Text, language: Text,
                reason: Text, transcript: Sequence[HandoffMessage] = ()) -> Handoff:
        """Puts the conversation in the queue, with what was said before (the
        person's messages and the assistant's answers); a conversation already
        waiting or with an agent keeps its handoff.

        Raises:
            InputError: for an unknown reason.
        """
        if reason not in REASONS:
            raise InputError(f"A handoff's reason is one of {', '.join(REASONS)}, "
                             f"not {reason!r}.")
        new = Handoff(secrets.token_hex(8), conversation, channel, subject, language,
                      reason, "waiting", self.clock())
        handoff = self.store.open(new)
        if handoff.id == new.id:
            for said in transcript:
                self.store.add_message(HandoffMessage(
                    handoff.id, 0, said.at, said.author, said.text, said.sources, said.by))
        return handoff

    def open_for(self, conversation: Text) -> Optional[Handoff]:
        """The conversation's open handoff, or None: while there is one, the
        assistant does not answer."""
        return self.store.open_for(conversation)

    def user_said(self, conversation: Text, text: Text) -> Optional[HandoffMessage]:
        """Passes the person's message to the agent; None when no handoff is open."""
        handoff = self.store.open_for(conversation)
        if handoff is None:
            return None
        return self.store.add_message(
            HandoffMessage(handoff.id, 0, self.clock(), "user", text))

    def cancel(self, conversation: Text) -> Optional[Handoff]:
        """The person no longer wants a person; the assistant answers again. None
        when no handoff was open."""
        handoff = self.store.open_for(conversation)
        if handoff is None or not self.store.close(handoff.id, "cancelled", self.clock()):
            return None
        return self.store.get(handoff.id)

    # --- the agent's side (the API) ----------------------------------------------

    def queue(self, states: Sequence[Text] = OPEN_STATES,
              limit: int = MAX_LISTED) -> List[Handoff]:
        """Handoffs in these states, oldest first.

        Raises:
            InputError: for an unknown state.
        """
        unknown = [s for s in states if s not in STATES]
        if unknown:
            raise InputError(f"A handoff's state is one of {', '.join(STATES)}, "
                             f"not {unknown[0]!r}.")
        return self.store.listed(list(states), max(1, min(limit, MAX_LISTED)))

    def get(self, handoff_id: Text) -> Handoff:
        """One handoff.

        Raises:
            NotFoundError: for no such handoff.
        """
        handoff = self.store.get(handoff_id)
        if handoff is None:
            raise NotFoundError(f"No handoff has the id {handoff_id!r}.")
        return handoff

    def messages(self, handoff_id: Text) -> List[HandoffMessage]:
        """What was said, in order (see `get` for errors)."""
        self.get(handoff_id)
        return self.store.messages(handoff_id)

    def claim(self, handoff_id: Text, agent: Text) -> Handoff:
        """Takes a waiting conversation; from now on it is `agent`'s alone.

        Raises:
            NotFoundError: for no such handoff.
            ConflictError: when another agent claimed it first, or it ended.
        """
        self.get(handoff_id)
        if not self.store.claim(handoff_id, agent, self.clock()):
            now = self.get(handoff_id)
            if now.state == "claimed" and now.agent == agent:
                return now  # claimed again by the same agent: nothing changes
            raise ConflictError(_taken(now))
        return self.get(handoff_id)

    def reply(self, handoff_id: Text, agent: Text, text: Text) -> HandoffMessage:
        """An agent's reply, kept with the handoff; delivering it to the person's
        channel is the caller's.

        Raises:
            NotFoundError: for no such handoff.
            ConflictError: for a handoff this agent has not claimed, or that ended.
            InputError: for an empty or over-long reply.
        """
        text = (text or "").strip()
        if not text:
            raise InputError("Write a reply first.")
        if len(text) > MAX_REPLY_CHARS:
            raise InputError(f"A reply has at most {MAX_REPLY_CHARS} characters.")
        self._theirs(handoff_id, agent)
        now = self.clock()
        message = self.store.add_message(
            HandoffMessage(handoff_id, 0, now, "agent", text, (), agent))
        self.store.replied(handoff_id, now)
        return message

    def close(self, handoff_id: Text, agent: Text, outcome: Text = "closed") -> Handoff:
        """Ends a conversation the agent has: `handed_back` (the assistant answers
        again) or `closed`.

        Raises:
            NotFoundError, ConflictError: as for `reply`.
            InputError: for another outcome.
        """
        if outcome not in OUTCOMES or outcome == "cancelled":
            raise InputError("An agent ends a handoff as `handed_back` or `closed`.")
        self._theirs(handoff_id, agent)
        if not self.store.close(handoff_id, outcome, self.clock()):
            raise ConflictError(_taken(self.get(handoff_id)))
        return self.get(handoff_id)

    def _theirs(self, handoff_id: Text, agent: Text) -> Handoff:
        handoff = self.get(handoff_id)
        if handoff.state != "claimed" or handoff.agent != agent:
            raise ConflictError(_taken(handoff) if handoff.state != "waiting" else
                                "Claim this conversation before answering it.")
        return handoff


def _taken(handoff: Handoff) -> Text:
    """What to tell an agent who lost the race, or came too late."""
    if handoff.state == "claimed":
        return f"{handoff.agent} has this conversation; choose another one."
    if handoff.state == "closed":
        return f"This conversation has ended ({handoff.outcome})."
    return "This conversation is waiting; claim it first."


def summary(handoff: Handoff, now: float) -> Dict[Text, Any]:
    """A queue row: the handoff with how long the person has waited (for a first
    reply, or until it was claimed)."""
    until = handoff.first_reply_at or (None if handoff.state == "waiting" else
                                       handoff.claimed_at)
    return {**handoff.to_payload(),
            "waiting_seconds": round((until or now) - handoff.created_at, 1)}
