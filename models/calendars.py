"""Working-day calendars of a site: which weekdays are worked, the working hours of a day, the holidays, the
site's time zone; and windows counted in working time (``5wd``: the end of the 5th working day after the start;
``16wh``: sixteen working hours later).

Pure and deterministic (no clock, no I/O): the record workflow and the unit tests compute the same instants.
A calendar is written in TOML (``weekdays``, ``hours = "08:00-16:00"``, ``holidays = [dates]``, ``timezone``) or
imported from an iCalendar file whose all-day events become holidays.
"""

import re
import tomllib
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from icalendar import Calendar
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from models.durations import WorkingSpan
from models.enums import Stage

if TYPE_CHECKING:
    from models.payloads import CapaState
    from models.policy import SeverityPolicy

__all__ = [
    "CalendarError",
    "WorkCalendar",
    "WorkingWindow",
    "calendar_from_ical",
    "calendar_from_toml",
    "parse_working_window",
    "working_between",
]

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# A calendar whose holidays cover every working day for this long has no working time left: refuse, never loop.
_HORIZON_DAYS = 3660
_WINDOW = re.compile(r"(\d+)(wd|wh)")


class CalendarError(ValueError):
    """A calendar refused; ``field`` names what to fix."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class WorkingWindow:
    """A window counted in working time: ``amount`` working days (``wd``) or working hours (``wh``)."""

    amount: int
    unit: Literal["wd", "wh"]

    def __str__(self) -> str:
        return f"{self.amount}{self.unit}"


def parse_working_window(text: str) -> WorkingWindow | None:
    """``5wd`` / ``16wh`` as a WorkingWindow; None when the text is not a working window (a calendar duration)."""
    match = _WINDOW.fullmatch(text.strip().lower())
    if match is None:
        return None
    amount, unit = int(match.group(1)), match.group(2)
    if amount <= 0:
        raise ValueError(f"{text!r}: a working window must be at least 1wd or 1wh")
    return WorkingWindow(amount, "wd" if unit == "wd" else "wh")


def _parse_hours(value: Any) -> tuple[time, time]:
    if isinstance(value, (list, tuple)) and len(value) == 2:
        first, last = value
    elif isinstance(value, str) and "-" in value:
        first, last = (part.strip() for part in value.split("-", 1))
    else:
        raise CalendarError("hours", f'{value!r} is not working hours; write them like "08:00-16:00"')
    try:
        start = first if isinstance(first, time) else time.fromisoformat(str(first))
        end = last if isinstance(last, time) else time.fromisoformat(str(last))
    except ValueError as exc:
        raise CalendarError("hours", f'{value!r} is not working hours; write them like "08:00-16:00"') from exc
    return start, end


class WorkCalendar(BaseModel):
    """A site's working time. ``weekdays``: 0 = Monday .. 6 = Sunday; ``start``/``end``: the working hours of
    every working day (local time of ``timezone``); ``holidays``: dates not worked."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    weekdays: tuple[int, ...] = (0, 1, 2, 3, 4)
    start: time = time(8, 0)
    end: time = time(16, 0)
    holidays: tuple[date, ...] = ()
    timezone: str = "UTC"

    @field_validator("weekdays", mode="before")
    @classmethod
    def _weekdays(cls, value: Any) -> Any:
        if isinstance(value, (list, tuple)):
            days = []
            for item in value:
                if isinstance(item, str) and item.strip().lower()[:3] in WEEKDAYS:
                    days.append(WEEKDAYS.index(item.strip().lower()[:3]))
                elif isinstance(item, int) and 0 <= item <= 6:
                    days.append(item)
                else:
                    raise CalendarError("weekdays", f"{item!r} is not a weekday (mon..sun)")
            if not days:
                raise CalendarError("weekdays", "at least one working weekday is needed")
            return tuple(sorted(set(days)))
        return value

    @field_validator("holidays", mode="before")
    @classmethod
    def _holidays(cls, value: Any) -> Any:
        if isinstance(value, (list, tuple)):
            days = []
            for item in value:
                day = item.date() if isinstance(item, datetime) else item
                if isinstance(day, str):
                    try:
                        day = date.fromisoformat(day.strip())
                    except ValueError as exc:
                        raise CalendarError("holidays", f"{item!r} is not a date (YYYY-MM-DD)") from exc
                if not isinstance(day, date):
                    raise CalendarError("holidays", f"{item!r} is not a date (YYYY-MM-DD)")
                days.append(day)
            return tuple(sorted(set(days)))
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise CalendarError("timezone", f"{value!r} is not an IANA time zone (e.g. Europe/Berlin)") from exc
        return value

    @model_validator(mode="after")
    def _hours(self) -> "WorkCalendar":
        if self.end <= self.start:
            raise CalendarError(
                "hours", f"the day ends ({self.end:%H:%M}) before it starts ({self.start:%H:%M}): hours reversed"
            )
        return self

    # -- the working day ---------------------------------------------------------------------------------------

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def day_length(self) -> timedelta:
        return datetime.combine(date.min, self.end) - datetime.combine(date.min, self.start)

    def is_working_day(self, day: date) -> bool:
        return day.weekday() in self.weekdays and day not in self.holidays

    def _span(self, day: date) -> tuple[datetime, datetime]:
        """The working hours of ``day`` as UTC instants."""
        opens = datetime.combine(day, self.start, tzinfo=self.zone).astimezone(UTC)
        closes = datetime.combine(day, self.end, tzinfo=self.zone).astimezone(UTC)
        return opens, closes

    def _local_day(self, at: datetime) -> date:
        return _aware(at).astimezone(self.zone).date()

    # -- windows -----------------------------------------------------------------------------------------------

    def add(self, start: datetime, window: WorkingWindow) -> datetime:
        """The instant ``window`` of working time after ``start``; for ``wd`` the end of the n-th working day
        after the start's day."""
        start = _aware(start)
        if window.unit == "wd":
            day, found = self._local_day(start), 0
            for _ in range(_HORIZON_DAYS):
                day += timedelta(days=1)
                if self.is_working_day(day):
                    found += 1
                    if found == window.amount:
                        return self._span(day)[1]
            raise CalendarError("holidays", "the calendar has no working day left within ten years")
        return self._walk(start, timedelta(hours=window.amount), forward=True)

    def subtract(self, due: datetime, window: WorkingWindow) -> datetime:
        """The instant ``window`` of working time before ``due`` (reminders): a working day counts as the
        working hours of one day."""
        amount = self.day_length * window.amount if window.unit == "wd" else timedelta(hours=window.amount)
        return self._walk(_aware(due), amount, forward=False)

    def shift(self, at: datetime, window: WorkingWindow, *, before: bool = False) -> datetime:
        """``at`` moved by a working offset: escalations after a due (working hours counted from it; ``wd`` as
        whole days of working hours), reminders before it."""
        if before:
            return self.subtract(at, window)
        amount = self.day_length * window.amount if window.unit == "wd" else timedelta(hours=window.amount)
        return self._walk(_aware(at), amount, forward=True)

    def after(self, at: datetime, amount: timedelta) -> datetime:
        """The instant ``amount`` of working time after ``at`` (honest pauses: a resumed clock's due)."""
        return self._walk(_aware(at), amount, forward=True)

    def working_between(self, a: datetime, b: datetime) -> timedelta:
        """Working time from ``a`` to ``b`` (zero when ``b`` is not after ``a``)."""
        a, b = _aware(a), _aware(b)
        if b <= a:
            return timedelta(0)
        total = timedelta(0)
        day = self._local_day(a) - timedelta(days=1)
        last = self._local_day(b) + timedelta(days=1)
        while day <= last:
            if self.is_working_day(day):
                opens, closes = self._span(day)
                lo, hi = max(opens, a), min(closes, b)
                if hi > lo:
                    total += hi - lo
            day += timedelta(days=1)
        return total

    def _walk(self, at: datetime, amount: timedelta, *, forward: bool) -> datetime:
        left = amount
        day = self._local_day(at)
        step = timedelta(days=1) if forward else timedelta(days=-1)
        for _ in range(_HORIZON_DAYS):
            if self.is_working_day(day):
                opens, closes = self._span(day)
                if forward:
                    lo = max(opens, at)
                    if closes > lo:
                        if lo + left <= closes:
                            return lo + left
                        left -= closes - lo
                else:
                    hi = min(closes, at)
                    if hi > opens:
                        # Landing exactly on a day's opening reads as the previous working day's end.
                        if hi - left > opens:
                            return hi - left
                        left -= hi - opens
                        if left == timedelta(0):
                            return self._previous_end(day, opens)
            day += step
        raise CalendarError("holidays", "the calendar has no working time left within ten years")

    def _previous_end(self, day: date, fallback: datetime) -> datetime:
        for _ in range(_HORIZON_DAYS):
            day -= timedelta(days=1)
            if self.is_working_day(day):
                return self._span(day)[1]
        return fallback

    # -- text ------------------------------------------------------------------------------------------------

    def to_toml(self) -> str:
        weekdays = ", ".join(f'"{WEEKDAYS[d]}"' for d in self.weekdays)
        holidays = ", ".join(d.isoformat() for d in self.holidays)
        return (
            f'timezone = "{self.timezone}"\n'
            f"weekdays = [{weekdays}]\n"
            f'hours = "{self.start:%H:%M}-{self.end:%H:%M}"\n'
            f"holidays = [{holidays}]\n"
        )

    def describe(self) -> str:
        days = ", ".join(WEEKDAYS[d] for d in self.weekdays)
        return (
            f"{days} {self.start:%H:%M}-{self.end:%H:%M} ({self.timezone}), "
            f"{len(self.holidays)} holiday{'s' if len(self.holidays) != 1 else ''}"
        )


