"""A timeline entry as one sentence a person reads, such as "A1 completed by oscar, on time: Tool replaced".

One sentence per kind of entry (``models.payloads.ENTRY_OF_KIND``), its times and durations in the forms of
``models.formatting``. An entry an earlier release wrote in another shape reads as its fields, ``key: value``
each. Pure: any front end may use it.
"""

from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from enum import Enum
from typing import Any

from models.enums import EventKind, Stage
from models.formatting import due_in, duration, moment, size, stored_duration
from models.payloads import (
    AmendEntry,
    CancelEntry,
    ChainStartedEntry,
    ClosedEntry,
    CommentEntry,
    CompletionEntry,
    ConcessionEntry,
    ContainmentStep,
    EarlierEntry,
    EffectivenessDueEntry,
    EscalationEntry,
    Event,
    ExtensionDecisionEntry,
    ExtensionRequestEntry,
    FileRef,
    LinkStep,
    PauseDecisionEntry,
    PauseRequestEntry,
    PlanAmendmentEntry,
    PlanDecisionEntry,
    PlanEntry,
    ProcedureMovedEntry,
    RaiseStep,
    ReassignEntry,
    RecurrenceEntry,
    RecurrenceSource,
    ReminderEntry,
    ResumeEntry,
    ReviewStep,
    RootCauseEntry,
    Signature,
    TrainingEntry,
    TriageEntry,
    VerifyEntry,
    VerifyStep,
)


def sentence(event: Event, zone: tzinfo = UTC) -> str:
    """What ``event`` says, as a sentence, the moments it names shown in ``zone``; an entry of an earlier shape as
    its fields. A signed step's entry ends with its signature's manifestation ("Signed by Maria Keller (maria),
    verified: actions implemented, ..."), whose time stays UTC, as it was signed."""
    if isinstance(event.details, EarlierEntry):
        return _earlier(event, zone)
    text = _SENTENCES[event.kind](event, zone)
    if getattr(event.details, "on_time", None) is False and event.kind is not EventKind.ACTION_COMPLETED:
        text = _then(text, "done after its original due")
    signature = getattr(event.details, "signature", None)
    if isinstance(signature, Signature):
        text += (" " if text.endswith((".", "!", "?")) else ". ") + signature.manifestation()
    return text


def _words(value: object) -> str:
    """An enum value or a field name as words: ``root_cause`` reads ``root cause``, ``use-as-is`` ``use as is``."""
    text = str(value.value if isinstance(value, Enum) else value)
    return text.replace("_", " ").replace("-", " ")


def _then(text: str, part: str) -> str:
    """``text`` followed by ``part`` after a semicolon; a full stop that ends free text gives way to it."""
    return f"{text.rstrip().removesuffix('.')}; {part}"


def _target(target: str) -> str:
    """A clock's target: a stage by its name in words, an action by its id."""
    return _words(target) if target in {stage.value for stage in Stage} else target


def _names(names: list[str]) -> str:
    return ", ".join(names)


def _raised(event: Event, zone: tzinfo) -> str:
    step = event.details
    assert isinstance(step, RaiseStep)
    what = f"{step.severity.value} from {_words(step.source)}"
    text = f"Raised by {event.actor}, {what}, owned by {step.owner}: {step.title}"
    named = (
        ("product", step.product),
        ("lot", step.lot),
        ("defect", step.defect_code),
        ("supplier", step.supplier),
        ("customer", step.customer),
    )
    affected = [f"{name} {value}" for name, value in named if value]
    if step.quantity is not None:
        affected.append(f"{step.quantity} pcs")
    text += f" ({', '.join(affected)})" if affected else ""
    if step.links:
        text = _then(text, ", ".join(f"{_words(link.kind)} {link.record_id}" for link in step.links))
    return text


def _contained(event: Event, zone: tzinfo) -> str:
    step = event.details
    assert isinstance(step, ContainmentStep)
    if step.no_product_affected:
        how = "no product affected"
    elif step.dispositions:
        how = ", ".join(f"{_words(share.disposition)} {share.quantity} pcs" for share in step.dispositions)
    else:
        how = _words(step.disposition) + (f", {step.quantity} pcs" if step.quantity is not None else "")
    if step.shipped:
        told = {True: "customers told", False: "customers not told", None: ""}[step.customers_told]
        how += f"; {step.shipped} pcs already shipped" + (f", {told}" if told else "")
    return f"Containment by {event.actor}: {step.summary} ({how})"


def _root_cause(event: Event, zone: tzinfo) -> str:
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
    if entry.non_detection_cause:
        more.append(f"not detected because: {entry.non_detection_cause}")
    if entry.similar_checked:
        more.append(f"similar checked: {entry.similar_checked}")
    if entry.similar:
        more.append(f"similar records: {_names(entry.similar)}")
    for part in more:
        text = _then(text, part)
    return text


