"""The notification outbox (managers and admins read it; admins retry) and the overdue digest on demand."""

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import ApiUser, AuthenticatedRoute, Client, require_role
from api.errors import REFUSALS, STEP_REFUSALS
from api.params import Limit, Offset, RowId
from api.schemas import DigestSent, NotificationPublic, Page, Retried
from client.errors import CapaError, ErrorKind
from models.enums import Role

router = APIRouter(tags=["notifications"], route_class=AuthenticatedRoute)


@router.get("/notifications", responses=REFUSALS)
async def list_notifications(
    user: ApiUser,
    client: Client,
    failed: Annotated[bool, Query(description="Only those whose delivery failed")] = False,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[NotificationPublic]:
    """Notifications, newest first: sent, pending and failed, with attempts and the last error."""
    require_role(user, Role.MANAGER, Role.ADMIN)
    rows = await client.list_notifications(failed_only=failed, limit=limit, offset=offset)
    total = await client.count_notifications(failed_only=failed)
    return Page(items=[NotificationPublic.of(row) for row in rows], total=total, limit=limit, offset=offset)


@router.post(
    "/notifications/{notification_id}/retry",
    responses={**REFUSALS, 404: STEP_REFUSALS[404] | {"description": "No such notification"}},
)
async def retry_notification(notification_id: RowId, user: ApiUser, client: Client) -> Retried:
    """Hand a failed notification to delivery again (admins), once its cause is fixed; only a failed one can be."""
    require_role(user, Role.ADMIN)
    if await client.notification(notification_id) is None:
        raise CapaError(ErrorKind.NOT_FOUND, f"notification_id: no notification {notification_id}")
    await client.retry_notification(notification_id)
    return Retried(id=notification_id)


@router.post("/digest", responses=REFUSALS)
async def send_digest(user: ApiUser, client: Client) -> DigestSent:
    """Send today's overdue digest now (admins); whoever already had today's is not sent it again."""
    require_role(user, Role.ADMIN)
    workflow_id, result = await client.send_digest_now()
    return DigestSent(workflow_id=workflow_id, **result.model_dump())
