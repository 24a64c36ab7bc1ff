"""Honest pauses: a step's clock stopped while its holder waits on a supplier or customer.

Pure functions: the holder asks, quality decides, the holder or quality resumes. While paused the clock has no
alarm (its reminders and escalations do not ring) and keeps the time it had left; on resume it falls due that much
later. ``remaining_on_resume`` is the one place remaining time is computed, so working-time calendars can replace it.
"""

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from enum import StrEnum

from models.calendars import WorkCalendar, working_between
from models.payloads import Clock

__all__ = [
    "WaitingOn",
    "check_decide_pause",
    "check_request_pause",
    "check_resume",
    "pause_clock",
    "paused_label",
    "paused_targets",
    "remaining_on_resume",
    "resume_clock",
]


class WaitingOn(StrEnum):
    SUPPLIER = "supplier"
    CUSTOMER = "customer"


def remaining_on_resume(clock: Clock, now: datetime) -> timedelta:
    """The time the clock had left when it was paused (never negative); working time when
    ``clock.remaining_working``."""
    if clock.remaining is not None:
        return clock.remaining
    return max(clock.due_at - now, timedelta(0))


def pause_clock(
    clock: Clock,
    now: datetime,
    calendar: WorkCalendar | None = None,
    *,
    waiting_on: str | None = None,
    expected_until: datetime | None = None,
) -> Clock:
    """The clock stopped at ``now``, keeping its remaining time (working time under ``calendar``, which the
    caller passes only when the clock's window counts working time) and its escalation state."""
    left = working_between(calendar, now, clock.due_at) if calendar is not None else clock.due_at - now
    return clock.model_copy(
        update={
            "paused_at": now,
            "remaining": max(left, timedelta(0)),
            "remaining_working": calendar is not None,
            "waiting_on": waiting_on,
            "expected_until": expected_until,
        }
    )


def resume_clock(clock: Clock, now: datetime, calendar: WorkCalendar | None = None) -> Clock:
    """The clock running again: due = now + remaining (working time when it was kept so and ``calendar`` is
    given), re-armed from now, escalation state kept."""
    left = remaining_on_resume(clock, now)
    due = calendar.after(now, left) if calendar is not None and clock.remaining_working else now + left
    return clock.model_copy(
        update={
            "due_at": due,
            "armed_at": now,
            "paused_at": None,
            "remaining": None,
            "remaining_working": False,
            "waiting_on": None,
            "expected_until": None,
        }
    )


def paused_label(clock: Clock, zone_day: Callable[[datetime], str] | None = None) -> str | None:
    """ "paused — waiting on supplier until 2026-03-20" for a paused clock; None for a running one."""
    if clock.paused_at is None:
        return None
    text = f"paused — waiting on {clock.waiting_on or 'an answer'}"
    if clock.expected_until is not None:
        day = zone_day(clock.expected_until) if zone_day else clock.expected_until.date().isoformat()
        text += f" until {day}"
    return text


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


def paused_targets(state_json: str | None) -> dict[str, str]:
    """From a record's stored state (the read model's ``state_json``): each paused clock's target ("stage", or
    an action id) with its "paused — waiting on supplier until 2026-03-20" label."""
    if not state_json:
        return {}
    data = json.loads(state_json) or {}
    clocks: list[tuple[str, dict[str, object]]] = []
    if isinstance(data.get("clock"), dict):
        clocks.append(("stage", data["clock"]))
    for action in data.get("actions") or []:
        if isinstance(action, dict) and action.get("status") == "open" and isinstance(action.get("clock"), dict):
            clocks.append((str(action.get("id")), action["clock"]))
    found: dict[str, str] = {}
    for target, clock in clocks:
        if clock.get("paused_at"):
            text = f"paused — waiting on {clock.get('waiting_on') or 'an answer'}"
            until = clock.get("expected_until")
            if isinstance(until, str):
                text += f" until {until[:10]}"
            found[target] = text
    return found
