"""`/v1/conversations`: the caller's own conversations and their turns, as kept by
the chat history."""

from __future__ import annotations

from typing import Any, Dict, Text

from fastapi import APIRouter, Depends, Path, Query

from apps.api.deps import PREFIX, Services, needs
from apps.api.routes.chat import CONVERSATION
from apps.api.services import ApiServices, off_loop
from bilingual_assistant.access.principal import Principal
from bilingual_assistant.conversations.history import ChatHistory
from bilingual_assistant.errors import NotFoundError

router = APIRouter(prefix=PREFIX)


def chat_history(services: ApiServices) -> ChatHistory:
    """The chat log, if kept."""
    if services.history is None:
        raise NotFoundError("Conversation history is not kept by this service.")
    return services.history


@router.get("/conversations", tags=["chat"])
async def conversations(services: Services, limit: int = Query(50, ge=1, le=200),
                        principal: Principal = Depends(needs("chat"))
                        ) -> Dict[Text, Any]:
    """The caller's own conversations, the most recent first."""
    found = await off_loop(chat_history(services).conversations, principal.subject, limit)
    return {"conversations": [c.to_payload() for c in found]}


@router.get("/conversations/{conversation}", tags=["chat"])
async def conversation_turns(services: Services,
                             conversation: str = Path(..., pattern=CONVERSATION),
                             limit: int = Query(50, ge=1, le=200),
                             principal: Principal = Depends(needs("chat"))
                             ) -> Dict[Text, Any]:
    """One of the caller's conversations: each message and the replies it got,
    oldest first."""
    turns = await off_loop(chat_history(services).turns, principal.subject, conversation,
                           limit)
    return {"conversation": conversation, "turns": [
        {k: v for k, v in t.to_payload().items() if k != "subject"} for t in turns]}
