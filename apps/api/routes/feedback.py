"""`/v1/feedback`, `/v1/gaps`, `/v1/intents`, `/v1/curated-answers`: thumbs up or
down on a reply (the web UI's chat page rates the same way through `Operations`),
the review queue and what a reviewer does with an item, the questions the documents
do not cover, and the curated answers."""

from __future__ import annotations

from typing import Any, Dict, List, Literal, Optional, Sequence, Text

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from apps.api.deps import PREFIX, Services, needs
from apps.api.routes.chat import CONVERSATION, MAX_MESSAGE_CHARS, Source
from apps.api.services import ApiServices, off_loop
from bilingual_assistant.access.principal import Principal
from bilingual_assistant.errors import NotFoundError
from bilingual_assistant.feedback.models import CuratedAnswer, Feedback
from bilingual_assistant.feedback.service import FeedbackService
from bilingual_assistant.knowledge.access import readers_of_all

router = APIRouter(prefix=PREFIX)


class FeedbackRequest(BaseModel):
    conversation: str = Field("default", pattern=CONVERSATION)
    rating: Literal[1, -1] = Field(description="1: thumbs up; -1: thumbs down")
    reason: str = Field("", max_length=1000)
    message: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS,
                         description="the user's message the reply answered")
    reply: str = Field(min_length=1, max_length=20000, description="the assistant's reply")
    sources: List[Source] = Field(default_factory=list, max_length=20)


class IntentFix(BaseModel):
    intent: str = Field(min_length=1, max_length=100)


GROUPS = Field(None, max_length=50, description=(
    "who may be served it (their groups' documents); left out: from the feedback's "
    "sources (everyone when all are everyone's), or everyone without feedback"))


class AnswerFix(BaseModel):
    answer: str = Field(min_length=1, max_length=4000)
    groups: Optional[List[str]] = GROUPS


class Note(BaseModel):
    note: str = Field("", max_length=1000)


class NewCuratedAnswer(BaseModel):
    question: str = Field(min_length=1, max_length=2000)
    answer: str = Field(min_length=1, max_length=4000)
    groups: Optional[List[str]] = GROUPS


def reviews(services: ApiServices) -> FeedbackService:
    """The feedback service, if set up."""
    if services.feedback is None:
        raise NotFoundError("Feedback is not set up in this service.")
    return services.feedback


async def rate(services: ApiServices, principal: Principal, conversation: Text,
               rating: int, reason: Text, message: Text, reply: Text,
               sources: List[Dict[Text, Any]]) -> Feedback:
    """A thumbs up or down, with what Rasa understands the message as."""
    principal.require("feedback")
    understood = await services.chat.understand(message)
    return await off_loop(
        reviews(services).submit, principal.subject, conversation, rating, reason,
        message, reply, sources, (understood or {}).get("name"),
        (understood or {}).get("confidence"))


@router.post("/feedback", tags=["feedback"], status_code=201)
async def give_feedback(request: FeedbackRequest, services: Services,
                        principal: Principal = Depends(needs("feedback"))
                        ) -> Dict[Text, Any]:
    """A thumbs up or down on one reply, with a reason; a thumbs down goes to the
    review queue with what the assistant understood (Rasa's intent) and the
    sources it gave."""
    item = await rate(services, principal, request.conversation, request.rating,
                      request.reason, request.message, request.reply,
                      [s.model_dump() for s in request.sources])
    return item.to_payload()


@router.get("/feedback", tags=["feedback"])
async def feedback_queue(services: Services,
                         status: Literal["open", "resolved", "all"] = "open",
                         limit: int = Query(50, ge=1, le=500),
                         principal: Principal = Depends(needs("admin"))
                         ) -> Dict[Text, Any]:
    """The review queue (open thumbs-downs), or resolved feedback."""
    items = await off_loop(reviews(services).queue, None if status == "all" else status,
                           limit)
    return {"feedback": [i.to_payload() for i in items]}


@router.post("/feedback/{feedback_id}/intent", tags=["feedback"])
async def fix_intent(feedback_id: str, fix: IntentFix, services: Services,
                     principal: Principal = Depends(needs("admin"))) -> Dict[Text, Any]:
    """The message was misunderstood: it becomes a training example of the given
    intent in `data/nlu/reviewed.yml` (learnt at the next retrain)."""
    return (await off_loop(reviews(services).correct_intent, feedback_id, fix.intent,
                           principal.subject)).to_payload()


