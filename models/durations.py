"""Durations as people write them in policy files and on the command line: ``30s``, ``12h``, ``7d``, ``1d12h``."""

import re
from datetime import timedelta

_UNITS = {"w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}
_PART = re.compile(r"(\d+)([wdhms])")
_WHOLE = re.compile(r"(?:\d+[wdhms])+")


def parse_duration(text: str) -> timedelta:
    """Parse ``1d12h``-style text; raise ValueError with the accepted form when it does not fit."""
    cleaned = text.strip().lower()
    if not _WHOLE.fullmatch(cleaned):
        raise ValueError(f"{text!r} is not a duration; write it like 30s, 15m, 12h, 7d or 2w (combinable: 1d12h)")
    seconds = sum(int(n) * _UNITS[unit] for n, unit in _PART.findall(cleaned))
    return timedelta(seconds=seconds)


def format_duration(delta: timedelta) -> str:
    """Render a duration in the same compact form, largest units first (``-`` prefix when negative)."""
    total = int(delta.total_seconds())
    sign = "-" if total < 0 else ""
    total = abs(total)
    if total == 0:
        return "0s"
    parts = []
    for unit in ("d", "h", "m", "s"):
        size = _UNITS[unit]
        count, total = divmod(total, size)
        if count:
            parts.append(f"{count}{unit}")
    return sign + "".join(parts)


# working-day calendars: windows written in working time (``5wd``, ``16wh``)
class WorkingSpan(timedelta):
    """A window counted in working time under the record's pinned site calendar. Its value as a timedelta is the
    calendar-time reading used when no calendar is pinned (``5wd`` = 5 days, ``16wh`` = 16 hours); ``text`` keeps
    what the policy wrote, so it serialises back unchanged."""

    text: str

    def __new__(cls, text: str) -> "WorkingSpan":
        cleaned = text.strip().lower()
        amount, unit = int(cleaned[:-2]), cleaned[-2:]
        span = super().__new__(cls, days=amount) if unit == "wd" else super().__new__(cls, hours=amount)
        span.text = f"{amount}{unit}"
        return span

    def __repr__(self) -> str:
        return f"WorkingSpan({self.text!r})"


_WORKING = re.compile(r"[1-9]\d*(wd|wh)")


def parse_window(text: str) -> timedelta:
    """A policy window or offset: a working span (``5wd``, ``16wh``) or a plain duration (``7d``)."""
    cleaned = text.strip().lower()
    if _WORKING.fullmatch(cleaned):
        return WorkingSpan(cleaned)
    return parse_duration(text)


def format_window(delta: timedelta) -> str:
    return delta.text if isinstance(delta, WorkingSpan) else format_duration(delta)
