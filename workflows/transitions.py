"""What each step does to a record's state, for both shapes of the record workflow.

``workflows.record`` (CapaRecord) and ``workflows.capa`` (the earlier CapaWorkflow) apply a step to ``CapaState``
the same way; they differ in the commands they emit around it and in the shape of the timeline entry they
append. These functions only change the state and read ``workflow.now()``: they emit no command, so calling
them changes nothing a replay checks. Each step's function changes the state only; the workflow appends its
entry (``append``) and emits its commands.
"""

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributeKey, SearchAttributeUpdate
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from models import qms, rules, search_attributes
    from models.calendars import WorkCalendar, parse_working_window
    from models.durations import WorkingSpan
    from models.enums import (
        ActionStatus,
        EffectivenessResult,
        EventKind,
        Severity,
        Stage,
        TriageDecision,
        VerificationResult,
    )
    from models.payloads import (
        Action,
        AmendInput,
        CancelInput,
        CapaState,
        Clock,
        CompleteActionInput,
        Concession,
        ConcessionInput,
        Containment,
        ContainmentInput,
        Event,
        ExtensionDecisionInput,
        ExtensionRequest,
        ExtensionRequestInput,
        Link,
        LinkInput,
        MoveProcedureInput,
        Payload,
        PendingPlan,
        PlanAmendmentInput,
        PlanDecisionInput,
        PlanInput,
        PlannedAction,
        ProcedureMovedEntry,
        RaiseInput,
        ReassignInput,
        Review,
        ReviewInput,
        RootCause,
        RootCauseInput,
        Triage,
        TriageInput,
        Verification,
        VerifyInput,
    )
    from models.policy import PinnedPolicy
    from models.refusals import FieldProblem, Rejection

_UNSET = object()


def refusal(kind: str, message: str, problems: tuple[FieldProblem, ...] = ()) -> ApplicationError:
    """The failure a refused step or alarm ends with: front ends map its type to an error code and read the fields
    at fault from its details."""
    return ApplicationError(message, *(problem.as_json() for problem in problems), type=kind, non_retryable=True)


def guard(check: Callable[..., None], *args: Any) -> None:
    """Run a rule; turn its Rejection into the failure type front-ends map to an error code."""
    try:
        check(*args)
    except Rejection as rejection:
        raise refusal(rejection.kind.value, rejection.message, rejection.problems) from None


# --- the record's parts ---------------------------------------------------------------------------------------


def raised_state(raised: RaiseInput, policy: PinnedPolicy | None = None) -> CapaState:
    """A record as it is raised, now (with its policy when it is pinned already)."""
    return CapaState(
        id=raised.record_id,
        title=raised.title,
        description=raised.description,
        severity=raised.severity,
        source=raised.source,
        product=raised.product,
        lot=raised.lot,
        quantity=raised.quantity,
        raised_by=raised.raised_by.name,
        raised_at=workflow.now(),
        owner=raised.owner,
        policy=policy,
        defect_code=raised.defect_code,
        supplier=raised.supplier,
        customer=raised.customer,
        site=raised.site,
        links=[
            Link(kind=ref.kind, record_id=ref.record_id, by=raised.raised_by.name, at=workflow.now())
            for ref in raised.links or []
        ],
    )


def append(s: CapaState, kind: EventKind, actor: str, details: Payload | dict[str, Any]) -> Event:
    """Add the next entry to the timeline (an entry of the earlier shape passes its details as a dict)."""
    event = Event(seq=len(s.events) + 1, at=workflow.now(), kind=kind, actor=actor, details=details)
    s.events.append(event)
    workflow.logger.info(
        "%s on %s by %s", kind.value, s.id, actor, extra={"record_id": s.id, "seq": event.seq, "actor": actor}
    )
    return event


def new_clock(
    holder: str, window: timedelta, start: datetime | None = None, calendar: WorkCalendar | None = None
) -> Clock:
    start = start or workflow.now()
    due = working_due(start, window, calendar)
    return Clock(holder=holder, due_at=due, original_due_at=due, armed_at=start, started_at=start)


