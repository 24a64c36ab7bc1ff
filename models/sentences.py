"""A timeline entry as one sentence a person reads, such as "A1 completed by oscar, on time: Tool replaced".

One sentence per kind of entry (``models.payloads.ENTRY_OF_KIND``), its times and durations in the forms of
``models.formatting``. An entry an earlier release wrote in another shape reads as its fields, ``key: value``
each. Pure: any front end may use it.
"""

from collections.abc import Callable
from datetime import datetime
from enum import Enum
from typing import Any

from models.enums import EventKind, Stage
from models.formatting import due_in, duration, moment, size, stored_duration
from models.payloads import (
    CancelEntry,
    ChainStartedEntry,
    ClosedEntry,
    CompletionEntry,
    ContainmentStep,
    EarlierEntry,
    EffectivenessDueEntry,
    EscalationEntry,
    Event,
    ExtensionDecisionEntry,
    ExtensionRequestEntry,
    FileRef,
    PlanEntry,
    RaiseStep,
    ReassignEntry,
    ReminderEntry,
    ReviewStep,
    RootCauseEntry,
    Signature,
    VerifyStep,
)


def sentence(event: Event) -> str:
    """What ``event`` says, as a sentence; an entry of an earlier shape as its fields. A signed step's entry ends
    with its signature's manifestation ("Signed by Maria Keller (maria), verified: actions implemented, ...")."""
    if isinstance(event.details, EarlierEntry):
        return _earlier(event)
    text = _SENTENCES[event.kind](event)
    signature = getattr(event.details, "signature", None)
    if isinstance(signature, Signature):
        text += (" " if text.endswith((".", "!", "?")) else ". ") + signature.manifestation()
    return text


def _words(value: object) -> str:
    """An enum value or a field name as words: ``root_cause`` reads ``root cause``, ``use-as-is`` ``use as is``."""
    text = str(value.value if isinstance(value, Enum) else value)
    return text.replace("_", " ").replace("-", " ")


def _target(target: str) -> str:
    """A clock's target: a stage by its name in words, an action by its id."""
    return _words(target) if target in {stage.value for stage in Stage} else target


def _names(names: list[str]) -> str:
    return ", ".join(names)


def _raised(event: Event) -> str:
    step = event.details
    assert isinstance(step, RaiseStep)
    what = f"{step.severity.value} from {_words(step.source)}"
    text = f"Raised by {event.actor}, {what}, owned by {step.owner}: {step.title}"
    affected = [f"{name} {value}" for name, value in (("product", step.product), ("lot", step.lot)) if value]
    if step.quantity is not None:
        affected.append(f"{step.quantity} pcs")
    return text + (f" ({', '.join(affected)})" if affected else "")


def _contained(event: Event) -> str:
    step = event.details
    assert isinstance(step, ContainmentStep)
    how = _words(step.disposition) + (f", {step.quantity} pcs" if step.quantity is not None else "")
    return f"Containment by {event.actor}: {step.summary} ({how})"


def _root_cause(event: Event) -> str:
    entry = event.details
    assert isinstance(entry, RootCauseEntry)
    text = f"Root cause by {event.actor} ({entry.method.value}, cycle {entry.cycle}): {entry.cause}"
    more = []
    if entry.whys:
        more.append("whys: " + " / ".join(entry.whys))
    if entry.category is not None:
        more.append(f"category: {entry.category.value}")
    if entry.escape_point:
        more.append(f"escape point: {entry.escape_point}")
    if entry.similar_checked:
        more.append(f"similar checked: {entry.similar_checked}")
    return text + "".join(f"; {part}" for part in more)


def _plan(event: Event) -> str:
    entry = event.details
    assert isinstance(entry, PlanEntry)
    actions = "; ".join(
        f"{action_id} {action.kind.value} for {action.owner}, due {moment(action.due_at)}: {action.description}"
        for action_id, action in zip(entry.action_ids, entry.actions, strict=True)
    )
    return f"Action plan by {event.actor}: {actions}"


def _completed(event: Event) -> str:
    entry = event.details
    assert isinstance(entry, CompletionEntry)
    timing = "on time" if entry.on_time else "late"
    return f"{entry.action_id} completed by {event.actor}, {timing}: {entry.evidence}"


def _verified(event: Event) -> str:
    step = event.details
    assert isinstance(step, VerifyStep)
    return f"Verification by {event.actor}, {step.result.value}: {step.evidence}"


def _review_due(event: Event) -> str:
    entry = event.details
    assert isinstance(entry, EffectivenessDueEntry)
    return f"Effectiveness review due by {moment(entry.review_due_at)}"


def _reviewed(event: Event) -> str:
    step = event.details
    assert isinstance(step, ReviewStep)
    return f"Effectiveness review by {event.actor}, {_words(step.result)}: {step.evidence}"