def working_between(calendar: WorkCalendar | None, a: datetime, b: datetime) -> timedelta:
    """Time from ``a`` to ``b`` as the record counts it: working time under a calendar, calendar time without."""
    if calendar is None:
        return max(_aware(b) - _aware(a), timedelta(0))
    return calendar.working_between(a, b)


def window_end(calendar: WorkCalendar | None, start: datetime, window: timedelta) -> datetime:
    """When ``window`` from ``start`` ends: in working time for a ``wd``/``wh`` window under ``calendar``, else in
    calendar time (a working window without a calendar reads as days or hours)."""
    if calendar is not None and isinstance(window, WorkingSpan):
        working = parse_working_window(window.text)
        if working is not None:
            return calendar.add(start, working)
    return start + window


def _days_text(weekdays: tuple[int, ...] | list[int]) -> str:
    days = sorted(weekdays)
    if len(days) > 2 and days == list(range(days[0], days[-1] + 1)):
        return f"{WEEKDAYS[days[0]].title()}\u2013{WEEKDAYS[days[-1]].title()}"
    return ", ".join(WEEKDAYS[d].title() for d in days)


def deadlines_counted(state: "CapaState", site: str) -> str:
    """How a record's deadlines are counted, for people: its pinned calendar in short when its policy writes a
    window in working days or hours (``5wd``, ``16wh``), else calendar time."""
    calendar = state.calendar
    if calendar is None or state.policy is None or not _uses_working_time(state.policy.rules):
        return "calendar time"
    holidays = len(calendar.holidays)
    return (
        f"working days of site {site}: {_days_text(calendar.weekdays)} "
        f"{calendar.start:%H:%M}\u2013{calendar.end:%H:%M} ({calendar.timezone}), "
        f"{holidays} holiday{'s' if holidays != 1 else ''}"
    )