# working-day calendars: a ``wd``/``wh`` window falls due in working time when the record pinned a calendar.
def working_due(start: datetime, window: timedelta, calendar: WorkCalendar | None) -> datetime:
    if calendar is not None and isinstance(window, WorkingSpan):
        working = parse_working_window(window.text)
        if working is not None:
            return calendar.add(start, working)
    return start + window


# working-day calendars: the windows counted from an event (the effectiveness window, a reclassified stage) end in
# working time only on runs that record this marker; a run without a calendar never asks, and counts as before.
WORKING_WINDOWS = "working-windows-from-events"


def event_window_end(s: CapaState, start: datetime, window: timedelta) -> datetime:
    """When ``window`` from ``start`` ends for this record: in working time for a ``wd``/``wh`` window under the
    record's calendar, else in calendar time."""
    if s.calendar is not None and isinstance(window, WorkingSpan) and workflow.patched(WORKING_WINDOWS):
        return working_due(start, window, s.calendar)
    return start + window


def enter_stage(s: CapaState, stage: Stage, *, deadline: bool = True) -> None:
    """Move to ``stage``; its holder's clock starts now unless nothing is due yet (``deadline=False``)."""
    assert s.policy is not None
    s.stage = stage
    drop_extension_for(s, None)
    s.clock = new_clock(s.owner, s.policy.rules.stage_window(stage), calendar=s.calendar) if deadline else None


def drop_extension_for(s: CapaState, action_id: str | None) -> None:
    """A step that ends makes its pending extension request moot."""
    pending = s.pending_extension
    if pending is not None and pending.action_id == action_id:
        s.pending_extension = None
    s.pending_extensions = [r for r in s.pending_extensions if r.action_id != action_id]


def index_updates(s: CapaState, indexed: dict[str, object] | None) -> list[SearchAttributeUpdate[Any]]:
    """The search attributes to upsert: those that differ from ``indexed`` (which then holds them), or all of
    them when ``indexed`` is None."""
    wanted: list[tuple[SearchAttributeKey[Any], Any]] = [
        (search_attributes.STAGE, s.stage.value),
        (search_attributes.SEVERITY, s.severity.value),
        (search_attributes.OWNER, s.owner),
        (search_attributes.DUE_AT, s.due_at),
    ]
    if indexed is not None:
        wanted = [(key, value) for key, value in wanted if indexed.get(key.name, _UNSET) != value]
        indexed.update((key.name, value) for key, value in wanted)
    return [key.value_set(value) if value is not None else key.value_unset() for key, value in wanted]


# --- the steps ------------------------------------------------------------------------------------------------


def contain(s: CapaState, inp: ContainmentInput) -> bool:
    """Record the containment; the record moves to root cause, or closes when triage decided a correction is
    enough (returns True)."""
    s.containment = Containment(
        summary=inp.summary,
        disposition=inp.disposition,
        quantity=inp.quantity,
        by=inp.actor.name,
        at=workflow.now(),
        dispositions=inp.dispositions or [],
        no_product_affected=bool(inp.no_product_affected),
        shipped=inp.shipped,
        customers_told=inp.customers_told,
    )
    if s.triage is not None and s.triage.decision is TriageDecision.CORRECTION_ONLY:
        close(s)
        return True
    enter_stage(s, Stage.ROOT_CAUSE)
    return False


def close(s: CapaState) -> None:
    s.clock = None
    s.stage = Stage.CLOSED
    s.closed_at = workflow.now()
    drop_extension_for(s, None)


def triage(s: CapaState, inp: TriageInput) -> tuple[Severity, bool]:
    """Record quality's triage; a new class re-arms the running clocks by its windows, a correction-only decision
    closes a contained record. Returns the class before and whether the record closed."""
    assert s.policy is not None
    previous = s.severity
    risk_class = rules.triaged_class(s, inp)
    s.triage = Triage(
        **inp.model_dump(exclude={"actor", "signature"}),
        risk_class=risk_class,
        by=inp.actor.name,
        at=workflow.now(),
        signature=inp.signature,
    )
    if risk_class is not previous:
        if s.provisional_severity is None:
            s.provisional_severity = previous
        reclassify(s, risk_class)
    if inp.decision is TriageDecision.CORRECTION_ONLY and s.containment is not None:
        close(s)
        return previous, True
    return previous, False


