"""What a record tells people: the notice each step, reminder, escalation and effectiveness review makes.

Pure functions of the state and the timeline entry, used by the record workflow as a step lands or an alarm
rings (and by the read model's writer for records of the earlier shape). A notice names its recipients, or
names whose manager receives it; the outbox finds that manager in the directory when it queues the notice, and
keys each notice by record and entry, so a notice is queued once however often it is handed over.
"""

from datetime import datetime

from models.enums import EventKind, Role
from models.formatting import due_in, duration, moment, stored_duration
from models.payloads import (
    SYSTEM_ACTOR,
    CapaState,
    Clock,
    CommentEntry,
    EscalationEntry,
    Event,
    ExtensionDecisionEntry,
    ExtensionRequestEntry,
    Notice,
    PauseDecisionEntry,
    PauseRequestEntry,
    PlanDecisionEntry,
    PlanEntry,
    ReassignEntry,
    RecurrenceEntry,
    ReminderEntry,
    ResumeEntry,
    TrainingEntry,
    TriageEntry,
)
from models.sentences import sentence


def notice(
    state: CapaState,
    event: Event,
    recipients: list[str],
    what: str,
    *,
    managers_of: list[str] | None = None,
    roles: list[Role] | None = None,
) -> Notice:
    """The notice of ``event`` to ``recipients`` (and the managers of ``managers_of``): the record's id and
    ``what`` as subject, its facts as body."""
    return Notice(
        record_id=state.id,
        seq=event.seq,
        kind=event.kind,
        recipients=recipients,
        subject=f"[{state.id}] {what}",
        body=f"{state.id} ({state.severity.value}): {state.title}\nStage: {state.stage.value}\n{what}",
        managers_of=managers_of or [],
        roles=roles or [],
        actor=None if event.actor == SYSTEM_ACTOR else event.actor,
    )


def for_step(state: CapaState, event: Event) -> Notice | None:
    """Who must hear of a step at once: the new owner of the record or of an action, the action owners of a plan,
    the manager of whoever asks for an extension, and whoever asked, once it is decided. ``state`` is the record
    after the step. Nobody is told of their own step."""
    details = event.details
    managers_of: list[str] = []
    roles: list[Role] = []
    if isinstance(details, CommentEntry):
        return commented(state, event)
    if isinstance(details, TrainingEntry):
        return trained(state, event, details)
    if event.kind is EventKind.RAISED:
        recipients = [state.owner]
        what = f"you own a new {state.severity.value} nonconformity raised by {event.actor}: {state.title}"
        if state.under_current_rules:
            # Quality, who triages it, reads the same notice as the owner: it names the owner rather than "you".
            roles = [Role.QUALITY]
            what = (
                f"new {state.severity.value} nonconformity raised by {event.actor}, owned by {state.owner}: "
                f"{state.title}"
            )
        if state.clock is not None:
            what += f"; containment due {moment(state.clock.due_at)}"
        if state.under_current_rules:
            what += "; quality to triage it"
    elif isinstance(details, TriageEntry):
        recipients = [state.owner]
        what = f"triaged by {event.actor}: {details.risk_class.value}, {details.decision.value}"
        if details.risk_class is not details.previous_class:
            what += f" (raised as {details.previous_class.value}; its deadlines follow the new class)"
    elif isinstance(details, PlanDecisionEntry):
        recipients = [state.owner]
        verdict = "approved" if details.approve else f"returned: {details.reason}"
        what = f"the {details.what} was {verdict} by {event.actor}"
    elif event.kind is EventKind.PLAN_SUBMITTED:
        planned = _planned(event)
        recipients = [owner for _, owner, _ in planned]
        for_whom = ", ".join(f"{action_id} ({owner}, due {moment(due)})" for action_id, owner, due in planned)
        what = f"action plan submitted by {event.actor}: {for_whom}"
    elif isinstance(details, ReassignEntry):
        recipients = [details.new_owner]
        target = "the record" if details.target == "record" else f"action {details.target}"
        what = f"{target} reassigned to you from {details.previous} by {event.actor}: {details.reason}"
    elif isinstance(details, ExtensionRequestEntry):
        recipients, managers_of = [], [event.actor]
        until, current = details.until, details.current_due_at
        what = (
            f"{event.actor} asks to extend {details.target} from {moment(current)} to {moment(until)}"
            f" ({duration(until - current)} more): {details.reason}"
        )
    elif isinstance(details, ExtensionDecisionEntry):
        recipients = [details.requested_by]
        verdict = "approved" if details.approve else "rejected"
        what = f"your extension of {details.target} was {verdict} by {event.actor}"
        if details.due_at is not None:
            what += f"; due {moment(details.due_at)}"
    elif isinstance(details, PauseRequestEntry | PauseDecisionEntry | ResumeEntry):
        recipients, roles, what = _pause_notice(details, event)  # honest pauses
    else:
        return for_watchers(state, event)
    recipients = [name for name in dict.fromkeys(recipients) if name != event.actor]
    if not recipients and not managers_of and not roles:
        return for_watchers(state, event)
    return notice(state, event, recipients, what, managers_of=managers_of, roles=roles)


