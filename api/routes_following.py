"""Following records: one's own notifications (read, mark read), comments with @mentions, watching a record.

Anyone signed in may comment on an open record and watch any record; whether a comment is accepted is the
workflow's decision (``models.rules.check_comment``). Each person reads and marks only their own notifications.
"""

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import ApiUser, AuthenticatedRoute, Client
from api.errors import REFUSALS, STEP_REFUSALS
from api.params import Limit, Offset, RecordId, RowId
from api.schemas import CommentRequest, MyNotification, MyNotifications, ReadAll, Watching
from client.records import CapaClient
from models.payloads import CommentStep, StepOutcome

router = APIRouter(route_class=AuthenticatedRoute)

NOT_THEIRS: dict[int | str, dict[str, object]] = {
    **REFUSALS,
    404: STEP_REFUSALS[404] | {"description": "The caller has no notification with this id"},
}


@router.get("/me/notifications", tags=["me"], responses=REFUSALS)
async def my_notifications(
    user: ApiUser,
    client: Client,
    unread: Annotated[bool, Query(description="Only those not marked read yet")] = False,
    limit: Limit = 50,
    offset: Offset = 0,
) -> MyNotifications:
    """The caller's notifications, newest first: every notice of a record that reached them (those of the
    records they watch too), with ``unread``, how many of them all are unread."""
    rows = await client.my_notifications(user.name, unread_only=unread, limit=limit, offset=offset)
    total = await client.count_my_notifications(user.name, unread_only=unread)
    unread_count = total if unread else await client.count_my_notifications(user.name, unread_only=True)
    return MyNotifications(
        items=[MyNotification.of(row) for row in rows], total=total, limit=limit, offset=offset, unread=unread_count
    )


@router.post("/me/notifications/read-all", tags=["me"], responses=REFUSALS)
async def read_all(user: ApiUser, client: Client) -> ReadAll:
    """Mark every unread notification of the caller read."""
    return ReadAll(read=await client.mark_all_read(user.name))


@router.post("/me/notifications/{notification_id}/read", tags=["me"], responses=NOT_THEIRS)
async def read_one(notification_id: RowId, user: ApiUser, client: Client) -> MyNotification:
    """Mark one of the caller's notifications read (reading it again keeps the first time)."""
    return MyNotification.of(await client.mark_read(user.name, notification_id))


@router.post("/records/{record_id}/comments", tags=["records"], responses=STEP_REFUSALS)
async def comment(record_id: RecordId, body: CommentRequest, user: ApiUser, client: Client) -> StepOutcome:
    """Comment on an open record (anyone signed in): a timeline entry; each ``@name`` must be a person in the
    directory (refused naming ``text`` otherwise), who is told of it, as are the record's watchers. A closed or
    cancelled record takes no comments (409)."""
    return await client.take_step(record_id, user.name, CommentStep(text=body.text))


async def _watching(client: CapaClient, record_id: str, name: str) -> Watching:
    watchers = await client.watchers(record_id)
    return Watching(record_id=record_id, watching=name in watchers, watchers=watchers)


@router.put("/records/{record_id}/watch", tags=["records"], responses={**REFUSALS, 404: STEP_REFUSALS[404]})
async def watch(record_id: RecordId, user: ApiUser, client: Client) -> Watching:
    """Watch the record: every notice it sends from now on reaches the caller too (not those of their own steps).
    Watching it again changes nothing."""
    await client.watch(record_id, user.name)
    return await _watching(client, record_id, user.name)


@router.delete("/records/{record_id}/watch", tags=["records"], responses={**REFUSALS, 404: STEP_REFUSALS[404]})
async def unwatch(record_id: RecordId, user: ApiUser, client: Client) -> Watching:
    """Stop watching the record (notices naming the caller still reach them)."""
    await client.unwatch(record_id, user.name)
    return await _watching(client, record_id, user.name)