def reclassify(s: CapaState, risk_class: Severity) -> None:
    """Live by ``risk_class``'s rules: the stage's clock counts its new window from when the step began (an
    approved extension stands), and a running effectiveness window is re-counted from the verification."""
    assert s.policy is not None
    s.severity = risk_class
    s.policy = s.policy.reclassified(risk_class)
    clock = s.clock
    if clock is not None and clock.extensions == 0:
        begun = clock.started_at or clock.armed_at
        clock.due_at = clock.original_due_at = event_window_end(s, begun, s.policy.rules.stage_window(s.stage))
        clock.armed_at = workflow.now()
        clock.reminders_sent = 0
        clock.escalation_level = 0
        clock.alarm = 0
    if s.stage is Stage.EFFECTIVENESS and s.clock is None and s.verifications:
        s.effectiveness_due_at = event_window_end(s, s.verifications[-1].at, s.policy.rules.effectiveness_after)
        s.effectiveness_alarm = 0


def concede(s: CapaState, inp: ConcessionInput) -> None:
    assert s.containment is not None
    s.containment.concession = Concession(
        justification=inp.justification,
        customer_approval=inp.customer_approval,
        by=inp.actor.name,
        at=workflow.now(),
        signature=inp.signature,
    )


def root_cause(s: CapaState, inp: RootCauseInput) -> None:
    s.root_causes.append(
        RootCause(
            cycle=s.cycle,
            method=inp.method,
            cause=inp.cause,
            whys=inp.whys,
            category=inp.category,
            escape_point=inp.escape_point,
            similar_checked=inp.similar_checked,
            by=inp.actor.name,
            at=workflow.now(),
            non_detection_cause=inp.non_detection_cause,
            similar=inp.similar or [],
        )
    )
    enter_stage(s, Stage.ACTION)
    s.awaiting_plan = True


def _add_actions(s: CapaState, planned_actions: list[PlannedAction]) -> list[Action]:
    now = workflow.now()
    first = len(s.actions) + 1
    added = [
        Action(
            id=f"A{first + offset}",
            cycle=s.cycle,
            round=s.round,
            kind=planned.kind,
            owner=planned.owner,
            description=planned.description,
            late_due_reason=planned.late_due_reason,
            details=planned.details,
            clock=Clock(
                holder=planned.owner,
                due_at=planned.due_at,
                original_due_at=planned.due_at,
                armed_at=now,
                started_at=now,
            ),
        )
        for offset, planned in enumerate(planned_actions)
    ]
    s.actions.extend(added)
    return added


def plan(s: CapaState, inp: PlanInput) -> list[Action]:
    """Add the planned actions, each with its own clock; returns them. A plan quality must approve waits for it
    (its actions' clocks run meanwhile: the work need not wait)."""
    added = _add_actions(s, inp.actions)
    s.awaiting_plan = False
    s.clock = None  # the plan is in; from now on each action's own deadline runs
    s.criteria = list(inp.criteria or [])
    # QMS updates that gate closure
    s.affected_documents = inp.affected_documents
    s.no_documents_justification = inp.no_documents_justification
    if rules.plan_needs_approval(s, inp.actions):
        s.pending_plan = PendingPlan(
            what="plan", submitted_by=inp.actor.name, submitted_at=workflow.now(), added=[a.id for a in added]
        )
    return added


def amend_plan(s: CapaState, inp: PlanAmendmentInput) -> tuple[list[str], dict[str, str]]:
    """Add and re-scope actions; quality approves the amendment before verification. A record waiting for
    verification goes back to action when actions are added. Returns the added ids and the replaced scopes."""
    added = _add_actions(s, inp.add)
    previous: dict[str, str] = {}
    for rescope in inp.rescope:
        action = s.action(rescope.action_id)
        assert action is not None
        previous[action.id] = action.description
        action.description = rescope.description
    s.pending_plan = PendingPlan(
        what="amendment",
        submitted_by=inp.actor.name,
        submitted_at=workflow.now(),
        added=[a.id for a in added],
        previous=previous,
    )
    if added and s.stage is Stage.VERIFICATION:
        s.stage = Stage.ACTION
        s.clock = None
    return [a.id for a in added], previous


