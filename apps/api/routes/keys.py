"""`/v1/api-keys`: an administrator lists, issues and revokes API keys."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any, Dict, List, Literal, Optional, Text

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field, field_validator

from apps.api.deps import PREFIX, Services, needs
from apps.api.services import off_loop
from bilingual_assistant.access.keys import KeyRecord
from bilingual_assistant.access.principal import SCOPES, Principal
from bilingual_assistant.errors import InputError
from bilingual_assistant.knowledge.access import check_groups

logger = logging.getLogger("apps.api")

router = APIRouter(prefix=PREFIX)


class NewKeyRequest(BaseModel):
    name: str = Field(min_length=1, max_length=80)
    scopes: List[Literal[SCOPES]] = Field(min_length=1)  # type: ignore[valid-type]
    days: Optional[float] = Field(None, gt=0, le=3650, description="lifetime; none: no expiry")
    groups: List[str] = Field(default_factory=list, description=(
        "the groups whose documents it reads, besides everyone's (a key with the "
        "admin scope reads every document)"))

    @field_validator("groups")
    @classmethod
    def _groups(cls, groups: List[str]) -> List[str]:
        try:
            return list(check_groups(groups, "groups"))
        except InputError as error:
            raise ValueError(str(error)) from None


def key_payload(record: KeyRecord, now: float) -> Dict[Text, Any]:
    """A key as the routes show it (never the key itself), its times in ISO 8601."""
    def when(seconds: Optional[float]) -> Optional[Text]:
        return None if seconds is None else dt.datetime.fromtimestamp(
            seconds, dt.UTC).isoformat(timespec="seconds")

    return {"id": record.id, "name": record.name, "scopes": list(record.scopes),
            "groups": record.groups.split(), "state": record.state(now),
            "created_at": when(record.created_at), "expires_at": when(record.expires_at),
            "revoked_at": when(record.revoked_at), "last_used_at": when(record.last_used_at)}


@router.get("/api-keys", tags=["access"])
async def list_keys(services: Services,
                    principal: Principal = Depends(needs("admin"))) -> Dict[Text, Any]:
    """Every API key (never the key itself)."""
    records = await off_loop(services.keys.list)
    now = services.keys.clock()
    return {"keys": [key_payload(r, now) for r in records]}


@router.post("/api-keys", tags=["access"], status_code=201)
async def new_key(request: NewKeyRequest, services: Services,
                  principal: Principal = Depends(needs("admin"))) -> Dict[Text, Any]:
    """A new API key; `key` is shown this once (only its hash is kept)."""
    token, record = await off_loop(services.keys.issue, request.name,
                                   list(request.scopes), request.days, request.groups)
    logger.info("api.key_issued", extra={"key": record.id, "by": principal.subject})
    return {"key": token, **key_payload(record, services.keys.clock())}


@router.delete("/api-keys/{key_id}", tags=["access"])
async def revoke_key(key_id: str, services: Services,
                     principal: Principal = Depends(needs("admin"))) -> Dict[Text, Any]:
    """Revokes a key at once."""
    record = await off_loop(services.keys.revoke, key_id)
    logger.info("api.key_revoked", extra={"key": record.id, "by": principal.subject})
    return key_payload(record, services.keys.clock())
