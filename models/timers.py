"""When a record's durable timers fire: reminders before a due time, escalation levels after it.

Pure functions of the state, so the workflow's single timer loop and the unit tests compute the same instants.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from models.calendars import WorkCalendar, WorkingWindow, parse_working_window
from models.durations import WorkingSpan
from models.payloads import AlarmKind, CapaState, Clock, PlannedAlarm
from models.policy import SeverityPolicy

__all__ = ["Alarm", "AlarmKind", "clock_schedule", "escalation_times", "next_alarm", "reminder_times"]


@dataclass(frozen=True)
class Alarm:
    at: datetime
    kind: AlarmKind
    action_id: str | None = None
    level: int = 0


def _working(offset: timedelta, calendar: WorkCalendar | None) -> WorkingWindow | None:
    # working-day calendars: a ``wd``/``wh`` offset counts working time only when the record pinned a calendar.
    if calendar is None or not isinstance(offset, WorkingSpan):
        return None
    return parse_working_window(offset.text)


def _before(at: datetime, lead: timedelta, calendar: WorkCalendar | None) -> datetime:
    window = _working(lead, calendar)
    return at - lead if window is None or calendar is None else calendar.subtract(at, window)


def _after(at: datetime, offset: timedelta, calendar: WorkCalendar | None) -> datetime:
    window = _working(offset, calendar)
    return at + offset if window is None or calendar is None else calendar.shift(at, window)


def reminder_times(clock: Clock, rules: SeverityPolicy, calendar: WorkCalendar | None = None) -> list[datetime]:
    """Reminders that still lie ahead of the moment the clock was (re-)armed, earliest first."""
    leads = {_before(clock.due_at, lead, calendar) for lead in rules.remind_before}
    return sorted(at for at in leads if at > clock.armed_at)


def escalation_times(clock: Clock, rules: SeverityPolicy, calendar: WorkCalendar | None = None) -> list[datetime]:
    return [_after(clock.due_at, offset, calendar) for offset in rules.escalate_after]


def clock_schedule(clock: Clock, rules: SeverityPolicy, calendar: WorkCalendar | None = None) -> list[PlannedAlarm]:
    """Every alarm of ``clock`` still to ring, earliest first: the reminders not yet sent, then the escalation
    levels not yet reached."""
    if clock.paused_at is not None:  # honest pauses: a paused clock rings nothing
        return []
    reminders = [
        PlannedAlarm(at=at, kind=AlarmKind.REMINDER, index=index)
        for index, at in enumerate(reminder_times(clock, rules, calendar), start=1)
        if index > clock.reminders_sent
    ]
    escalations = [
        PlannedAlarm(at=at, kind=AlarmKind.ESCALATION, level=level)
        for level, at in enumerate(escalation_times(clock, rules, calendar), start=1)
        if level > clock.escalation_level
    ]
    return sorted([*reminders, *escalations], key=lambda alarm: alarm.at)


def next_clock_alarm(
    clock: Clock, rules: SeverityPolicy, action_id: str | None, calendar: WorkCalendar | None = None
) -> Alarm | None:
    if clock.paused_at is not None:  # honest pauses: a paused clock rings nothing
        return None
    reminders = reminder_times(clock, rules, calendar)
    if clock.reminders_sent < len(reminders):
        return Alarm(reminders[clock.reminders_sent], AlarmKind.REMINDER, action_id)
    ladder = escalation_times(clock, rules, calendar)
    if clock.escalation_level < len(ladder):
        level = clock.escalation_level + 1
        return Alarm(ladder[clock.escalation_level], AlarmKind.ESCALATION, action_id, level)
    return None


def next_alarm(state: CapaState) -> Alarm | None:
    """The earliest pending alarm of the record, or None when nothing is scheduled."""
    if state.policy is None or not state.stage.is_open:
        return None
    rules = state.policy.rules
    alarms = [
        alarm
        for action_id, clock in state.open_clocks()
        if (alarm := next_clock_alarm(clock, rules, action_id, state.calendar)) is not None
    ]
    if state.effectiveness_due_at is not None and state.clock is None:
        alarms.append(Alarm(state.effectiveness_due_at, AlarmKind.EFFECTIVENESS_DUE))
    return min(alarms, key=lambda alarm: alarm.at, default=None)
