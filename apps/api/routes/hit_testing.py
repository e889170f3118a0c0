"""`/v1/hit-tests`: which passages the assistant would read for a question, and the
history of such runs.

A run searches only the documents its tester may read, and shows what it found:
so a run is its tester's (and administrators'), no one else's."""

from __future__ import annotations

from typing import Any, Dict, List, Literal, Text

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field, field_validator

from apps.api.deps import PREFIX, Services, needs
from apps.api.services import off_loop
from bilingual_assistant.access.principal import Principal
from bilingual_assistant.errors import NotFoundError
from bilingual_assistant.knowledge.hit_testing import (
    MAX_QUESTION_CHARS,
    MAX_QUESTIONS,
    HitTestRun,
)

router = APIRouter(prefix=PREFIX)


class HitTestRequest(BaseModel):
    questions: List[str] = Field(min_length=1, max_length=MAX_QUESTIONS,
                                 description="one question, or a batch")
    mode: Literal["hybrid", "dense", "bm25"] = "hybrid"
    top_k: int = Field(5, ge=1, le=20)

    @field_validator("questions")
    @classmethod
    def _sizes(cls, questions: List[str]) -> List[str]:
        for number, question in enumerate(questions, start=1):
            if not question.strip():
                raise ValueError(f"question {number} is blank")
            if len(question) > MAX_QUESTION_CHARS:
                raise ValueError(f"question {number} is over {MAX_QUESTION_CHARS} characters")
        return questions


def theirs(principal: Principal, run: HitTestRun) -> bool:
    """Whether `principal` may see `run`: their own, or any for an administrator
    (a run shows passages of the documents its tester may read)."""
    return run.subject == principal.subject or principal.allows("admin")


@router.post("/hit-tests", tags=["knowledge"], status_code=201)
async def hit_test(request: HitTestRequest, services: Services,
                   principal: Principal = Depends(needs("knowledge:read"))
                   ) -> Dict[Text, Any]:
    """Which passages the assistant would read for each question, with scores;
    the run is kept in the history."""
    run = await off_loop(services.hit_tests.run, request.questions, principal.subject,
                         request.mode, request.top_k, reader=principal.reader)
    return run.to_payload()


@router.get("/hit-tests", tags=["knowledge"])
async def hit_test_history(
        services: Services, limit: int = Query(20, ge=1, le=100),
        principal: Principal = Depends(needs("knowledge:read"))) -> Dict[Text, Any]:
    """The newest runs, newest first (questions and how many found a passage).

    An administrator's are everyone's; anyone else's are their own."""
    runs = await off_loop(services.hit_tests.history, limit,
                          None if principal.allows("admin") else principal.subject)
    return {"runs": [
        {"id": r.id, "created_at": r.created_at, "subject": r.subject, "mode": r.mode,
         "questions": len(r.results), "answered": sum(q.answered for q in r.results)}
        for r in runs]}


@router.get("/hit-tests/{run_id}", tags=["knowledge"])
async def hit_test_run(run_id: str, services: Services,
                       principal: Principal = Depends(needs("knowledge:read"))
                       ) -> Dict[Text, Any]:
    """One run with every question's passages.

    Another person's run is 404, as one that does not exist (an administrator sees
    every run)."""
    run = await off_loop(services.hit_tests.get, run_id)
    if not theirs(principal, run):
        raise NotFoundError(f"No hit-test run has the id {run_id!r}.")
    return run.to_payload()
