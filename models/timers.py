"""When a record's durable timers fire: reminders before a due time, escalation levels after it.

Pure functions of the state, so the workflow's single timer loop and the unit tests compute the same instants.
"""

from dataclasses import dataclass
from datetime import datetime

from models.payloads import AlarmKind, CapaState, Clock, PlannedAlarm
from models.policy import SeverityPolicy

__all__ = ["Alarm", "AlarmKind", "clock_schedule", "escalation_times", "next_alarm", "reminder_times"]


@dataclass(frozen=True)
class Alarm:
    at: datetime
    kind: AlarmKind
    action_id: str | None = None
    level: int = 0


def reminder_times(clock: Clock, rules: SeverityPolicy) -> list[datetime]:
    """Reminders that still lie ahead of the moment the clock was (re-)armed, earliest first."""
    return sorted({clock.due_at - lead for lead in rules.remind_before if clock.due_at - lead > clock.armed_at})


def escalation_times(clock: Clock, rules: SeverityPolicy) -> list[datetime]:
    return [clock.due_at + offset for offset in rules.escalate_after]


def clock_schedule(clock: Clock, rules: SeverityPolicy) -> list[PlannedAlarm]:
    """Every alarm of ``clock`` still to ring, earliest first: the reminders not yet sent, then the escalation
    levels not yet reached."""
    if clock.paused_at is not None:  # honest pauses: a paused clock rings nothing
        return []
    reminders = [
        PlannedAlarm(at=at, kind=AlarmKind.REMINDER, index=index)
        for index, at in enumerate(reminder_times(clock, rules), start=1)
        if index > clock.reminders_sent
    ]
    escalations = [
        PlannedAlarm(at=at, kind=AlarmKind.ESCALATION, level=level)
        for level, at in enumerate(escalation_times(clock, rules), start=1)
        if level > clock.escalation_level
    ]
    return sorted([*reminders, *escalations], key=lambda alarm: alarm.at)


def next_clock_alarm(clock: Clock, rules: SeverityPolicy, action_id: str | None) -> Alarm | None:
    if clock.paused_at is not None:  # honest pauses: a paused clock rings nothing
        return None
    reminders = reminder_times(clock, rules)
    if clock.reminders_sent < len(reminders):
        return Alarm(reminders[clock.reminders_sent], AlarmKind.REMINDER, action_id)
    ladder = escalation_times(clock, rules)
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
        if (alarm := next_clock_alarm(clock, rules, action_id)) is not None
    ]
    if state.effectiveness_due_at is not None and state.clock is None:
        alarms.append(Alarm(state.effectiveness_due_at, AlarmKind.EFFECTIVENESS_DUE))
    return min(alarms, key=lambda alarm: alarm.at, default=None)
