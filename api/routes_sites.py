"""Sites: the places records belong to, each with its time zone. Anyone signed in may list them (raising a
record names one); admins add them."""

from fastapi import APIRouter, status

from api.deps import ApiUser, AuthenticatedRoute, Client, require_role
from api.errors import REFUSALS
from api.schemas import SiteCalendarBody, SiteCalendarPublic, SiteCreate, SitePublic
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


# --- working-day calendars ----------------------------------------------------------------------------------------


@router.get("/sites/{site}/calendar", tags=["sites"], responses=REFUSALS)
async def get_site_calendar(site: str, user: ApiUser, client: Client) -> SiteCalendarPublic:
    """The site's working-day calendar (empty when its windows run in calendar time)."""
    return SiteCalendarPublic.of(site, await client.site_calendar(site))


@router.put("/sites/{site}/calendar", tags=["sites"], responses=REFUSALS)
async def put_site_calendar(site: str, body: SiteCalendarBody, user: ApiUser, client: Client) -> SiteCalendarPublic:
    """Set the site's calendar from TOML, or add an iCalendar file's all-day events to its holidays (admins).
    Records raised from now on pin it; records already raised keep theirs. Bad dates, reversed hours or an unknown
    zone are refused naming the field."""
    require_role(user, Role.ADMIN)
    calendar = await client.import_calendar(site, toml=body.toml, ical=body.ical, actor=user.name)
    return SiteCalendarPublic.of(site, calendar)
