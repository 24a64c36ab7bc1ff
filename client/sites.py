"""Sites and time zones, through the client layer: the sites there are, and the zone each person reads times in
and each record's date-alone dues mean (``core.sites``).

Like the directory it needs only the read-model database. The default site is made (from ``CAPA_SITE_NAME`` and
``CAPA_SITE_TIME_ZONE``) the first time it is asked for.
"""

from datetime import tzinfo
from typing import Any

from client.directory import Directory
from core import sites
from models import dues
from models.calendars import WorkCalendar
from models.tables import Site, User


class Sites(Directory):
    """The directory with its sites, and the zones times are shown and read in."""

    _default: Site | None = None

    async def default_site(self) -> Site:
        """The site records and people without one belong to; made now if this installation has none yet."""
        if self._default is None:
            from core.migrations import ensure_schema  # noqa: PLC0415 - Alembic loads only when a write needs it

            def made() -> Site:
                ensure_schema(self._engine)
                return sites.default_site(self._engine, self._settings.site_name, self._settings.site_time_zone)

            self._default = await self._db(made)
        return self._default

    async def list_sites(self) -> list[Site]:
        """Every site by name, the default one among them."""
        await self.default_site()
        return await self._db(sites.list_sites, self._engine)

    async def add_site(self, name: str, time_zone: str, *, actor: str) -> Site:
        """Add a site with its IANA zone (refused naming ``name`` or ``time_zone``); ``actor`` for the admin log."""
        await self.default_site()
        return await self._db(sites.add_site, self._engine, name, time_zone, actor=actor)

    async def checked_site(self, name: str, field: str = "site") -> str:
        """``name`` when such a site exists; refused naming ``field`` and the sites there are otherwise."""
        await self.default_site()
        return await self._db(sites.require_site, self._engine, name, field)

    async def home_site(self, user: User | None) -> str:
        """The site ``user`` works at: their home site, else the default one."""
        if user is not None and user.site:
            return user.site
        return (await self.default_site()).name

    async def zone_of(self, user: User | None) -> tzinfo:
        """The zone ``user`` reads times in: their own, else their home site's, else the default site's."""
        default = await self.default_site()
        return sites.zone(await self._db(sites.person_zone, self._engine, user, default))

    async def zone_of_person(self, name: str) -> tzinfo:
        """``zone_of`` the person called ``name`` (the default site's for a name the directory lacks)."""
        return await self.zone_of(await self.user(name))

    async def site_zone(self, site: str | None) -> tzinfo:
        """The zone of the site called ``site`` (None: the default site, as for records raised before sites)."""
        default = await self.default_site()
        return sites.zone(await self._db(sites.site_zone, self._engine, site, default))

    async def at_site(self, site: str | None, values: dict[str, Any]) -> dict[str, Any]:
        """``values`` (a step's fields) with each date-alone due at the end of its day in ``site``'s zone."""
        if not dues.has_site_days(values):
            return values
        zone = await self.site_zone(site)
        resolved: dict[str, Any] = dues.in_zone(values, zone)
        return resolved

    # --- working-day calendars ----------------------------------------------------------------------------

    async def site_calendar(self, name: str) -> WorkCalendar | None:
        """Site ``name``'s working-day calendar (None: its windows run in calendar time)."""
        await self.default_site()
        site = await self.checked_site(name)
        return await self._db(sites.site_calendar, self._engine, site)

    async def import_calendar(
        self, name: str, *, toml: str | None = None, ical: str | None = None, actor: str
    ) -> WorkCalendar:
        """Give site ``name`` a calendar from TOML, or add an iCalendar file's all-day events to its holidays;
        refused naming the field at fault. New records pin it at the raise."""
        await self.default_site()
        return await self._db(sites.import_calendar, self._engine, name, toml=toml, ical=ical, actor=actor)
