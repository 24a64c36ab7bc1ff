"""Honest pauses: the pure rules and the clock arithmetic (remaining time kept, nothing rings while paused)."""

from datetime import UTC, datetime, timedelta

from models.enums import Severity
from models.pauses import check_decide_pause, check_request_pause, check_resume, pause_clock, resume_clock
from models.payloads import Clock
from models.policy import load_policy
from models.timers import next_clock_alarm

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def clock() -> Clock:
    return Clock(
        holder="ann",
        due_at=START + timedelta(days=10),
        original_due_at=START + timedelta(days=10),
        armed_at=START,
        started_at=START,
        escalation_level=1,
    )


def test_resume_gives_due_now_plus_remaining_and_keeps_escalation() -> None:
    paused = pause_clock(clock(), START + timedelta(days=4))
    assert paused.remaining == timedelta(days=6)
    resumed = resume_clock(paused, START + timedelta(days=20))
    assert resumed.due_at == START + timedelta(days=26)
    assert resumed.paused_at is None
    assert resumed.remaining is None
    assert resumed.escalation_level == 1
    assert resumed.original_due_at == START + timedelta(days=10)


def test_a_paused_clock_rings_nothing() -> None:
    rules = load_policy(None).for_severity(Severity.MAJOR).rules
    paused = pause_clock(clock(), START + timedelta(days=4))
    assert next_clock_alarm(paused, rules, None) is None
    assert next_clock_alarm(clock(), rules, None) is not None


def test_only_the_holder_asks_and_the_fields_are_named() -> None:
    now = START + timedelta(days=1)
    until = now + timedelta(days=5)
    assert check_request_pause(clock(), "ann", "waiting on parts", "supplier", expected_until=until, now=now) is None
    assert (check_request_pause(clock(), "bob", "x", "supplier", expected_until=until, now=now) or "").startswith(
        "actor"
    )
    assert (check_request_pause(clock(), "ann", " ", "supplier", expected_until=until, now=now) or "").startswith(
        "reason"
    )
    assert (check_request_pause(clock(), "ann", "x", "moon", expected_until=until, now=now) or "").startswith(
        "waiting_on"
    )
    assert (check_request_pause(clock(), "ann", "x", "customer", expected_until=now, now=now) or "").startswith(
        "expected_until"
    )


def test_only_quality_decides_and_holder_or_quality_resumes() -> None:
    assert check_decide_pause(actor_is_quality=False, pending=True) is not None
    assert check_decide_pause(actor_is_quality=True, pending=True) is None
    paused = pause_clock(clock(), START)
    assert check_resume(paused, "ann", actor_is_quality=False) is None
    assert check_resume(paused, "carl", actor_is_quality=True) is None
    assert check_resume(paused, "bob", actor_is_quality=False) is not None
    assert check_resume(clock(), "ann", actor_is_quality=True) is not None
