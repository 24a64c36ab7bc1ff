"""Times and durations as people read them, the same on every page, message, refusal and terminal.

A moment is shown in the reader's zone (``models`` never looks it up: the caller passes it; the default is UTC,
the zone every record keeps):

- a moment, ``2026-03-12 09:00:00 CET``: to the second, because a policy may set deadlines seconds apart (the demo
  policy does) and an auditor reads the exact time a step was taken; with the zone's abbreviation written out, so
  nobody mistakes one site's clock for another's (``UTC+03`` where the zone has no abbreviation). Refusals use the
  same form: a person compares the two times a refusal names with the ones the page or message showed them.
- a minute, ``2026-03-12 08:00``: only in table cells, where columns must fit a terminal or a digest line;
  the table says which zone.
- a duration, ``3d 4h``, ``12m 5s``, ``45s``: the two largest units that are not zero, cut (not rounded) to
  whole seconds, so "late by" never claims a minute that has not passed yet.

Pure and deterministic (no clock, no machine time zone, no I/O): the record workflow's notices use it inside the
workflow sandbox. A moment without a time zone is taken as UTC, which is what the read model stores.
Machine forms (ISO 8601 in JSON, HTTP headers, ids, the value of a ``datetime-local`` input) are not made here.
"""

import re
from datetime import UTC, datetime, timedelta, tzinfo

from models.durations import WorkingSpan, parse_duration

_UNITS = ((86400, "d"), (3600, "h"), (60, "m"), (1, "s"))


def _aware(at: datetime, zone: tzinfo = UTC) -> datetime:
    """``at`` in ``zone``; a naive ``at`` is UTC (never the machine's local zone)."""
    return (at if at.tzinfo is not None else at.replace(tzinfo=UTC)).astimezone(zone)


def zone_name(at: datetime, zone: tzinfo = UTC) -> str:
    """The abbreviation ``zone`` goes by at ``at`` (``CET`` in winter, ``CEST`` in summer), or ``UTC+03`` where
    the zone database gives it none."""
    name = _aware(at, zone).tzname() or "UTC"
    return f"UTC{name}" if name[:1] in "+-" else name


def moment(at: datetime | None, zone: tzinfo = UTC) -> str:
    """``2026-03-12 09:00:00 CET`` in ``zone``; ``-`` for no moment at all."""
    if at is None:
        return "-"
    return f"{_aware(at, zone):%Y-%m-%d %H:%M:%S} {zone_name(at, zone)}"


# A moment as ``moment`` writes it in UTC.
_UTC_MOMENT = re.compile(r"(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) UTC\b")


def moments_in(text: str, zone: tzinfo) -> str:
    """``text`` with every moment written in UTC (``2026-03-12 08:00:00 UTC``) written in ``zone`` instead: a
    message composed once, in UTC, as each of its readers reads it."""
    return _UTC_MOMENT.sub(lambda found: moment(datetime.fromisoformat(found[1]).replace(tzinfo=UTC), zone), text)


def minute(at: datetime, zone: tzinfo = UTC) -> str:
    """``2026-03-12 08:00`` in ``zone``, for a table cell whose heading or note names the zone."""
    return f"{_aware(at, zone):%Y-%m-%d %H:%M}"


def duration(delta: timedelta) -> str:
    """``3d 4h``, ``59m 59s``, ``45s``, ``0s``: the two largest units that are not zero; ``-`` before a negative."""
    if isinstance(delta, WorkingSpan):  # working-day calendars: as the policy wrote it
        return delta.text
    seconds = int(delta.total_seconds())
    left = abs(seconds)
    parts = []
    for size, unit in _UNITS:
        count, left = divmod(left, size)
        if count:
            parts.append(f"{count}{unit}")
    return ("-" if seconds < 0 else "") + (" ".join(parts[:2]) or "0s")


def stored_duration(text: str) -> str:
    """A duration kept as policy-file text (``2d3h14m9s``, how an escalation entry and a message's facts keep
    how late a step was) in the form above; text that is not such a duration comes back as written."""
    try:
        return duration(parse_duration(text))
    except ValueError:
        return text


def due_in(due: datetime, now: datetime) -> str:
    """``due in 3d 4h`` before ``due``, ``late by 2d 3h`` after it (``due in 0s`` at the very moment)."""
    left = _aware(due) - _aware(now)
    return f"late by {duration(-left)}" if left < timedelta(0) else f"due in {duration(left)}"


def size(count: int) -> str:
    """A file's size: ``812 B``, ``14.2 KB``, ``3.1 MB`` (1 KB = 1024 bytes)."""
    if count < 1024:
        return f"{count} B"
    if count < 1024 * 1024:
        return f"{count / 1024:.1f} KB"
    return f"{count / (1024 * 1024):.1f} MB"
