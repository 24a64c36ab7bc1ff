"""Sites: the places records belong to and people work at, each with the IANA time zone its times are shown in.

Stored times stay UTC; a zone only changes how a moment is shown and which instant a date-only due names. The
default site (``CAPA_SITE_NAME``, ``CAPA_SITE_TIME_ZONE``) is made the first time anything asks for it, so an
installation always has one; after that, the stored row is what counts.

Whose zone a time is shown in:
- a person's (pages, their e-mails, their CLI): their own zone, else their home site's, else the default site's;
- a record's (what a date-only due means): its site's, else the default site's.
"""

import tomllib
from datetime import UTC, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from core import text as plain_text
from core.adminlog import log_change
from core.database import insert_for, session_scope
from models.calendars import CalendarError, WorkCalendar, calendar_from_ical, calendar_from_toml
from models.enums import AdminAction
from models.payloads import SYSTEM_ACTOR
from models.refusals import InvalidField
from models.tables import Site, User

# The most characters a site's name may have ("Berlin plant", "Line 3, Monterrey").
NAME_MOST = 80


class SiteError(InvalidField):
    """A site or zone that cannot be used, naming the field at fault."""


def checked_zone(value: str, field: str = "time_zone") -> str:
    """``value`` as an IANA zone name the zone database knows, or SiteError naming ``field``."""
    value = value.strip()
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise SiteError(field, f"{value!r} is not a known time zone; give an IANA name such as Europe/Berlin") from None
    return value


def checked_name(name: str, field: str = "name") -> str:
    """``name`` trimmed: 1 to 80 characters of one line, or SiteError naming ``field``."""
    name = name.strip()
    if not 1 <= len(name) <= NAME_MOST:
        raise SiteError(field, f"1 to {NAME_MOST} characters, e.g. Berlin plant")
    found = plain_text.problem(name, multiline=False)
    if found is not None:
        raise SiteError(field, found)
    return name


def zone(name: str | None) -> tzinfo:
    """The zone called ``name`` (UTC for None, or a name the zone database has lost since it was stored)."""
    if not name:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def add_site(engine: Engine, name: str, time_zone: str, *, actor: str = SYSTEM_ACTOR) -> Site:
    """Add a site (``actor``: who adds it, for the admin log); its name and zone are checked first."""
    name = checked_name(name)
    time_zone = checked_zone(time_zone)
    with session_scope(engine) as session:
        if session.get(Site, name) is not None:
            raise SiteError("name", f"a site named {name!r} already exists")
        site = Site(name=name, time_zone=time_zone)
        session.add(site)
        try:
            session.flush()
        except IntegrityError:
            raise SiteError("name", f"a site named {name!r} already exists") from None
        log_change(session, actor, AdminAction.SITE_ADDED, name, after={"time_zone": time_zone})
    return site


def default_site(engine: Engine, name: str, time_zone: str) -> Site:
    """The default site, made now (from the settings' name and zone) if it does not exist yet."""
    with session_scope(engine) as session:
        site = session.get(Site, name)
        if site is not None:
            return site
    made = insert_for(engine, Site).values(name=name, time_zone=time_zone).on_conflict_do_nothing()
    with session_scope(engine) as session:
        session.exec(made)
        found = session.get(Site, name)
        assert found is not None
        return found


def list_sites(engine: Engine) -> list[Site]:
    with session_scope(engine) as session:
        return list(session.exec(select(Site).order_by(col(Site.name))))


def get_site(engine: Engine, name: str) -> Site | None:
    with session_scope(engine) as session:
        return session.get(Site, name)


def existing_site(session: Session, name: str, field: str = "site") -> str:
    """``name`` when a site of that name exists, else SiteError naming ``field`` and the sites there are."""
    if session.get(Site, name) is None:
        known = ", ".join(session.exec(select(Site.name).order_by(col(Site.name))).all()) or "none yet"
        raise SiteError(field, f"no site named {name!r} (sites: {known}); `capa sites add` adds one")
    return name


