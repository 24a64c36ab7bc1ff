"""What an alarm rings: the schedule of a clock, the ring after an outage, and the words of its notice."""

from datetime import timedelta

from activities.alarms import due_now, ring_for
from models import notices
from models.enums import EventKind, Severity
from models.payloads import AlarmKind, AlarmSchedule, Clock, Event, ReminderEntry
from models.policy import load_policy
from models.timers import clock_schedule
from tests import builders

T0 = builders.T0
RULES = load_policy(None).for_severity(Severity.MAJOR)  # reminders 2d and 12h before due; levels at 0s, 3d, 7d
DUE = T0 + timedelta(hours=72)


def _clock(**changes: object) -> Clock:
    return Clock(holder="olivia", due_at=DUE, original_due_at=DUE, armed_at=T0).model_copy(update=changes)


def _schedule(clock: Clock) -> AlarmSchedule:
    return AlarmSchedule(record_id="NC-2026-0001", alarm=3, holder="olivia", alarms=clock_schedule(clock, RULES.rules))


def test_a_clock_schedules_its_reminders_then_its_escalation_levels() -> None:
    """Two reminders before the due time, then the three levels after it, each once, in time order."""
    alarms = clock_schedule(_clock(), RULES.rules)
    assert [(a.kind, a.index, a.level, a.at - DUE) for a in alarms] == [
        (AlarmKind.REMINDER, 1, 0, -timedelta(days=2)),
        (AlarmKind.REMINDER, 2, 0, -timedelta(hours=12)),
        (AlarmKind.ESCALATION, 0, 1, timedelta(0)),
        (AlarmKind.ESCALATION, 0, 2, timedelta(days=3)),
        (AlarmKind.ESCALATION, 0, 3, timedelta(days=7)),
    ]


def test_a_schedule_leaves_out_what_has_already_rung() -> None:
    """A clock carried over from a running record, one reminder and level 1 already out, keeps the rest only."""
    alarms = clock_schedule(_clock(reminders_sent=2, escalation_level=1), RULES.rules)
    assert [(a.kind, a.level) for a in alarms] == [(AlarmKind.ESCALATION, 2), (AlarmKind.ESCALATION, 3)]


def test_levels_that_fell_due_together_ring_once_at_the_highest() -> None:
    """After a week-long outage the second reminder and levels 1-3 are all due: one escalation at level 3 goes
    out, naming the levels it stands for; the reminder it overtook is not sent."""
    schedule = _schedule(_clock(reminders_sent=1))
    due = due_now(schedule.alarms, DUE + timedelta(days=7, minutes=5))
    ring = ring_for(schedule, due)
    assert len(due) == 4
    assert (ring.kind, ring.level, ring.covers) == (AlarmKind.ESCALATION, 3, [1, 2, 3])
    assert ring.scheduled_at == DUE + timedelta(days=7)


def test_an_alarm_on_time_rings_alone() -> None:
    """On time, only the alarm the workflow slept for rings; the next stays pending."""
    schedule = _schedule(_clock())
    due = due_now(schedule.alarms, T0 + timedelta(days=1, seconds=1))
    assert [(a.kind, a.index) for a in due] == [(AlarmKind.REMINDER, 1)]
    assert ring_for(schedule, due).covers == []


def test_a_late_reminder_never_says_due_in_a_negative_time() -> None:
    """A reminder rung late counts from when it was due; one rung after the due time says "due in 0s"."""
    state = builders.state()
    entry = ReminderEntry(target="containment", holder="olivia", due_at=DUE, scheduled_at=DUE, recipients=["olivia"])
    event = Event(seq=2, at=DUE + timedelta(hours=3), kind=EventKind.REMINDER_SENT, actor="system", details=entry)
    on_time = notices.reminder(state, event, _clock(), DUE - timedelta(hours=12))
    late = notices.reminder(state, event, _clock(), DUE + timedelta(hours=3))
    assert on_time.subject == "[NC-2026-0001] containment due in 12h"
    assert late.subject == "[NC-2026-0001] containment due in 0s"
    assert late.recipients == ["olivia"]
