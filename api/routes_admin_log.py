"""The admin log, read through the API: ``GET /api/v1/admin-log`` (admins).

Every change to the directory and the API tokens, newest first, each entry with the hash that chains it to the one
before (``models.chain``), so a client can keep the entries it has read and recompute them later.
"""

import json
from datetime import UTC, datetime
from typing import Annotated, Any, Self

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.deps import ApiUser, AuthenticatedRoute, Client, require_role
from api.errors import REFUSALS
from api.params import Limit, Offset
from api.schemas import Page
from models.enums import Role
from models.payloads import USER_NAME_PATTERN
from models.tables import AdminLogEntry

router = APIRouter(tags=["admin log"], route_class=AuthenticatedRoute)


class AdminLogItem(BaseModel):
    """One change to the directory or the API tokens: who made it, what it was, whose account, the fields before
    and after it (never a password or a secret), and the entry's hash in the log's chain."""

    seq: int = Field(ge=1, description="The entry's place in the log, from 1 without gaps")
    at: datetime = Field(description="When, in UTC")
    actor: str = Field(description="Who made the change")
    action: str = Field(examples=["role_changed"])
    target: str = Field(description="Whose account it changed", examples=["olivia"])
    before: dict[str, Any] = Field(examples=[{"role": "owner"}])
    after: dict[str, Any] = Field(examples=[{"role": "manager"}])
    hash: str = Field(description="SHA-256 (hex) of the entry's content chained to the entry before")

    @classmethod
    def of(cls, entry: AdminLogEntry) -> Self:
        at = entry.at if entry.at.tzinfo is not None else entry.at.replace(tzinfo=UTC)
        return cls(
            seq=entry.seq,
            at=at.astimezone(UTC),
            actor=entry.actor,
            action=entry.action,
            target=entry.target,
            before=json.loads(entry.before),
            after=json.loads(entry.after),
            hash=entry.hash,
        )


@router.get("/admin-log", responses=REFUSALS)
async def admin_log(
    user: ApiUser,
    client: Client,
    target: Annotated[str | None, Query(pattern=USER_NAME_PATTERN, description="Only changes to this account")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[AdminLogItem]:
    """The admin log, newest first: every change to the directory and the API tokens (admins)."""
    require_role(user, Role.ADMIN)
    entries, total = await client.admin_log(target=target, limit=limit, offset=offset)
    return Page(items=[AdminLogItem.of(entry) for entry in entries], total=total, limit=limit, offset=offset)
