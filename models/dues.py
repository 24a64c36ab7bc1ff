"""A due given as a date alone: the end of that day where the record is.

``2026-03-31`` as a due (an action's, an extension's) means 23:59:59 on that day in the zone of the record's site,
which only the client layer knows (it reads the record's site). So a payload reads a date alone as that day's end
tagged with ``SITE_DAY``, a zone of UTC's offset that only this module makes, and the client layer puts the same
wall-clock time in the record's zone before the step goes on (``in_zone``). A due that has a time stays as given;
one tagged and never resolved is still the end of that day in UTC.

Pure: the payloads validate with it inside the workflow sandbox, where a due always arrives with its time.
"""

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from typing import Any

END_OF_DAY = time(23, 59, 59)
# The zone of a date-alone due until the client layer knows the record's site.
SITE_DAY = timezone(timedelta(0), "end of the day at the record's site")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def read_day(value: Any) -> Any:
    """A date alone (``2026-03-31``, or a ``date``) as the end of that day tagged ``SITE_DAY``; anything else as
    given, for the date-time type to judge."""
    if isinstance(value, str) and _DATE.fullmatch(value.strip()):
        try:
            value = date.fromisoformat(value.strip())
        except ValueError:
            return value
    if isinstance(value, date) and not isinstance(value, datetime):
        return datetime.combine(value, END_OF_DAY, tzinfo=SITE_DAY)
    return value


def is_site_day(value: object) -> bool:
    """Whether ``value`` is a date-alone due not yet placed in its record's zone."""
    return isinstance(value, datetime) and value.tzinfo is SITE_DAY


def has_site_days(values: object) -> bool:
    """Whether any value in ``values`` (a step's ``model_dump()``: dicts and lists) is a date-alone due."""
    if isinstance(values, Mapping):
        return any(has_site_days(value) for value in values.values())
    if isinstance(values, list):
        return any(has_site_days(value) for value in values)
    return is_site_day(values)


def in_zone(values: Any, zone: tzinfo) -> Any:
    """``values`` with each date-alone due placed at the end of its day in ``zone`` (the instant, in UTC)."""
    if isinstance(values, Mapping):
        return {key: in_zone(value, zone) for key, value in values.items()}
    if isinstance(values, list):
        return [in_zone(value, zone) for value in values]
    if is_site_day(values):
        # Kept in UTC, as every stored time is: the record's zone decided the instant, not how it is written.
        return datetime.combine(values.date(), END_OF_DAY, tzinfo=zone).astimezone(UTC)
    return values
