"""Where the alarms of a clock fall, computed without a server."""

from datetime import timedelta

from models.enums import Severity, Stage
from models.payloads import Action, CapaState, Clock
from models.policy import load_policy
from models.timers import AlarmKind, next_alarm, reminder_times
from tests import builders

T0 = builders.T0
RULES = load_policy(None).for_severity(Severity.MAJOR)


def _state(**changes: object) -> CapaState:
    clock = Clock(holder="olivia", due_at=T0 + timedelta(hours=72), original_due_at=T0, armed_at=T0)
    return builders.state(stage_clock=clock).model_copy(update=changes)


def test_reminders_already_past_when_a_clock_is_armed_are_skipped() -> None:
    """A re-armed clock with a due 1 day away sends only the 12h reminder, not a stale 2d one."""
    clock = Clock(holder="o", due_at=T0 + timedelta(days=1), original_due_at=T0, armed_at=T0)
    assert reminder_times(clock, RULES.rules) == [T0 + timedelta(hours=12)]


def test_the_next_alarm_walks_reminders_then_escalation_levels() -> None:
    """Reminders come first, then level 1 at due and level 2 three days later."""
    state = _state()
    assert state.clock is not None
    first = next_alarm(state)
    assert first is not None
    assert (first.kind, first.at) == (AlarmKind.REMINDER, T0 + timedelta(hours=24))
    state.clock.reminders_sent = 2
    level_one = next_alarm(state)
    assert level_one is not None
    assert (level_one.kind, level_one.level, level_one.at) == (AlarmKind.ESCALATION, 1, T0 + timedelta(hours=72))
    state.clock.escalation_level = 3
    assert next_alarm(state) is None


def test_the_earliest_clock_wins_across_stage_and_actions() -> None:
    """An action due sooner than the stage clock sets the next alarm, tagged with its id."""
    soon = Clock(holder="oscar", due_at=T0 + timedelta(days=1), original_due_at=T0, armed_at=T0)
    action = Action(id="A1", cycle=1, round=1, kind="corrective", owner="oscar", description="x", clock=soon)
    alarm = next_alarm(_state(actions=[action]))
    assert alarm is not None
    assert (alarm.action_id, alarm.kind) == ("A1", AlarmKind.REMINDER)


def test_closed_and_cancelled_records_have_no_alarms() -> None:
    """Nothing fires for a record that is no longer open."""
    assert next_alarm(_state(stage=Stage.CLOSED)) is None
    assert next_alarm(_state(stage=Stage.CANCELLED)) is None