def trained(state: CapaState, event: Event, details: TrainingEntry) -> Notice | None:
    """QMS updates that gate closure: a training record tells the action's owner and the record's owner the
    progress (not whoever recorded it)."""
    action = state.action(details.action_id)
    owners = [action.owner if action else state.owner, state.owner]
    recipients = [name for name in dict.fromkeys(owners) if name != event.actor]
    if not recipients:
        return for_watchers(state, event)
    people = ", ".join(details.people)
    what = f"training of {details.action_id} recorded by {event.actor} ({people}): {details.progress}"
    return notice(state, event, recipients, what)


def for_watchers(state: CapaState, event: Event) -> Notice | None:
    """A person's step nobody must hear of at once still reaches those who watch the record: its timeline
    sentence. (The system's entries, reminders and escalations, have notices of their own.)"""
    if event.actor == SYSTEM_ACTOR:
        return None
    said = notice(state, event, [], sentence(event))
    return said.model_copy(update={"watchers_only": True})


# How much of a comment a notice's subject shows.
_SUBJECT_TEXT = 80


def commented(state: CapaState, event: Event) -> Notice:
    """To the people the comment mentions (not its author); the outbox adds the record's watchers, so it goes out
    even when it mentions nobody."""
    entry = event.details
    assert isinstance(entry, CommentEntry)
    recipients = [name for name in entry.mentions if name != event.actor]
    first_line = entry.text.splitlines()[0]
    short = first_line if len(first_line) <= _SUBJECT_TEXT else first_line[: _SUBJECT_TEXT - 1] + "…"
    said = notice(state, event, recipients, f"{event.actor} commented: {short}")
    # The subject carries the comment's start; the body carries it whole.
    facts = said.body.rsplit("\n", 1)[0]
    return said.model_copy(update={"body": f"{facts}\n{event.actor} commented:\n{entry.text}"})


def _planned(event: Event) -> list[tuple[str, str, datetime]]:
    """Each planned action's id, owner and due time, from a plan entry of either shape."""
    if isinstance(event.details, PlanEntry):
        return [(i, a.owner, a.due_at) for i, a in zip(event.details.action_ids, event.details.actions, strict=True)]
    # Written before entries were typed: each action with its id, owner and due time as text.
    return [(a["id"], a["owner"], datetime.fromisoformat(a["due_at"])) for a in event.facts().get("actions", [])]


def reminder(state: CapaState, event: Event, clock: Clock, scheduled_at: datetime) -> Notice:
    """To the holder, before the due time: counted from when the reminder was due, so never "due in -3h". A
    review's reminder also goes to quality, who review."""
    assert isinstance(event.details, ReminderEntry)
    counted_from = min(scheduled_at, clock.due_at)
    what = f"{event.details.target} {due_in(clock.due_at, counted_from)}"
    if state.under_current_rules and event.details.target == "effectiveness":
        # Any quality person may review: they all hear of a review falling due, beside the record's owner.
        return notice(state, event, [clock.holder], what, roles=[Role.QUALITY])
    return notice(state, event, [clock.holder], what)