def decide_plan(s: CapaState, inp: PlanDecisionInput) -> PendingPlan:
    """Approve the pending plan or amendment, or return it: a returned plan's open actions end and a new plan is
    due; a returned amendment's added actions end and its re-scoped actions get their scope back."""
    pending = s.pending_plan
    assert pending is not None
    s.pending_plan = None
    if inp.approve:
        return pending
    for action_id in pending.added:
        action = s.action(action_id)
        if action is not None and action.status is ActionStatus.OPEN:
            action.status = ActionStatus.CANCELLED
            drop_extension_for(s, action_id)
    for action_id, description in pending.previous.items():
        action = s.action(action_id)
        if action is not None:
            action.description = description
    if pending.what == "plan":
        s.criteria = []
        s.awaiting_plan = True
        enter_stage(s, Stage.ACTION)
    elif s.stage is Stage.ACTION and all(a.status is not ActionStatus.OPEN for a in s.current_actions()):
        enter_stage(s, Stage.VERIFICATION)
    return pending


def complete_action(s: CapaState, inp: CompleteActionInput) -> Action:
    """Mark the action done (the record moves to verification once every action of the round is); returns it."""
    action = s.action(inp.action_id)
    assert action is not None
    action.status = ActionStatus.COMPLETED
    action.evidence = inp.evidence
    action.completed_by = inp.actor.name
    action.completed_at = workflow.now()
    action.details = qms.merge(action.details, inp.details)  # QMS updates that gate closure
    drop_extension_for(s, action.id)
    if all(a.status is not ActionStatus.OPEN for a in s.current_actions()):
        enter_stage(s, Stage.VERIFICATION)
    return action


def verify(s: CapaState, inp: VerifyInput) -> None:
    now = workflow.now()
    s.verifications.append(
        Verification(
            round=s.round,
            result=inp.result,
            evidence=inp.evidence,
            by=inp.actor.name,
            at=now,
            signature=inp.signature,
            no_adverse_effect=inp.no_adverse_effect,
            adverse_effect_evidence=inp.adverse_effect_evidence,
        )
    )
    if inp.criteria:
        s.criteria = list(inp.criteria)
    if inp.result is VerificationResult.PASS:
        assert s.policy is not None
        # Nothing is due until the effectiveness window has passed; then the review's clock starts.
        enter_stage(s, Stage.EFFECTIVENESS, deadline=False)
        s.effectiveness_due_at = event_window_end(s, now, s.policy.rules.effectiveness_after)
        s.effectiveness_alarm = 0
    else:
        s.round += 1
        s.awaiting_plan = True
        enter_stage(s, Stage.ACTION)


def review(s: CapaState, inp: ReviewInput) -> bool:
    """Record the review: an effective one closes the record (returns True), an inconclusive one extends the
    window once, a not-effective one opens a new cycle."""
    now = workflow.now()
    s.reviews.append(
        Review(
            cycle=s.cycle,
            result=inp.result,
            evidence=inp.evidence,
            by=inp.actor.name,
            at=now,
            signature=inp.signature,
            criteria_results=inp.criteria_results or [],
        )
    )
    s.effectiveness_due_at = None
    if inp.result is EffectivenessResult.EFFECTIVE:
        close(s)
        return True
    if inp.result is EffectivenessResult.INCONCLUSIVE:
        assert s.policy is not None
        drop_extension_for(s, None)
        s.window_extended = True
        s.clock = None
        s.effectiveness_due_at = event_window_end(s, now, s.policy.rules.effectiveness_after)
        s.effectiveness_alarm = 0
        return False
    s.cycle += 1
    s.round = 1
    s.criteria = []
    s.window_extended = False
    enter_stage(s, Stage.ROOT_CAUSE)
    return False