def _closed(event: Event) -> str:
    entry = event.details
    assert isinstance(entry, ClosedEntry)
    return f"Closed after {entry.cycles} cycle{'' if entry.cycles == 1 else 's'}"


def _reminded(event: Event) -> str:
    entry = event.details
    assert isinstance(entry, ReminderEntry)
    # Counted from when the reminder was due, as its message was.
    left = due_in(entry.due_at, min(entry.scheduled_at, entry.due_at))
    to = _names(entry.recipients) or entry.holder
    return f"Reminder to {to}: {_target(entry.target)} {left}, at {moment(entry.due_at)}"


def _escalated(event: Event) -> str:
    entry = event.details
    assert isinstance(entry, EscalationEntry)
    levels = entry.levels or [entry.level]
    level = f"levels {', '.join(map(str, levels))}" if len(levels) > 1 else f"level {levels[0]}"
    to = f" ({_names(entry.recipients)})" if entry.recipients else ""
    late = f"{_target(entry.target)} late by {stored_duration(entry.late_by)}"
    if entry.step_done_at is not None:
        late += f", done at {moment(entry.step_done_at)}"
    return f"Escalation {level} to the managers of {entry.holder}{to}: {late}"


def _extension_asked(event: Event) -> str:
    entry = event.details
    assert isinstance(entry, ExtensionRequestEntry)
    more = duration(entry.until - entry.current_due_at)
    return (
        f"Extension of {_target(entry.target)} asked by {event.actor}, from {moment(entry.current_due_at)}"
        f" to {moment(entry.until)} ({more} more): {entry.reason}"
    )


def _extension_decided(event: Event) -> str:
    entry = event.details
    assert isinstance(entry, ExtensionDecisionEntry)
    verdict = "approved" if entry.approve else "rejected"
    text = f"Extension of {_target(entry.target)} asked by {entry.requested_by} {verdict} by {event.actor}"
    if entry.due_at is not None:
        text += f", now due {moment(entry.due_at)}"
    return text + (f": {entry.reason}" if entry.reason else "")


def _reassigned(event: Event) -> str:
    entry = event.details
    assert isinstance(entry, ReassignEntry)
    target = "Record" if entry.target == "record" else _target(entry.target)
    return f"{target} reassigned from {entry.previous} to {entry.new_owner} by {event.actor}: {entry.reason}"


def _cancelled(event: Event) -> str:
    entry = event.details
    assert isinstance(entry, CancelEntry)
    return f"Cancelled by {event.actor} in {_words(entry.stage)}: {entry.reason}"


def _file_attached(event: Event) -> str:
    entry = event.details
    assert isinstance(entry, FileRef)
    return (
        f"File {entry.name} attached to {_target(entry.to)} by {event.actor}"
        f" ({size(entry.size)}, {entry.media_type}, SHA-256 {entry.sha256})"
    )


def _chain_started(event: Event) -> str:
    entry = event.details
    assert isinstance(entry, ChainStartedEntry)
    sealed = "entry 1" if len(entry.sealed) == 1 else f"entries 1 to {len(entry.sealed)}"
    return f"Audit chain started, sealing {sealed}"


# One per kind that has a timeline entry (``ENTRY_OF_KIND``); the digest has none.
_SENTENCES: dict[EventKind, Callable[[Event], str]] = {
    EventKind.RAISED: _raised,
    EventKind.CONTAINMENT_SUBMITTED: _contained,
    EventKind.ROOT_CAUSE_SUBMITTED: _root_cause,
    EventKind.PLAN_SUBMITTED: _plan,
    EventKind.ACTION_COMPLETED: _completed,
    EventKind.VERIFIED: _verified,
    EventKind.EFFECTIVENESS_DUE: _review_due,
    EventKind.EFFECTIVENESS_REVIEWED: _reviewed,
    EventKind.CLOSED: _closed,
    EventKind.REMINDER_SENT: _reminded,
    EventKind.ESCALATED: _escalated,
    EventKind.EXTENSION_REQUESTED: _extension_asked,
    EventKind.EXTENSION_DECIDED: _extension_decided,
    EventKind.REASSIGNED: _reassigned,
    EventKind.CANCELLED: _cancelled,
    EventKind.FILE_ATTACHED: _file_attached,
    EventKind.CHAIN_STARTED: _chain_started,
}


def _earlier(event: Event) -> str:
    """``Root cause submitted by olivia: method: fishbone; cause: Worn tool``: the fields as written."""
    fields = "; ".join(f"{_words(key)}: {_value(value)}" for key, value in event.shown().items())
    return f"{_words(event.kind).capitalize()} by {event.actor}" + (f": {fields}" if fields else "")


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return moment(value)
    if isinstance(value, dict):
        return ", ".join(f"{_words(key)} {_value(item)}" for key, item in value.items() if item is not None)
    if isinstance(value, list):
        return "; ".join(_value(item) for item in value)
    return _words(value) if isinstance(value, Enum) else str(value)
