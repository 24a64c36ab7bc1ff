"""The web app's part in following records: the notifications page (one's own, unread in bold, mark read, each
linking to its record) and the record page's watch and unwatch buttons. The comment form is a step form
(``api.web.steps``)."""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from api.deps import Client, WebUser
from api.errors import STATUS
from api.web.rendering import problem_page, render, see
from client.errors import CapaError
from client.records import CapaClient
from models.tables import User

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 25


def _page_number(raw: str | None) -> int:
    return int(raw) if raw and raw.isascii() and raw.isdigit() and 0 < len(raw) < 7 and int(raw) > 0 else 1


@router.get("/notifications")
async def notifications(request: Request, user: WebUser, client: Client) -> HTMLResponse:
    unread_only = request.query_params.get("unread") == "1"
    page = _page_number(request.query_params.get("page"))
    rows = await client.my_notifications(
        user.name, unread_only=unread_only, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
    )
    total = await client.count_my_notifications(user.name, unread_only=unread_only)
    return render(
        request,
        "notifications.html",
        user,
        rows=rows,
        total=total,
        page=page,
        pages=max(1, -(-total // PAGE_SIZE)),
        unread_only=unread_only,
    )


@router.post("/notifications/read-all")
async def read_all(request: Request, user: WebUser, client: Client) -> Response:
    count = await client.mark_all_read(user.name)
    request.session["flash"] = f"{count} notification{'' if count == 1 else 's'} marked read"
    return see("/notifications")


@router.post("/notifications/{notification_id:int}/read")
async def read_one(request: Request, notification_id: int, user: WebUser, client: Client) -> Response:
    try:
        await client.mark_read(user.name, notification_id)
    except CapaError as exc:
        return problem_page(request, user, STATUS[exc.kind], exc.message)
    return see("/notifications")


# Before the step forms' /records/{id}/{step}: watching is not a step of the record.
@router.post("/records/{record_id}/watch")
async def watch(request: Request, record_id: str, user: WebUser, client: Client) -> Response:
    return await _set_watching(request, record_id, user, client, watching=True)


@router.post("/records/{record_id}/unwatch")
async def unwatch(request: Request, record_id: str, user: WebUser, client: Client) -> Response:
    return await _set_watching(request, record_id, user, client, watching=False)


async def _set_watching(
    request: Request, record_id: str, user: User, client: CapaClient, *, watching: bool
) -> Response:
    try:
        if watching:
            await client.watch(record_id, user.name)
        else:
            await client.unwatch(record_id, user.name)
    except CapaError as exc:
        return problem_page(request, user, STATUS[exc.kind], exc.message)
    request.session["flash"] = (
        f"You watch {record_id}: its notices reach you in Notifications"
        if watching
        else f"You no longer watch {record_id}"
    )
    return see(f"/records/{record_id}")
