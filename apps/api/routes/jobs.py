"""`/v1/jobs`: the background jobs (indexing, reindexing, retraining) with their
state and progress, and a new attempt at a failed one."""

from __future__ import annotations

from typing import Any, Dict, Text

from fastapi import APIRouter, Depends, Query

from apps.api.deps import PREFIX, Services, needs
from apps.api.services import off_loop
from bilingual_assistant.access.principal import JOB_SCOPES, Principal

router = APIRouter(prefix=PREFIX)


@router.get("/jobs", tags=["jobs"])
async def list_jobs(services: Services, limit: int = Query(50, ge=1, le=200),
                    principal: Principal = Depends(needs("knowledge:read"))
                    ) -> Dict[Text, Any]:
    """The newest jobs with their state, progress and error."""
    return {"jobs": [j.to_payload() for j in await off_loop(services.jobs.recent, limit)]}


@router.get("/jobs/{job_id}", tags=["jobs"])
async def get_job(job_id: str, services: Services,
                  principal: Principal = Depends(needs("knowledge:read"))
                  ) -> Dict[Text, Any]:
    """One job: `state` (queued, running, succeeded, failed), `progress` (0 to 1),
    `message`, `error`."""
    return (await off_loop(services.jobs.get, job_id)).to_payload()


@router.post("/jobs/{job_id}/retry", tags=["jobs"], status_code=202)
async def retry_job(job_id: str, services: Services,
                    principal: Principal = Depends(needs("knowledge:write"))
                    ) -> Dict[Text, Any]:
    """A new attempt at a failed job; it needs the rights submitting such a job
    needs (an administrator's for reindexing and retraining)."""
    job = await off_loop(services.jobs.get, job_id)
    principal.require(JOB_SCOPES.get(job.kind, "admin"))
    return (await off_loop(services.jobs.retry, job_id, principal.subject)).to_payload()
