"""Sites: the places records belong to, each with its time zone. Anyone signed in may list them (raising a
record names one); admins add them."""

from fastapi import APIRouter, status

from api.deps import ApiUser, AuthenticatedRoute, Client, require_role
from api.errors import REFUSALS
from api.schemas import SiteCreate, SitePublic
from models.enums import Role

router = APIRouter(route_class=AuthenticatedRoute)


@router.get("/sites", tags=["sites"], responses=REFUSALS)
async def list_sites(user: ApiUser, client: Client) -> list[SitePublic]:
    """Every site by name, with its time zone; ``default`` marks the one records and people without a site
    belong to."""
    default = await client.default_site()
    return [SitePublic.of(site, default.name) for site in await client.list_sites()]


@router.post("/sites", tags=["sites"], status_code=status.HTTP_201_CREATED, responses=REFUSALS)
async def add_site(body: SiteCreate, user: ApiUser, client: Client) -> SitePublic:
    """Add a site with its IANA time zone (admins); an unknown zone is refused naming ``time_zone``."""
    require_role(user, Role.ADMIN)
    default = await client.default_site()
    return SitePublic.of(await client.add_site(body.name, body.time_zone, actor=user.name), default.name)