def _plan(event: Event, zone: tzinfo) -> str:
    entry = event.details
    assert isinstance(entry, PlanEntry)
    actions = "; ".join(
        f"{action_id} {action.kind.value} for {action.owner}, due {moment(action.due_at, zone)}: {action.description}"
        for action_id, action in zip(entry.action_ids, entry.actions, strict=True)
    )
    text = f"Action plan by {event.actor}: {actions}"
    if entry.criteria:
        text = _then(text, "effectiveness criteria: ") + "; ".join(
            f"{i}. {c.measure} from {c.baseline} to {c.threshold} ({c.data_source})"
            for i, c in enumerate(entry.criteria, 1)
        )
    if entry.needs_approval:
        text = _then(text, "awaits quality's approval")
    return text


def _completed(event: Event, zone: tzinfo) -> str:
    entry = event.details
    assert isinstance(entry, CompletionEntry)
    timing = "on time" if entry.on_time else "late"
    return f"{entry.action_id} completed by {event.actor}, {timing}: {entry.evidence}"


def _verified(event: Event, zone: tzinfo) -> str:
    step = event.details
    assert isinstance(step, VerifyStep)
    text = f"Verification by {event.actor}, {step.result.value}: {step.evidence}"
    if isinstance(step, VerifyEntry) and step.no_adverse_effect:
        text = _then(text, f"no adverse effect: {step.adverse_effect_evidence}")
    if step.criteria:
        text = _then(text, "effectiveness criteria: ") + "; ".join(
            f"{i}. {c.measure} from {c.baseline} to {c.threshold}" for i, c in enumerate(step.criteria, 1)
        )
    return text


def _review_due(event: Event, zone: tzinfo) -> str:
    entry = event.details
    assert isinstance(entry, EffectivenessDueEntry)
    return f"Effectiveness review due by {moment(entry.review_due_at, zone)}"


def _reviewed(event: Event, zone: tzinfo) -> str:
    step = event.details
    assert isinstance(step, ReviewStep)
    text = f"Effectiveness review by {event.actor}, {_words(step.result)}: {step.evidence}"
    for result in step.criteria_results or []:
        text = _then(text, f"criterion {result.criterion} {'met' if result.met else 'not met'}: {result.data}")
    return text


def _closed(event: Event, zone: tzinfo) -> str:
    entry = event.details
    assert isinstance(entry, ClosedEntry)
    return f"Closed after {entry.cycles} cycle{'' if entry.cycles == 1 else 's'}"


def _reminded(event: Event, zone: tzinfo) -> str:
    entry = event.details
    assert isinstance(entry, ReminderEntry)
    # Counted from when the reminder was due, as its message was.
    left = due_in(entry.due_at, min(entry.scheduled_at, entry.due_at))
    to = _names(entry.recipients) or entry.holder
    return f"Reminder to {to}: {_target(entry.target)} {left}, at {moment(entry.due_at, zone)}"


def _escalated(event: Event, zone: tzinfo) -> str:
    entry = event.details
    assert isinstance(entry, EscalationEntry)
    levels = entry.levels or [entry.level]
    level = f"levels {', '.join(map(str, levels))}" if len(levels) > 1 else f"level {levels[0]}"
    to = f" ({_names(entry.recipients)})" if entry.recipients else ""
    late = f"{_target(entry.target)} late by {stored_duration(entry.late_by)}"
    if entry.step_done_at is not None:
        late += f", done at {moment(entry.step_done_at, zone)}"
    return f"Escalation {level} to the managers of {entry.holder}{to}: {late}"


def _extension_asked(event: Event, zone: tzinfo) -> str:
    entry = event.details
    assert isinstance(entry, ExtensionRequestEntry)
    more = duration(entry.until - entry.current_due_at)
    late = ", late (after its due time)" if entry.late else ""
    number = f", extension {entry.number}" if entry.number and entry.number > 1 else ""
    return (
        f"Extension of {_target(entry.target)} asked by {event.actor}{late}{number}, from"
        f" {moment(entry.current_due_at, zone)} to {moment(entry.until, zone)} ({more} more): {entry.reason}"
    )


def _extension_decided(event: Event, zone: tzinfo) -> str:
    entry = event.details
    assert isinstance(entry, ExtensionDecisionEntry)
    verdict = "approved" if entry.approve else "rejected"
    text = f"Extension of {_target(entry.target)} asked by {entry.requested_by} {verdict} by {event.actor}"
    if entry.due_at is not None:
        text += f", now due {moment(entry.due_at, zone)}"
        if entry.original_due_at is not None and entry.original_due_at != entry.due_at:
            text += f" (originally {moment(entry.original_due_at, zone)})"
    return text + (f": {entry.reason}" if entry.reason else "")


