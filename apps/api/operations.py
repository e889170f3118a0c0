"""The web UI's (`apps/api/ui.py`) way to what the routes do: `Operations`, on the
app as `app.state.operations`, over the functions the routes call."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Text, Tuple

from fastapi import Request

from apps.api.deps import identify
from apps.api.routes.chat import ChatResponse, converse
from apps.api.routes.conversations import chat_history
from apps.api.routes.documents import Reader, save_uploads
from apps.api.routes.feedback import rate, reviews, write_answer
from apps.api.services import ApiServices
from bilingual_assistant.access.principal import Principal
from bilingual_assistant.conversations.history import ChatHistory
from bilingual_assistant.feedback.models import CuratedAnswer, Feedback
from bilingual_assistant.feedback.service import FeedbackService
from bilingual_assistant.jobs.models import Job


class Operations:
    """What the routes and the web UI both do, over the services: who is calling,
    a chat turn (kept in the history), a rating, an upload."""

    def __init__(self, services: ApiServices) -> None:
        self.services = services

    def identify(self, request: Request) -> Principal:
        """The caller: an API key, a signed-in browser's session, or the local user
        (`apps.api.deps.identify`)."""
        return identify(self.services, request)

    async def converse(self, principal: Principal, conversation: Text, message: Text
                       ) -> ChatResponse:
        """One turn with Rasa as `principal`, kept in their history."""
        return await converse(self.services, principal, conversation, message)

    async def rate(self, principal: Principal, conversation: Text, rating: int,
                   reason: Text, message: Text, reply: Text,
                   sources: List[Dict[Text, Any]]) -> Feedback:
        """A thumbs up or down, with what Rasa understands the message as."""
        return await rate(self.services, principal, conversation, rating, reason,
                          message, reply, sources)

    async def upload(self, principal: Principal, files: List[Tuple[Text, Reader]],
                     groups: Optional[Sequence[Text]] = None) -> Tuple[List[Text], Job]:
        """Saves documents under `uploads/`, readable by `groups` (None: as before),
        and queues their indexing (`apps.api.routes.documents.save_uploads`)."""
        return await save_uploads(self.services, principal, files, groups)

    def write_answer(self, feedback_id: Text, answer: Text, by: Text) -> CuratedAnswer:
        """A reviewer's answer to a rated reply, for the people who may read every
        document the reply cited (`apps.api.routes.feedback.write_answer`)."""
        return write_answer(self.services, feedback_id, answer, by)

    def reviews(self) -> FeedbackService:
        """The feedback service, if set up."""
        return reviews(self.services)

    def chat_history(self) -> ChatHistory:
        """The chat log, if kept."""
        return chat_history(self.services)