def request_extension(s: CapaState, inp: ExtensionRequestInput) -> Clock:
    """Hold the request until it is decided; returns the clock it would move."""
    clock = s.clock_for(inp.action_id)
    assert clock is not None
    now = workflow.now()
    request = ExtensionRequest(
        action_id=inp.action_id,
        requested_by=inp.actor.name,
        requested_at=now,
        current_due_at=clock.due_at,
        until=inp.until,
        reason=inp.reason,
    )
    if not s.under_current_rules:
        s.pending_extension = request
        return clock
    request.late = now > clock.due_at
    request.line = list(inp.line or [])
    request.number = clock.extensions + 1
    s.pending_extensions.append(request)
    return clock


def decide_extension(s: CapaState, inp: ExtensionDecisionInput) -> tuple[ExtensionRequest, Clock | None]:
    """Settle the pending request; an approval moves its clock. Returns the request and the clock, if still open."""
    request = s.pending_extension if not s.under_current_rules else s.pending_request(inp.action_id)
    assert request is not None
    drop_extension_for(s, request.action_id)
    clock = s.clock_for(request.action_id)
    if inp.approve and clock is not None:
        # Re-arm every timer of the step: reminders ahead of the new due fire again, escalation restarts.
        # The original due stays: lateness is still measured against it (the board, on-time figures).
        clock.due_at = request.until
        clock.armed_at = workflow.now()
        clock.reminders_sent = 0
        clock.escalation_level = 0
        clock.extensions += 1
        clock.alarm = 0
    return request, clock


def reassign(s: CapaState, inp: ReassignInput) -> str:
    """Hand the record or an action to its new owner, and the running clock with it; returns the previous owner."""
    if inp.action_id is None:
        previous = s.owner
        s.owner = inp.new_owner
        if s.clock is not None and s.clock.holder == previous:
            s.clock.holder = inp.new_owner
            s.clock.alarm = 0  # the new holder's reminders and reporting line
        return previous
    action = s.action(inp.action_id)
    assert action is not None
    previous = action.owner
    action.owner = inp.new_owner
    action.clock.holder = inp.new_owner
    action.clock.alarm = 0
    return previous


def cancel(s: CapaState, inp: CancelInput) -> Stage:
    """End the record and every open action; returns the stage it was cancelled in."""
    previous = s.stage
    s.stage = Stage.CANCELLED
    s.cancel_reason = inp.reason
    s.cancel_category = inp.category
    s.closed_at = workflow.now()
    s.clock = None
    s.effectiveness_due_at = None
    s.pending_extension = None
    # Nothing is left awaiting a decision on a record that has ended: no extension request, no plan to approve.
    s.pending_extensions = []
    s.pending_plan = None
    for action in s.actions:
        if action.status is ActionStatus.OPEN:
            action.status = ActionStatus.CANCELLED
    return previous


def amend(s: CapaState, inp: AmendInput) -> str | None:
    """Correct one fact of the record; returns its previous value, as text."""
    field = inp.field.value
    previous = getattr(s, field)
    setattr(s, field, rules.amended_value(s, inp))
    return None if previous is None else str(previous)


def link(s: CapaState, inp: LinkInput) -> None:
    s.links.append(Link(kind=inp.kind, record_id=inp.record_id, by=inp.actor.name, at=workflow.now()))


# Procedure-version pinning.
def move_procedure(s: CapaState, inp: MoveProcedureInput) -> ProcedureMovedEntry:
    """Pin the policy in force (for the record's class) instead of the one the record was raised under. Running
    clocks keep their dues; every window started from now on follows the new policy."""
    assert inp.policy is not None
    assert s.policy is not None
    before = s.policy
    after = inp.policy.reclassified(s.severity) if s.severity in inp.policy.classes else inp.policy
    s.policy = after
    return ProcedureMovedEntry(
        reason=inp.reason,
        from_procedure=before.procedure,
        to_procedure=after.procedure,
        from_policy=before.name,
        to_policy=after.name,
        from_digest=before.digest,
        to_digest=after.digest,
        signature=inp.signature,
    )
