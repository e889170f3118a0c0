"""`POST /v1/model/retrain`: a new Rasa model, loaded only if it is not worse (a job)."""

from __future__ import annotations

from typing import Any, Dict, Text

from fastapi import APIRouter, Depends

from apps.api.deps import PREFIX, Services, needs
from apps.api.services import off_loop
from bilingual_assistant.access.principal import Principal

router = APIRouter(prefix=PREFIX)


@router.post("/model/retrain", tags=["jobs"], status_code=202)
async def retrain(services: Services,
                  principal: Principal = Depends(needs("admin"))) -> Dict[Text, Any]:
    """Trains a new model on the current data (with the reviewed examples), checks
    it beside the served one on the held-out messages and test stories, and loads
    it into Rasa only if it is not worse (a job)."""
    job = await off_loop(services.jobs.submit, "retrain", {}, principal.subject)
    return {"job": job.to_payload()}