def _uses_working_time(rules: "SeverityPolicy") -> bool:
    """Whether any window of ``rules`` is written in working days or hours."""
    spans = [getattr(rules, name) for name in type(rules).model_fields]
    flat = [item for span in spans for item in (span if isinstance(span, list) else [span])]
    return any(isinstance(item, WorkingSpan) for item in flat)


def due_in_working_time(state: "CapaState") -> bool:
    """Whether the record's next due (its stage clock's, or the end of its effectiveness window) was counted in
    working time: a ``wd``/``wh`` window under a pinned calendar. An action's due is the date its plan set."""
    if state.calendar is None or state.policy is None or state.due_at is None:
        return False
    rules = state.policy.rules
    if state.clock is not None and state.clock.due_at == state.due_at:
        if state.stage is Stage.EFFECTIVENESS:
            return isinstance(rules.effectiveness_review, WorkingSpan)
        return isinstance(rules.stage_window(state.stage), WorkingSpan)
    if state.clock is None and state.effectiveness_due_at == state.due_at:
        return isinstance(rules.effectiveness_after, WorkingSpan)
    return False


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def calendar_from_mapping(data: dict[str, Any]) -> WorkCalendar:
    """A calendar from parsed TOML/JSON; refusals name the field."""
    unknown = sorted(set(data) - {"weekdays", "hours", "holidays", "timezone", "start", "end"})
    if unknown:
        raise CalendarError(unknown[0], "unknown calendar key (known: timezone, weekdays, hours, holidays)")
    fields: dict[str, Any] = {k: v for k, v in data.items() if k in ("weekdays", "holidays", "timezone")}
    if "hours" in data:
        fields["start"], fields["end"] = _parse_hours(data["hours"])
    for key in ("start", "end"):
        if key in data:
            fields[key] = (
                _parse_hours([data[key], "23:59"])[0] if key == "start" else _parse_hours(["00:00", data[key]])[1]
            )
    try:
        return WorkCalendar(**fields)
    except CalendarError:
        raise
    except ValueError as exc:
        # pydantic wraps validator errors: surface the first one with its field.
        errors: list[Any] = exc.errors() if isinstance(exc, ValidationError) else []
        if errors:
            first = errors[0]
            cause = first.get("ctx", {}).get("error")
            if isinstance(cause, CalendarError):
                raise cause from exc
            field = ".".join(str(part) for part in first.get("loc", ())) or "calendar"
            raise CalendarError(field, str(first.get("msg", exc))) from exc
        raise CalendarError("calendar", str(exc)) from exc


