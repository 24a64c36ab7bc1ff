"""The recurrence sentinels page (``/sentinels``): each watched key, its rule, how many occurrences its window
holds, the window, when it last fired and its linked CAPA (quality, managers, admins)."""

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.deps import Client, WebUser
from api.web.rendering import problem_page, render
from models.enums import Role
from models.rules import may_see_sentinels

router = APIRouter(include_in_schema=False)


@router.get("/sentinels")
async def sentinels(request: Request, user: WebUser, client: Client) -> Response:
    if not may_see_sentinels(Role(user.role)):
        return problem_page(
            request, user, 403, f"the sentinels are for quality, managers and admins; {user.name} is {user.role}"
        )
    return render(request, "sentinels.html", user, rows=await client.list_sentinels())
