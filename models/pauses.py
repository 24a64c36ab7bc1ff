"""Honest pauses: a step's clock stopped while its holder waits on a supplier or customer.

Pure functions: the holder asks, quality decides, the holder or quality resumes. While paused the clock has no
alarm (its reminders and escalations do not ring) and keeps the time it had left; on resume it falls due that much
later. ``remaining_on_resume`` is the one place remaining time is computed, so working-time calendars can replace it.
"""

from datetime import datetime, timedelta
from enum import StrEnum

from models.payloads import Clock

__all__ = [
    "WaitingOn",
    "check_decide_pause",
    "check_request_pause",
    "check_resume",
    "pause_clock",
    "remaining_on_resume",
    "resume_clock",
]


class WaitingOn(StrEnum):
    SUPPLIER = "supplier"
    CUSTOMER = "customer"


def remaining_on_resume(clock: Clock, now: datetime) -> timedelta:
    """The time the clock had left when it was paused (calendar time; never negative)."""
    if clock.remaining is not None:
        return clock.remaining
    return max(clock.due_at - now, timedelta(0))


def pause_clock(clock: Clock, now: datetime) -> Clock:
    """The clock stopped at ``now``, keeping its remaining time and escalation state."""
    left = max(clock.due_at - now, timedelta(0))
    return clock.model_copy(update={"paused_at": now, "remaining": left})


def resume_clock(clock: Clock, now: datetime) -> Clock:
    """The clock running again: due = now + remaining, re-armed from now, escalation state kept."""
    left = remaining_on_resume(clock, now)
    return clock.model_copy(update={"due_at": now + left, "armed_at": now, "paused_at": None, "remaining": None})


def check_request_pause(
    clock: Clock, actor: str, reason: str, waiting_on: str, *, expected_until: datetime | None, now: datetime
) -> str | None:
    """Why the request is refused (naming the field), or None. Only the clock's holder asks."""
    if actor != clock.holder:
        return f"actor: only the holder ({clock.holder}) may ask to pause this clock"
    if clock.paused_at is not None:
        return "clock: already paused"
    if not reason.strip():
        return "reason: required"
    if waiting_on not in {w.value for w in WaitingOn}:
        return "waiting_on: must be supplier or customer"
    if expected_until is not None and expected_until <= now:
        return "expected_until: must lie in the future"
    return None


def check_decide_pause(actor_is_quality: bool, pending: bool) -> str | None:
    if not actor_is_quality:
        return "actor: only quality decides a pause request"
    if not pending:
        return "request: no pause request is waiting for a decision"
    return None


def check_resume(clock: Clock, actor: str, actor_is_quality: bool) -> str | None:
    if clock.paused_at is None:
        return "clock: not paused"
    if actor != clock.holder and not actor_is_quality:
        return "actor: only the holder or quality may resume"
    return None
