"""Recurrence sentinels: each watched key with its rule, count, window, last firing and linked CAPA (quality,
managers, admins)."""

from fastapi import APIRouter

from api.deps import ApiUser, AuthenticatedRoute, Client, require_role
from api.errors import REFUSALS
from client.sentinels import SentinelRow
from models.rules import SENTINEL_READERS

router = APIRouter(route_class=AuthenticatedRoute)


@router.get("/sentinels", tags=["sentinels"], responses=REFUSALS)
async def list_sentinels(user: ApiUser, client: Client) -> list[SentinelRow]:
    """Every active watched key: its rule, how many occurrences its window holds, the window, when it last fired
    and the CAPA it opened."""
    require_role(user, *SENTINEL_READERS)
    return await client.list_sentinels()
