"""What a record's alarms tell people: the notice each reminder, escalation and effectiveness review makes.

Pure functions of the state and the timeline entry, used by the record workflow as an alarm rings; the outbox
keys each notice by record and entry, so a notice is queued once however often it is handed over. Notices of
steps (a new owner, a plan, an extension) are made by the read model's writer, which knows the directory.
"""

from datetime import datetime, timedelta

from models.durations import format_duration
from models.payloads import CapaState, Clock, EscalationEntry, Event, Notice, ReminderEntry


def notice(state: CapaState, event: Event, recipients: list[str], what: str) -> Notice:
    """The notice of ``event`` to ``recipients``: the record's id and ``what`` as subject, its facts as body."""
    return Notice(
        record_id=state.id,
        seq=event.seq,
        kind=event.kind,
        recipients=recipients,
        subject=f"[{state.id}] {what}",
        body=f"{state.id} ({state.severity.value}): {state.title}\nStage: {state.stage.value}\n{what}",
    )


def reminder(state: CapaState, event: Event, clock: Clock, scheduled_at: datetime) -> Notice:
    """To the holder, before the due time: counted from when the reminder was due, so never "due in -3h"."""
    assert isinstance(event.details, ReminderEntry)
    left = max(clock.due_at - scheduled_at, timedelta(0))
    return notice(state, event, [clock.holder], f"{event.details.target} due in {format_duration(left)}")


def escalation(state: CapaState, event: Event, clock: Clock, late: str, *, done: bool = False) -> Notice:
    """Up the holder's reporting line, as many steps as the level (the recipients came with the alarm). ``done``:
    the step was taken before the escalation could go out, late all the same."""
    entry = event.details
    assert isinstance(entry, EscalationEntry)
    if done:
        what = f"{entry.target} held by {clock.holder} was done {late} late (escalation level {entry.level})"
    else:
        what = f"{entry.target} held by {clock.holder} is overdue by {late} (escalation level {entry.level})"
    return notice(state, event, list(entry.recipients), what)


def effectiveness_due(state: CapaState, event: Event) -> Notice:
    return notice(state, event, [state.owner], "effectiveness review due")