def calendar_from_toml(text: str) -> WorkCalendar:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CalendarError("calendar", f"not valid TOML: {exc}") from exc
    return calendar_from_mapping(data)


def calendar_from_ical(content: bytes | str, base: WorkCalendar | None = None) -> WorkCalendar:
    """Holidays from an iCalendar file (every all-day VEVENT, each day of a multi-day event), merged into ``base``
    (weekdays, hours and time zone kept; the default Monday-Friday 08:00-16:00 UTC without one)."""
    try:
        parsed = Calendar.from_ical(content)
    except ValueError as exc:
        raise CalendarError("ical", f"not an iCalendar file: {exc}") from exc
    days: set[date] = set()
    for event in parsed.walk("VEVENT"):
        start = event.get("DTSTART")
        if start is None:
            continue
        try:
            first = start.dt
            end = event.get("DTEND")
            last = end.dt if end is not None and type(end.dt) is date else None
        except ValueError as exc:  # a property the parser kept but could not read, such as a 13th month
            raise CalendarError("ical", f"event {event.get('SUMMARY', '(untitled)')}: {exc}") from exc
        if isinstance(first, datetime) or not isinstance(first, date):
            continue  # a timed event is a meeting, not a holiday
        last = last or first + timedelta(days=1)
        day = first
        while day < last:
            days.add(day)
            day += timedelta(days=1)
    base = base or WorkCalendar()
    return base.model_copy(update={"holidays": tuple(sorted(days | set(base.holidays)))})