def escalation(state: CapaState, event: Event, clock: Clock, late: str, *, done: bool = False) -> Notice:
    """Up the holder's reporting line, as many steps as the level (the recipients came with the alarm). ``done``:
    the step was taken before the escalation could go out, late all the same."""
    entry = event.details
    assert isinstance(entry, EscalationEntry)
    how_late = stored_duration(late)
    if done:
        what = f"{entry.target} held by {clock.holder} was done {how_late} late (escalation level {entry.level})"
    else:
        what = f"{entry.target} held by {clock.holder} is overdue by {how_late} (escalation level {entry.level})"
    return notice(state, event, list(entry.recipients), what)


def effectiveness_due(state: CapaState, event: Event) -> Notice:
    """Under the current rules any quality person may review, so all of them hear it (and the owner)."""
    if state.under_current_rules:
        return notice(state, event, [state.owner], "effectiveness review due (quality)", roles=[Role.QUALITY])
    return notice(state, event, [state.owner], "effectiveness review due")


def approval_needed(state: CapaState, event: Event) -> Notice:
    """A plan or amendment awaits quality's approval."""
    what = "plan" if event.kind is EventKind.PLAN_SUBMITTED else "plan amendment"
    return notice(state, event, [], f"{what} by {event.actor} awaits quality's approval", roles=[Role.QUALITY])


def concession_needed(state: CapaState, event: Event) -> Notice:
    """Containment used product as is or reworked: quality's concession is needed."""
    return notice(
        state, event, [], "containment uses product as is or reworked: concession needed", roles=[Role.QUALITY]
    )


# --- recurrence ---


def recurrence(state: CapaState, event: Event) -> Notice:
    """A recurrence reaches quality (any of them may act), the record's owner and whoever its escalation names."""
    entry = event.details
    assert isinstance(entry, RecurrenceEntry)
    recipients = list(dict.fromkeys([state.owner, *entry.recipients]))
    what = f"recurrence detected: {', '.join(entry.record_ids)}"
    if entry.level is not None:
        what += f", escalated to level {entry.level}"
    if entry.review_due_at is not None:
        what += f", effectiveness review due by {moment(entry.review_due_at)}"
    return notice(state, event, recipients, what, roles=[Role.QUALITY])


# --- honest pauses ---


def _pause_notice(
    details: PauseRequestEntry | PauseDecisionEntry | ResumeEntry, event: Event
) -> tuple[list[str], list[Role], str]:
    """Quality hears of a pause request (any of them may decide it); the holder hears of the decision, and of a
    resume by someone else."""
    if isinstance(details, PauseRequestEntry):
        what = (
            f"{event.actor} asks to pause {details.target}, waiting on {details.waiting_on} until"
            f" {moment(details.expected_until)}: {details.reason}"
        )
        return [], [Role.QUALITY], what
    if isinstance(details, PauseDecisionEntry):
        verdict = "approved" if details.approve else f"declined: {details.reason}"
        what = f"your pause of {details.target} (waiting on {details.waiting_on}) was {verdict} by {event.actor}"
        return [details.requested_by], [], what
    return [], [], f"{details.target} resumed by {event.actor}; due {moment(details.due_at)}"


# --- recurrence sentinels ---

# The outbox keys notices by record and timeline entry; a firing's own notice goes under the linked CAPA it opened,
# before its first entry (entries count from 1), so it is queued once per firing however often it is handed over.
SENTINEL_FIRED_SEQ = 0


def sentinel_fired(linked: str, rule: str, owner: str, facts: dict[str, str], record_ids: list[str]) -> Notice:
    """A recurrence rule fired and opened ``linked``: quality (any of them may act) and the rule's owner hear of the
    rule and the records that triggered it."""
    said = ", ".join(f"{key} {value}" for key, value in facts.items())
    what = f"recurrence rule {rule} fired on {said}: {', '.join(record_ids)}; linked CAPA {linked} opened for {owner}"
    return Notice(
        record_id=linked,
        seq=SENTINEL_FIRED_SEQ,
        kind=EventKind.RECURRENCE_DETECTED,
        recipients=[owner],
        subject=f"[{linked}] {what}",
        body=f"{linked}: raised by the system\n{what}\nTriggered by: {', '.join(record_ids)}",
        roles=[Role.QUALITY],
    )