def require_site(engine: Engine, name: str, field: str = "site") -> str:
    """``existing_site`` in a session of its own."""
    with session_scope(engine) as session:
        return existing_site(session, name.strip(), field)


def person_zone(engine: Engine, user: User | None, default: Site) -> str:
    """The zone name ``user`` reads times in: their own, else their home site's, else ``default``'s."""
    with session_scope(engine) as session:
        return zone_in(session, user, default.name, default.time_zone)


def zone_in(session: Session, user: User | None, default_site: str, default_zone: str) -> str:
    """``person_zone`` in ``session``, the default site named (``default_site``) with the zone it has when it
    has not been made yet (``default_zone``): what the outbox stamps on each e-mail for its recipient."""
    if user is not None and user.time_zone:
        return user.time_zone
    site = session.get(Site, user.site if user is not None and user.site else default_site)
    if site is None and user is not None and user.site:
        site = session.get(Site, default_site)
    return site.time_zone if site is not None else default_zone


def site_zone(engine: Engine, site: str | None, default: Site) -> str:
    """The zone name of the site called ``site`` (None, or a site since removed: ``default``'s)."""
    if site is None or site == default.name:
        return default.time_zone
    found = get_site(engine, site)
    return found.time_zone if found is not None else default.time_zone


# --- working-day calendars ------------------------------------------------------------------------------------


def set_calendar(engine: Engine, name: str, calendar: WorkCalendar | None, *, actor: str = SYSTEM_ACTOR) -> Site:
    """Give site ``name`` its working-day calendar (None: calendar time again); new records pin it at the raise,
    records already raised keep the one they pinned."""
    with session_scope(engine) as session:
        site = session.get(Site, existing_site(session, name.strip()))
        assert site is not None
        before = site.calendar
        site.calendar = calendar.to_toml() if calendar is not None else None
        session.add(site)
        log_change(
            session,
            actor,
            AdminAction.SITE_CALENDAR_SET,
            site.name,
            before={"calendar": before},
            after={"calendar": site.calendar},
        )
        session.flush()
        session.refresh(site)
        return site


def site_calendar(engine: Engine, name: str | None) -> WorkCalendar | None:
    """The calendar of site ``name`` (None when it has none, or no site is named)."""
    if name is None:
        return None
    site = get_site(engine, name)
    if site is None or not site.calendar:
        return None
    return calendar_from_toml(site.calendar)


def calendar_from_text(toml: str | None, ical: str | None, base: WorkCalendar | None) -> WorkCalendar:
    """A calendar from TOML text, or from iCalendar text (all-day events as holidays, merged into ``base``);
    refused naming the field at fault."""
    try:
        if toml is not None and ical is None:
            calendar = calendar_from_toml(toml)
            # A calendar replaces the site's whole calendar: one that says nothing, or leaves its zone to a default
            # other than the site's, would silently move every working-time deadline.
            stated = tomllib.loads(toml)
            if not stated:
                raise SiteError("calendar", "the file states no calendar: give timezone, weekdays, hours, holidays")
            if "timezone" not in stated:
                raise SiteError("timezone", 'give the site\'s IANA time zone, e.g. timezone = "Europe/Berlin"')
            return calendar
        if ical is not None and toml is None:
            return calendar_from_ical(ical, base)
    except CalendarError as exc:
        raise SiteError(exc.field, str(exc).removeprefix(f"{exc.field}: ")) from None
    raise SiteError("calendar", "give the calendar as TOML or as iCalendar, one of the two")


def import_calendar(
    engine: Engine, name: str, *, toml: str | None = None, ical: str | None = None, actor: str = SYSTEM_ACTOR
) -> WorkCalendar:
    """Set site ``name``'s calendar from TOML, or add an iCalendar file's all-day events to its holidays (the
    site's current calendar, else Monday-Friday 08:00-16:00 in the site's zone)."""
    site = get_site(engine, require_site(engine, name))
    assert site is not None
    base = site_calendar(engine, site.name) or WorkCalendar(timezone=site.time_zone)
    calendar = calendar_from_text(toml, ical, base)
    set_calendar(engine, site.name, calendar, actor=actor)
    return calendar
