"""What people type for due dates and plan actions, turned into the values the client layer takes.

A due time (``DUE``, ``--until``) is one of:
- a date ``YYYY-MM-DD``: the end of that day, 23:59:59 UTC, so "due 2026-03-31" leaves the whole day;
- an ISO date-time ``2026-03-31T14:00`` (UTC unless it carries an offset such as ``Z`` or ``+02:00``);
- a duration from now: ``10d``, ``12h``, ``1d12h``, ``30s``.
"""

import re
from datetime import UTC, date, datetime, time

from models.durations import parse_duration

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# OWNER:DUE:DESCRIPTION, where DUE may itself hold colons when it is a date-time.
_ACTION = re.compile(
    r"(?P<owner>[^:]+):"
    r"(?P<due>\d{4}-\d{2}-\d{2}[T ]\d{2}(?::\d{2}(?::\d{2}(?:\.\d+)?)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?|[^:]+):"
    r"(?P<description>.+)",
    re.DOTALL,
)
END_OF_DAY = time(23, 59, 59)


def parse_due(text: str, now: datetime) -> datetime:
    """The UTC instant ``text`` names; ValueError saying the accepted forms when it names none."""
    value = text.strip()
    if _DATE.fullmatch(value):
        try:
            return datetime.combine(date.fromisoformat(value), END_OF_DAY, tzinfo=UTC)
        except ValueError:
            raise ValueError(f"{text!r} is not a calendar date") from None
    try:
        return (now + parse_duration(value)).replace(microsecond=0)
    except OverflowError:
        raise ValueError(f"{text!r} lies beyond the year 9999") from None
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"{text!r} is not a date (2026-03-31), a date-time (2026-03-31T14:00Z) or a duration (10d, 12h, 1d12h)"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_action(text: str, now: datetime) -> dict[str, object]:
    """One ``--action OWNER:DUE:DESCRIPTION`` as the fields of a plan's action (``models.payloads.PlannedAction``);
    ValueError saying what is wrong with it."""
    match = _ACTION.fullmatch(text.strip())
    if match is None:
        raise ValueError("write it as OWNER:DUE:DESCRIPTION, e.g. olivia:10d:Replace the worn fixture")
    return {
        "owner": match["owner"].strip(),
        "due_at": parse_due(match["due"], now),
        "description": match["description"].strip(),
    }