@router.post("/feedback/{feedback_id}/answer", tags=["feedback"])
async def fix_answer(feedback_id: str, fix: AnswerFix, services: Services,
                     principal: Principal = Depends(needs("admin"))) -> Dict[Text, Any]:
    """The right answer: served from now on for the same or a very similar
    question, before the LLM.

    Only to the people who may read every document the rated reply cited, unless
    `groups` says who."""
    return (await off_loop(write_answer, services, feedback_id, fix.answer,
                           principal.subject, fix.groups)).to_payload()


def write_answer(services: ApiServices, feedback_id: Text, answer: Text, by: Text,
                 groups: Optional[Sequence[Text]] = None) -> CuratedAnswer:
    """A reviewer's answer to a rated reply, for `groups`, or (None) for the people
    who may read every document the reply cited.

    Raises:
        NotFoundError: for no such feedback.
        InputError: for a bad answer or group, or cited documents no one group may
            read all of, when `groups` is None.
    """
    service = reviews(services)
    if groups is None:
        groups = sources_readers(services, service, feedback_id)
    return service.write_answer(feedback_id, answer, by, groups)


def sources_readers(services: ApiServices, service: FeedbackService,
                    feedback_id: Text) -> Sequence[Text]:
    """The groups that may read every document a rated reply cited (empty: all are
    everyone's), as the documents are indexed now.

    Raises:
        NotFoundError: for no such feedback.
        InputError: when no one group may read them all.
    """
    item = service.store.get(feedback_id)
    if item is None:
        raise NotFoundError(f"No feedback has the id {feedback_id!r}.")
    cited = [s["source"] for s in item.sources
             if isinstance(s, dict) and isinstance(s.get("source"), str)]
    if not cited:
        return ()
    indexed = services.documents.document_readers()
    return readers_of_all(indexed.get(source, ()) for source in cited)


@router.post("/feedback/{feedback_id}/gap", tags=["feedback"])
async def mark_gap(feedback_id: str, note: Note, services: Services,
                   principal: Principal = Depends(needs("admin"))) -> Dict[Text, Any]:
    """The documents do not cover the question: listed under GET /v1/gaps."""
    return (await off_loop(reviews(services).mark_gap, feedback_id, note.note,
                           principal.subject)).to_payload()


@router.post("/feedback/{feedback_id}/dismiss", tags=["feedback"])
async def dismiss(feedback_id: str, note: Note, services: Services,
                  principal: Principal = Depends(needs("admin"))) -> Dict[Text, Any]:
    """Nothing to change."""
    return (await off_loop(reviews(services).dismiss, feedback_id, note.note,
                           principal.subject)).to_payload()


@router.get("/gaps", tags=["feedback"])
async def gaps(services: Services,
               principal: Principal = Depends(needs("admin"))) -> Dict[Text, Any]:
    """Questions marked as not covered by the documents."""
    return {"gaps": [g.to_payload() for g in await off_loop(reviews(services).gaps)]}


@router.get("/intents", tags=["feedback"])
async def intents(services: Services,
                  principal: Principal = Depends(needs("admin"))) -> Dict[Text, Any]:
    """The intents a corrected message may be given."""
    return {"intents": await off_loop(reviews(services).examples.intents)}


@router.get("/curated-answers", tags=["feedback"])
async def curated(services: Services,
                  principal: Principal = Depends(needs("admin"))) -> Dict[Text, Any]:
    """Every curated answer."""
    answers = await off_loop(reviews(services).store.answers)
    return {"answers": [a.to_payload() for a in answers]}


@router.post("/curated-answers", tags=["feedback"], status_code=201)
async def add_curated(request: NewCuratedAnswer, services: Services,
                      principal: Principal = Depends(needs("admin"))) -> Dict[Text, Any]:
    """A curated answer for a question, without feedback."""
    return (await off_loop(reviews(services).add_answer, request.question, request.answer,
                           principal.subject, None, request.groups or ())).to_payload()


@router.delete("/curated-answers/{answer_id}", tags=["feedback"])
async def remove_curated(answer_id: str, services: Services,
                         principal: Principal = Depends(needs("admin"))
                         ) -> Dict[Text, Any]:
    """Deletes a curated answer."""
    if not await off_loop(reviews(services).store.remove_answer, answer_id):
        raise NotFoundError(f"No curated answer has the id {answer_id!r}.")
    return {"deleted": answer_id}