def _reassigned(event: Event, zone: tzinfo) -> str:
    entry = event.details
    assert isinstance(entry, ReassignEntry)
    target = "Record" if entry.target == "record" else _target(entry.target)
    return f"{target} reassigned from {entry.previous} to {entry.new_owner} by {event.actor}: {entry.reason}"


def _cancelled(event: Event, zone: tzinfo) -> str:
    entry = event.details
    assert isinstance(entry, CancelEntry)
    category = f" as {_words(entry.category)}" if entry.category else ""
    of = f" of {entry.duplicate_of}" if entry.duplicate_of else ""
    return f"Cancelled by {event.actor}{category}{of} in {_words(entry.stage)}: {entry.reason}"


def _file_attached(event: Event, zone: tzinfo) -> str:
    entry = event.details
    assert isinstance(entry, FileRef)
    return (
        f"File {entry.name} attached to {_target(entry.to)} by {event.actor}"
        f" ({size(entry.size)}, {entry.media_type}, SHA-256 {entry.sha256})"
    )


def _chain_started(event: Event, zone: tzinfo) -> str:
    entry = event.details
    assert isinstance(entry, ChainStartedEntry)
    sealed = "entry 1" if len(entry.sealed) == 1 else f"entries 1 to {len(entry.sealed)}"
    return f"Audit chain started, sealing {sealed}"


def _triaged(event: Event, zone: tzinfo) -> str:
    entry = event.details
    assert isinstance(entry, TriageEntry)
    text = (
        f"Triaged by {event.actor}: severity {entry.severity_level}, occurrence {entry.occurrence_level},"
        f" class {entry.risk_class.value}"
    )
    if entry.risk_class is not entry.previous_class:
        text += f" (was {entry.previous_class.value}; deadlines re-armed)"
    text += f", {_words(entry.decision)}"
    flags = [
        name
        for name, on in (
            ("customer notification", entry.customer_notification),
            ("regulatory report", entry.regulatory_report),
            ("field action", entry.field_action),
        )
        if on
    ]
    if flags:
        text += "; to report: " + ", ".join(flags)
    return text + (f": {entry.rationale}" if entry.rationale else "")


def _plan_amended(event: Event, zone: tzinfo) -> str:
    entry = event.details
    assert isinstance(entry, PlanAmendmentEntry)
    parts = [
        f"added {action_id} for {action.owner}, due {moment(action.due_at, zone)}: {action.description}"
        for action_id, action in zip(entry.action_ids, entry.add, strict=False)
    ]
    parts += [f"{r.action_id} re-scoped: {r.description}" for r in entry.rescope]
    return f"Plan amended by {event.actor} ({entry.reason}): " + "; ".join(parts)


def _plan_decided(event: Event, zone: tzinfo) -> str:
    entry = event.details
    assert isinstance(entry, PlanDecisionEntry)
    verdict = "approved" if entry.approve else "returned"
    return f"The {entry.what} {verdict} by {event.actor}" + (f": {entry.reason}" if entry.reason else "")


def _concession(event: Event, zone: tzinfo) -> str:
    entry = event.details
    assert isinstance(entry, ConcessionEntry)
    customer = f" (customer approval {entry.customer_approval})" if entry.customer_approval else ""
    return f"Concession granted by {event.actor}{customer}: {entry.justification}"


def _amended(event: Event, zone: tzinfo) -> str:
    entry = event.details
    assert isinstance(entry, AmendEntry)
    before = entry.previous if entry.previous is not None else "(none)"
    after = entry.value if entry.value is not None else "(none)"
    return f"{_words(entry.field).capitalize()} corrected by {event.actor} from “{before}” to “{after}”: {entry.reason}"


def _linked(event: Event, zone: tzinfo) -> str:
    entry = event.details
    assert isinstance(entry, LinkStep)
    return f"Linked by {event.actor}: {_words(entry.kind)} {entry.record_id}" + (
        f": {entry.reason}" if entry.reason else ""
    )


def _commented(event: Event, zone: tzinfo) -> str:
    entry = event.details
    assert isinstance(entry, CommentEntry)
    told = f" (mentions {', '.join(entry.mentions)})" if entry.mentions else ""
    return f"Comment by {event.actor}{told}: {entry.text}"


# --- QMS updates that gate closure ---


def _training_recorded(event: Event, zone: tzinfo) -> str:
    entry = event.details
    assert isinstance(entry, TrainingEntry)
    return f"Training of {entry.action_id} recorded by {event.actor}: {', '.join(entry.people)} ({entry.progress})"


# --- recurrence ---


