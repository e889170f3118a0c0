"""`POST /v1/chat`: one turn with the assistant as the caller, kept in their history
(the web UI's chat page does the same through `Operations`)."""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Text

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field, field_validator

from apps.api.deps import PREFIX, Services, needs
from apps.api.services import ApiServices, off_loop
from bilingual_assistant.access.principal import Principal
from bilingual_assistant.access.sender_tokens import TOKEN_SECONDS
from bilingual_assistant.adapters.rasa_rest import Reply
from bilingual_assistant.answers.models import ANSWER_KEY
from bilingual_assistant.errors import NotFoundError, ServiceError

logger = logging.getLogger("apps.api")

MAX_MESSAGE_CHARS = 4000
CONVERSATION = r"^[A-Za-z0-9_-]{1,64}$"  # a conversation's name

router = APIRouter(prefix=PREFIX)


class ChatRequest(BaseModel):
    message: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS,
                         description="what the user says")
    conversation: str = Field("default", pattern=CONVERSATION,
                              description="one of the caller's conversations")

    @field_validator("message")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the message is blank")
        return value


class Source(BaseModel):
    number: int
    title: str
    source: str


class ChatMessage(BaseModel):
    text: str = ""
    sources: List[Source] = Field(default_factory=list,
                                  description="a knowledge answer's numbered sources")
    buttons: List[Dict[str, Any]] = Field(default_factory=list)
    image: Optional[str] = None


class ChatResponse(BaseModel):
    conversation: str
    messages: List[ChatMessage]


async def converse(services: ApiServices, principal: Principal, conversation: Text,
                   message: Text) -> ChatResponse:
    """One turn with Rasa as `principal`, kept in their history."""
    principal.require("chat")
    sender = f"{principal.subject}:{conversation}"
    replies = await services.chat.send(sender, message, reader=principal.reader)
    response = ChatResponse(conversation=conversation,
                            messages=[_message(r) for r in replies])
    if services.history is not None:
        try:
            await off_loop(services.history.record, principal.subject, conversation,
                           message, [m.model_dump() for m in response.messages])
        except ServiceError as error:  # the reply still reaches the person
            logger.warning("api.history_not_kept", extra={"error": str(error)})
    return response


def _message(reply: Reply) -> ChatMessage:
    """One of Rasa's replies as the API gives it: a knowledge answer's text and
    sources, or the text, buttons and image."""
    answer = reply.get(ANSWER_KEY)
    if isinstance(answer, dict) and isinstance(answer.get("text"), str):
        return ChatMessage(text=answer["text"], sources=[
            Source(number=s["number"], title=s["title"], source=s["source"])
            for s in answer.get("sources", [])])
    return ChatMessage(text=reply.get("text", ""), buttons=reply.get("buttons", []),
                       image=reply.get("image"))


@router.post("/chat", response_model=ChatResponse, tags=["chat"])
async def chat(request: ChatRequest, services: Services,
               principal: Principal = Depends(needs("chat"))) -> ChatResponse:
    """One message to the assistant; its replies, a knowledge answer's sources as
    data. The conversation is the caller's own (`conversation` names one of
    several)."""
    return await converse(services, principal, request.conversation,
                          request.message.strip())


class TokenRequest(BaseModel):
    conversation: str = Field("default", pattern=CONVERSATION,
                              description="one of the caller's conversations")


class TokenResponse(BaseModel):
    token: str = Field(description="`Authorization: Bearer` on Rasa's REST channel, "
                                   "`auth: {token}` on its socket.io channel")
    sender: str = Field(description="the conversation, as Rasa names it")
    expires_in: int = Field(description="seconds")


@router.post("/chat/token", response_model=TokenResponse, tags=["chat"])
async def chat_token(request: TokenRequest, services: Services,
                     principal: Principal = Depends(needs("chat"))) -> TokenResponse:
    """A short-lived token for talking to Rasa's REST or socket.io channel directly,
    as the caller, in one of their conversations (only when Rasa requires signed
    senders: `REST_CHANNEL_SECRET`)."""
    if services.sender_tokens is None:
        raise NotFoundError(
            "Rasa's channels take unsigned senders here (REST_CHANNEL_SECRET is not set), "
            "which they do on 127.0.0.1 only: no token is needed.")
    sender = f"{principal.subject}:{request.conversation}"
    return TokenResponse(token=services.sender_tokens.sign(sender, reader=principal.reader),
                         sender=sender,
                         expires_in=TOKEN_SECONDS)