def _recurrence(event: Event, zone: tzinfo) -> str:
    """``Recurrence detected by rule "burr-90d": NC-2026-0012, NC-2026-0014; escalated to level 1 (quinn)``."""
    entry = event.details
    assert isinstance(entry, RecurrenceEntry)
    if entry.rule:
        noticed = f'by rule "{entry.rule}"'
    elif entry.source is RecurrenceSource.EFFECTIVENESS:
        noticed = "during the effectiveness window"
    else:
        noticed = "by a recurrence rule"
    text = f"Recurrence detected {noticed}: {', '.join(entry.record_ids)}"
    if entry.level is not None:
        reached = f" ({', '.join(entry.recipients)})" if entry.recipients else ""
        text += f"; {_target(entry.target or '')} escalated to level {entry.level}{reached}"
    if entry.review_due_at is not None:
        text += f"; effectiveness review brought forward, due by {moment(entry.review_due_at, zone)}"
    return text


# Procedure-version pinning.
def _procedure_moved(event: Event, zone: tzinfo) -> str:
    entry = event.details
    assert isinstance(entry, ProcedureMovedEntry)
    before = entry.from_procedure.label() if entry.from_procedure is not None else "procedure not recorded"
    after = entry.to_procedure.label() if entry.to_procedure is not None else "procedure not recorded"
    was, now = entry.from_policy or "(none)", entry.to_policy
    if was == now and entry.from_digest:  # one policy file's new revision keeps its name: tell them apart
        was, now = f"{was} ({entry.from_digest})", f"{now} ({entry.to_digest})"
    return f"Moved by {event.actor} from {before}, policy {was} to {after}, policy {now}: {entry.reason}"


# One per kind that has a timeline entry (``ENTRY_OF_KIND``); the digest has none.
# --- honest pauses ---


def _pause_asked(event: Event, zone: tzinfo) -> str:
    entry = event.details
    assert isinstance(entry, PauseRequestEntry)
    return (
        f"Pause of {_target(entry.target)} asked by {event.actor}, waiting on {entry.waiting_on} until"
        f" {moment(entry.expected_until, zone)} (due {moment(entry.due_at, zone)}): {entry.reason}"
    )


def _pause_decided(event: Event, zone: tzinfo) -> str:
    entry = event.details
    assert isinstance(entry, PauseDecisionEntry)
    verdict = "approved" if entry.approve else "declined"
    text = f"Pause of {_target(entry.target)} asked by {entry.requested_by} {verdict} by {event.actor}"
    if entry.remaining is not None:
        text += f": paused — waiting on {entry.waiting_on} until {moment(entry.expected_until, zone)}"
        text += f", {duration(entry.remaining)} left"
    return text + (f" ({entry.reason})" if entry.reason else "")


def _resumed(event: Event, zone: tzinfo) -> str:
    entry = event.details
    assert isinstance(entry, ResumeEntry)
    text = (
        f"{_target(entry.target).capitalize()} resumed by {event.actor} after {duration(entry.paused_for)}"
        f" paused, now due {moment(entry.due_at, zone)}"
    )
    return text + (f": {entry.reason}" if entry.reason else "")


_SENTENCES: dict[EventKind, Callable[[Event, tzinfo], str]] = {
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
    EventKind.TRIAGED: _triaged,
    EventKind.PLAN_AMENDED: _plan_amended,
    EventKind.PLAN_DECIDED: _plan_decided,
    EventKind.CONCESSION_GRANTED: _concession,
    EventKind.AMENDED: _amended,
    EventKind.LINKED: _linked,
    EventKind.COMMENTED: _commented,
    EventKind.RECURRENCE_DETECTED: _recurrence,  # recurrence
    EventKind.PROCEDURE_MOVED: _procedure_moved,  # procedure-version pinning
    EventKind.TRAINING_RECORDED: _training_recorded,  # QMS updates that gate closure
    # honest pauses
    EventKind.PAUSE_REQUESTED: _pause_asked,
    EventKind.PAUSE_DECIDED: _pause_decided,
    EventKind.RESUMED: _resumed,
}


def _earlier(event: Event, zone: tzinfo) -> str:
    """``Root cause submitted by olivia: method: fishbone; cause: Worn tool``: the fields as written."""
    fields = "; ".join(f"{_words(key)}: {_value(value, zone)}" for key, value in event.shown().items())
    return f"{_words(event.kind).capitalize()} by {event.actor}" + (f": {fields}" if fields else "")


def _value(value: Any, zone: tzinfo) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return moment(value, zone)
    if isinstance(value, dict):
        return ", ".join(f"{_words(key)} {_value(item, zone)}" for key, item in value.items() if item is not None)
    if isinstance(value, list):
        return "; ".join(_value(item, zone) for item in value)
    return _words(value) if isinstance(value, Enum) else str(value)
