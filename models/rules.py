"""The lifecycle rules, named once: which step is accepted in which stage, from whom, with what payload.

Pure functions over the record's state. The workflow's update validators call them before anything is
written to history; the client layer calls ``check_owner_roles`` before naming someone an owner. A violated rule
raises ``Rejection`` (``models.refusals``): its ``kind`` lets a front end choose its error (wrong stage, not
allowed, bad input, unknown), and bad input names each field at fault by its path in the step's input.
"""

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import NamedTuple, TypeVar

from models import formatting, qms, signatures
from models.calendars import window_end
from models.enums import (
    ActionKind,
    ActionStatus,
    CancelCategory,
    EffectivenessResult,
    EventKind,
    Role,
    RootCauseMethod,
    Severity,
    Stage,
    TriageDecision,
    VerificationResult,
)
from models.payloads import (
    FILE_STEPS,
    Action,
    Actor,
    AmendInput,
    AmendStep,
    AttachFileInput,
    AttachFileStep,
    CancelInput,
    CancelStep,
    CapaState,
    Clock,
    CommentInput,
    CommentStep,
    CompleteActionInput,
    CompleteActionStep,
    ConcessionInput,
    ConcessionStep,
    ContainmentInput,
    ContainmentStep,
    Criterion,
    ExtensionDecisionInput,
    ExtensionDecisionStep,
    ExtensionRequestInput,
    ExtensionRequestStep,
    FileRef,
    LinkInput,
    LinkStep,
    MoveProcedureInput,
    MoveProcedureStep,
    PauseDecisionInput,
    PauseDecisionStep,
    PauseRequest,
    PauseRequestInput,
    PauseRequestStep,
    Payload,
    PlanAmendmentInput,
    PlanAmendmentStep,
    PlanDecisionEntry,
    PlanDecisionInput,
    PlanDecisionStep,
    PlanInput,
    PlannedAction,
    PlanStep,
    RaiseStep,
    ReassignInput,
    ReassignStep,
    RecordTrainingInput,
    RecordTrainingStep,
    RecurrenceEntry,
    RecurrenceInput,
    ResumeInput,
    ResumeStep,
    ReviewInput,
    ReviewStep,
    RootCauseInput,
    RootCauseStep,
    SignedInput,
    StepInput,
    TriageInput,
    TriageStep,
    VerifyInput,
    VerifyStep,
)
from models.policy import PinnedPolicy
from models.refusals import ErrorKind, FieldProblem, Rejection, path

TargetT = TypeVar("TargetT", str, str | None)


def _wrong_stage(state: CapaState, step: str, *expected: Stage) -> Rejection:
    wanted = " or ".join(s.value for s in expected)
    return Rejection(
        ErrorKind.WRONG_STAGE,
        f"{state.id} is in stage {state.stage.value}; {step} is accepted only in {wanted}",
    )


def _require_stage(state: CapaState, step: str, *expected: Stage) -> None:
    if state.policy is None:
        raise Rejection(ErrorKind.WRONG_STAGE, f"{state.id} is still being opened; try again in a moment")
    if state.stage not in expected:
        raise _wrong_stage(state, step, *expected)


def _require_owner_or_manager(state: CapaState, actor: Actor, step: str, owner: str) -> None:
    if actor.name != owner and not actor.is_manager:
        raise Rejection(
            ErrorKind.NOT_ALLOWED,
            f"{actor.name} may not {step} on {state.id}: only its owner ({owner}) or a manager may",
        )


def _require_manager(state: CapaState, actor: Actor, step: str) -> None:
    if not actor.is_manager:
        raise Rejection(ErrorKind.NOT_ALLOWED, f"{actor.name} may not {step} ({state.id}): managers only")


def _when(moment: datetime) -> str:
    """A due time as people read it in a refusal: as every page and message shows it."""
    return formatting.moment(moment)


def _invalid(field: str, message: str) -> Rejection:
    return Rejection.invalid(FieldProblem(field, message))


def check_owner_roles(field: str, name: str, roles: list[Role]) -> None:
    """Steps are held by owners, managers and quality; an operator raises and follows but holds nothing."""
    if not ({Role.OWNER, Role.MANAGER, Role.QUALITY, Role.ADMIN} & set(roles)):
        raise _invalid(field, f"{name} is an operator and cannot hold CAPA steps; name an owner or a manager")


# --- who does what -----------------------------------------------------------------------------------------------
#
# Under the current process rules (a record whose pinned policy has ``process``), each step is taken by the people
# this table names; the checks below apply it, and every refusal names the rule that refused. Records raised under
# the earlier rules keep them: a manager verifies, reviews and cancels, and nothing is triaged or approved.


@dataclass(frozen=True)
class Duty:
    """One row of the table of who does what: the step, who takes it, whether it is signed, who may not."""

    step: str
    who: str
    signed: bool
    independence: str = "—"


WHO_DOES_WHAT: tuple[Duty, ...] = (
    Duty("raise", "anyone signed in", False),
    Duty("triage (class, CAPA needed?, reportability)", "quality", True),
    Duty("containment, root cause, plan, plan amendment", "the record's owner, or a manager for them", False),
    Duty("plan approval (where the policy asks)", "quality", True, "not the owner"),
    Duty("complete an action", "its owner, or a manager for them", False),
    Duty(
        "extension decision",
        "a manager of the requester's line or quality; quality only when asked after the due date or beyond the"
        " policy's count",
        True,
        "not the requester",
    ),
    Duty("concession (use-as-is, rework)", "quality", True),
    Duty(
        "verification",
        "a manager or quality",
        True,
        "not the owner, not anyone who implemented an action in any round",
    ),
    Duty(
        "effectiveness review (effective closes the record)",
        "quality",
        True,
        "not the owner, not an implementer, not the verifier where the policy's independent_review is on",
    ),
    Duty("cancellation (with a category)", "quality", True),
    Duty("amendment of a field", "quality", True),
    Duty("reassignment", "a manager or quality", False),
    Duty("link to another record", "the record's owner, a manager or quality", False),
    Duty("comment (@name tells that person)", "anyone signed in, while the record is open", False),
    # Procedure-version pinning.
    Duty("move to the procedure in force (with a reason)", "quality, while the record is open", True),
    # QMS updates that gate closure.
    Duty("record training (who completed a training action's course)", "its owner, or a manager for them", False),
    # Honest pauses.
    Duty("pause request (waiting on supplier or customer, expected date)", "the holder of the step or action", False),
    Duty("pause decision (a decline needs a reason)", "quality", True, "not the requester"),
    Duty("resume a paused clock", "its holder or quality", False),
)


def who_does_what_table() -> str:
    """The table as docs print it (Markdown)."""
    rows = ["| step | who | signed | independence |", "|---|---|---|---|"]
    rows += [f"| {d.step} | {d.who} | {'yes' if d.signed else 'no'} | {d.independence} |" for d in WHO_DOES_WHAT]
    return "\n".join(rows)


def _require_quality(state: CapaState, actor: Actor, step: str) -> None:
    if not actor.is_quality:
        raise Rejection(ErrorKind.NOT_ALLOWED, f"{actor.name} may not {step} on {state.id}: quality only")


def _require_current_rules(state: CapaState, step: str) -> None:
    if state.policy is None:
        raise Rejection(ErrorKind.WRONG_STAGE, f"{state.id} is still being opened; try again in a moment")
    if not state.under_current_rules:
        raise Rejection(
            ErrorKind.WRONG_STAGE,
            f"{state.id} was raised under the earlier rules, which have no {step}",
        )


def _rules_of(state: CapaState) -> PinnedPolicy:
    assert state.policy is not None
    return state.policy


def implemented_by(state: CapaState) -> set[str]:
    """Everyone who owns or completed any action of the record, in any cycle and round."""
    people: set[str] = set()
    for action in state.actions:
        if action.status is ActionStatus.CANCELLED and not action.completed_by:
            continue
        people.add(action.owner)
        if action.completed_by:
            people.add(action.completed_by)
    return people


# Each step's rule comes in two parts: who may take it and when (``_may_*``, which ``available_steps`` also
# asks, so a front-end offers a step only where the workflow would accept it), then what the payload must hold.


def check_raise(policy: PinnedPolicy, step: RaiseStep) -> None:
    """What a new record must hold under its policy's process rules (the client layer asks before starting it)."""
    if policy.process is None:
        return
    problems = []
    codes = policy.process.defect_codes
    if step.defect_code is not None and codes and step.defect_code not in codes:
        problems.append(FieldProblem("defect_code", f"{step.defect_code} is not a defect code: {', '.join(codes)}"))
    if step.source.value == "supplier" and step.supplier is None:
        problems.append(FieldProblem("supplier", "a nonconformity from a supplier names the supplier"))
    if step.source.value == "customer-complaint" and step.customer is None:
        problems.append(FieldProblem("customer", "a customer complaint names the customer"))
    if problems:
        raise Rejection.invalid(*problems)


def _may_triage(state: CapaState, actor: Actor) -> None:
    _require_current_rules(state, "triage")
    if not state.stage.is_open:
        raise _wrong_stage(state, "triage", *(s for s in Stage if s.is_open))
    _require_quality(state, actor, "triage")


def check_triage(state: CapaState, inp: TriageInput) -> None:
    _may_triage(state, inp.actor)
    problems = []
    again = state.triage is not None
    if inp.decision is TriageDecision.CORRECTION_ONLY:
        if state.root_causes or state.stage not in (Stage.CONTAINMENT, Stage.ROOT_CAUSE):
            problems.append(
                FieldProblem("decision", "correction-only is decided before the root cause; this record has one")
            )
        if not inp.rationale:
            problems.append(FieldProblem("rationale", "correction-only needs its signed rationale"))
    elif again and not inp.rationale:
        problems.append(FieldProblem("rationale", f"{state.id} is triaged already; a reclassification needs a reason"))
    if problems:
        raise Rejection.invalid(*problems)


def triaged_class(state: CapaState, inp: TriageStep) -> Severity:
    """The risk class the policy's matrix gives the triage's severity and occurrence."""
    process = _rules_of(state).process
    assert process is not None
    return process.risk_class(inp.severity_level, inp.occurrence_level)


def _may_contain(state: CapaState, actor: Actor) -> None:
    _require_stage(state, "containment", Stage.CONTAINMENT)
    _require_owner_or_manager(state, actor, "submit containment", state.owner)


def check_containment(state: CapaState, inp: ContainmentInput) -> None:
    _may_contain(state, inp.actor)
    shares = inp.shares()
    if not state.under_current_rules:
        if inp.disposition is None:
            raise _invalid("disposition", "name the disposition of the product")
        return
    process = _rules_of(state).process
    assert process is not None
    problems = []
    if inp.disposition is not None and inp.dispositions:
        problems.append(FieldProblem("dispositions", "give one disposition or the split, not both"))
    if inp.no_product_affected:
        if state.source not in process.no_product_sources:
            allowed = ", ".join(s.value for s in process.no_product_sources)
            problems.append(
                FieldProblem(
                    "no_product_affected",
                    f"only findings from {allowed} may record no product affected; this one is from"
                    f" {state.source.value}",
                )
            )
        if shares:
            problems.append(FieldProblem("dispositions", "no product is affected: give no disposition"))
    elif not shares:
        problems.append(FieldProblem("disposition", "name the disposition of the product, or split it across several"))
    total = sum(share.quantity for share in shares)
    if state.quantity is not None and len(shares) > 1 and total > state.quantity:
        problems.append(FieldProblem("dispositions", f"the split covers {total} pieces; {state.quantity} are affected"))
    if inp.shipped and inp.customers_told is None:
        problems.append(FieldProblem("customers_told", "product has shipped: say whether customers were told"))
    if problems:
        raise Rejection.invalid(*problems)


def _may_concede(state: CapaState, actor: Actor) -> None:
    _require_current_rules(state, "concession")
    if not state.stage.is_open:
        raise _wrong_stage(state, "a concession", *(s for s in Stage if s.is_open))
    containment = state.containment
    if containment is None or not containment.needs_concession:
        raise Rejection(ErrorKind.WRONG_STAGE, f"{state.id} uses no product as is or reworked: no concession needed")
    if containment.concession is not None:
        raise Rejection(ErrorKind.WRONG_STAGE, f"the concession of {state.id} is granted already")
    _require_quality(state, actor, "grant a concession")


def check_concession(state: CapaState, inp: ConcessionInput) -> None:
    _may_concede(state, inp.actor)
    if _rules_of(state).rules.customer_concession and not inp.customer_approval:
        raise _invalid(
            "customer_approval", f"the policy asks for the customer's approval of a {state.severity.value} concession"
        )


def _may_root_cause(state: CapaState, actor: Actor) -> None:
    _require_stage(state, "root cause", Stage.ROOT_CAUSE)
    _require_owner_or_manager(state, actor, "submit the root cause", state.owner)
    if state.under_current_rules and (state.triage is None or state.triage.decision is not TriageDecision.CAPA):
        raise Rejection(
            ErrorKind.WRONG_STAGE,
            f"the root cause of {state.id} waits for quality's triage to decide a CAPA is needed",
        )


def check_root_cause(state: CapaState, inp: RootCauseInput) -> None:
    _may_root_cause(state, inp.actor)
    if not state.under_current_rules:
        if inp.method.value == "five-whys" and not inp.whys:
            raise _invalid("whys", "the five-whys method needs the why-chain: at least one why")
        return
    rules = _rules_of(state).rules
    problems = []
    if inp.method is RootCauseMethod.EIGHT_D:
        problems.append(
            FieldProblem(
                "method",
                "8d is a problem-solving framework, not a method: five-whys, fishbone, fault-tree, is-is-not or other",
            )
        )
    if inp.method is RootCauseMethod.FIVE_WHYS and len(inp.whys) < rules.min_whys:
        problems.append(
            FieldProblem("whys", f"a {state.severity.value} five-whys analysis needs at least {rules.min_whys} whys")
        )
    if inp.category is None:
        problems.append(FieldProblem("category", "name the cause's 6M category"))
    if rules.escape_required:
        wanted = (
            ("escape_point", "where it should have been caught"),
            ("non_detection_cause", "why it was not caught there"),
        )
        for field, what in wanted:
            if not getattr(inp, field):
                problems.append(FieldProblem(field, f"a {state.severity.value} root cause names {what}"))
    if not inp.similar_checked:
        problems.append(
            FieldProblem("similar_checked", "say how similar nonconformities were searched for and what was found")
        )
    if state.id in (inp.similar or []):
        problems.append(FieldProblem("similar", f"{state.id} is not similar to itself"))
    if problems:
        raise Rejection.invalid(*problems)


def _may_plan(state: CapaState, actor: Actor) -> None:
    _require_stage(state, "an action plan", Stage.ACTION)
    _require_owner_or_manager(state, actor, "submit the action plan", state.owner)
    if not state.awaiting_plan:
        raise Rejection(
            ErrorKind.WRONG_STAGE,
            f"{state.id} already has an action plan for this round; complete its actions",
        )


# No deadline is set further ahead than this: a date decades away is a typing error, and one near the end of the
# calendar would leave no room for its escalations.
_YEARS = 10
FURTHEST_DUE = timedelta(days=round(365.25 * _YEARS))


def _due_problems(state: CapaState, actions: Sequence[PlannedAction], now: datetime, field: str) -> list[FieldProblem]:
    """Each planned due time in the future, within ten years and, under the current rules, within the policy's
    latest due for the record's class unless a reason asks quality to approve a later one."""
    latest_window = _rules_of(state).rules.latest_action_due if state.under_current_rules else None
    # working-day calendars: a ``wd``/``wh`` latest due counts working time under the record's calendar.
    latest = window_end(state.calendar, now, latest_window) if latest_window is not None else None
    problems = []
    for index, action in enumerate(actions):
        at = path(field, index, "due_at")
        if action.due_at <= now:
            problems.append(FieldProblem(at, f"{_when(action.due_at)} is not in the future"))
        elif action.due_at > now + FURTHEST_DUE:
            problems.append(FieldProblem(at, f"{_when(action.due_at)} is more than {_YEARS} years ahead"))
        elif latest is not None and action.due_at > latest and not action.late_due_reason:
            problems.append(
                FieldProblem(
                    at,
                    f"{_when(action.due_at)} is after the latest due a {state.severity.value} record allows"
                    f" ({_when(latest)}); say why it is due so late (the late due reason), for quality's"
                    " approval",
                )
            )
    return problems


def _criteria_problems(criteria: Sequence[Criterion], field: str) -> list[FieldProblem]:
    return [
        FieldProblem(path(field, index), "give the criterion's window: days, lots or units")
        for index, criterion in enumerate(criteria)
        if criterion.window_days is None and criterion.window_lots is None and criterion.window_units is None
    ]


def check_plan(state: CapaState, inp: PlanInput, now: datetime | None) -> None:
    """``now`` None skips the checks against the clock: a workflow's handler re-checks a step its validator
    accepted, and on a replay its clock may differ from the one the validator saw."""
    _may_plan(state, inp.actor)
    problems = _criteria_problems(inp.criteria or [], "criteria")
    problems += qms_plan_problems(inp)  # QMS updates that gate closure
    if now is not None:
        problems += _due_problems(state, inp.actions, now, "actions")
    if problems:
        raise Rejection.invalid(*problems)


def plan_needs_approval(state: CapaState, actions: Sequence[PlannedAction]) -> bool:
    """Quality approves a plan where the policy asks, and any plan or amendment with a late due date."""
    if not state.under_current_rules:
        return False
    return _rules_of(state).rules.plan_approval or any(a.late_due_reason for a in actions)


def _may_amend_plan(state: CapaState, actor: Actor) -> None:
    _require_current_rules(state, "plan amendment")
    _require_stage(state, "a plan amendment", Stage.ACTION, Stage.VERIFICATION)
    if state.awaiting_plan:
        raise Rejection(ErrorKind.WRONG_STAGE, f"{state.id} has no plan to amend yet; submit one")
    if state.pending_plan is not None:
        raise Rejection(
            ErrorKind.WRONG_STAGE, f"the {state.pending_plan.what} of {state.id} awaits quality's approval first"
        )
    _require_owner_or_manager(state, actor, "amend the plan", state.owner)


def check_plan_amendment(state: CapaState, inp: PlanAmendmentInput, now: datetime | None) -> None:
    _may_amend_plan(state, inp.actor)
    if not inp.add and not inp.rescope:
        raise _invalid("add", "add an action or re-scope one")
    problems = []
    open_ids = {a.id for a in state.current_actions() if a.status is ActionStatus.OPEN}
    for index, rescope in enumerate(inp.rescope):
        if rescope.action_id not in open_ids:
            problems.append(
                FieldProblem(path("rescope", index, "action_id"), f"{rescope.action_id} is no open action of this plan")
            )
    if now is not None:
        problems += _due_problems(state, inp.add, now, "add")
    if problems:
        raise Rejection.invalid(*problems)


def _may_decide_plan(state: CapaState, actor: Actor) -> None:
    _require_current_rules(state, "plan approval")
    if state.pending_plan is None:
        raise Rejection(ErrorKind.WRONG_STAGE, f"{state.id} has no plan awaiting approval")
    _require_quality(state, actor, "approve the plan")
    if actor.name == state.owner:
        raise Rejection(
            ErrorKind.NOT_ALLOWED, f"{actor.name} owns {state.id} and may not approve its plan (independence)"
        )


def check_plan_decision(state: CapaState, inp: PlanDecisionInput) -> None:
    _may_decide_plan(state, inp.actor)
    if not inp.approve and not inp.reason:
        raise _invalid("reason", "a returned plan needs a reason")


def _may_complete_action(state: CapaState, actor: Actor, action_id: str) -> None:
    _require_stage(state, "completing an action", Stage.ACTION)
    action = state.action(action_id)
    if action is None:
        raise Rejection.of_field(ErrorKind.NOT_FOUND, "action_id", f"{state.id} has no action {action_id}")
    if action.status is not ActionStatus.OPEN:
        raise Rejection(ErrorKind.WRONG_STAGE, f"action {action.id} is already {action.status.value}")
    _require_owner_or_manager(state, actor, f"complete action {action.id}", action.owner)


def check_complete_action(state: CapaState, inp: CompleteActionInput) -> None:
    _may_complete_action(state, inp.actor, inp.action_id)
    qms_check_completion(state, inp)  # QMS updates that gate closure


def implementers(state: CapaState) -> set[str]:
    """The people who own or completed the actions now awaiting verification."""
    people: set[str] = set()
    for action in state.current_actions():
        people.add(action.owner)
        if action.completed_by:
            people.add(action.completed_by)
    return people


def _may_verify(state: CapaState, actor: Actor) -> None:
    _require_stage(state, "verification", Stage.VERIFICATION)
    if not state.under_current_rules:
        _require_manager(state, actor, "verify")
        if actor.name in implementers(state):
            raise Rejection(
                ErrorKind.NOT_ALLOWED,
                f"{actor.name} may not verify {state.id}: a verifier must not have implemented its actions",
            )
        return
    if not (actor.is_manager or actor.is_quality):
        raise Rejection(ErrorKind.NOT_ALLOWED, f"{actor.name} may not verify {state.id}: managers and quality only")
    if actor.name == state.owner:
        raise Rejection(ErrorKind.NOT_ALLOWED, f"{actor.name} owns {state.id} and may not verify it (independence)")
    if actor.name in implemented_by(state):
        raise Rejection(
            ErrorKind.NOT_ALLOWED,
            f"{actor.name} may not verify {state.id}: they implemented one of its actions (independence)",
        )
    if state.pending_plan is not None:
        raise Rejection(
            ErrorKind.WRONG_STAGE, f"the {state.pending_plan.what} of {state.id} awaits quality's approval first"
        )
    containment = state.containment
    if containment is not None and containment.needs_concession and containment.concession is None:
        raise Rejection(
            ErrorKind.WRONG_STAGE,
            f"{state.id} uses product as is or reworked: quality's concession comes before verification",
        )


def check_verify(state: CapaState, inp: VerifyInput) -> None:
    _may_verify(state, inp.actor)
    if inp.result is VerificationResult.PASS:
        qms_check_verify(state)  # QMS updates that gate closure
    if not state.under_current_rules or inp.result is not VerificationResult.PASS:
        return
    problems = _criteria_problems(inp.criteria or [], "criteria")
    if state.criteria and inp.criteria:
        problems.append(FieldProblem("criteria", "the plan set the effectiveness criteria already"))
    if not state.criteria and not inp.criteria:
        problems.append(FieldProblem("criteria", "set the effectiveness criteria the review will judge"))
    if _rules_of(state).rules.adverse_effect_check:
        if inp.no_adverse_effect is not True:
            problems.append(
                FieldProblem("no_adverse_effect", "confirm the actions cause no adverse effect on meeting requirements")
            )
        if not inp.adverse_effect_evidence:
            problems.append(FieldProblem("adverse_effect_evidence", "give the evidence of no adverse effect"))
    if problems:
        raise Rejection.invalid(*problems)


def verifier(state: CapaState) -> str | None:
    """Who passed the verification of the current cycle."""
    passed = [v for v in state.verifications if v.result is VerificationResult.PASS]
    return passed[-1].by if passed else None


def _may_review(state: CapaState, actor: Actor) -> None:
    _require_stage(state, "the effectiveness review", Stage.EFFECTIVENESS)
    if not state.under_current_rules:
        _require_manager(state, actor, "review effectiveness")
    else:
        _require_quality(state, actor, "review effectiveness")
        if actor.name == state.owner:
            raise Rejection(ErrorKind.NOT_ALLOWED, f"{actor.name} owns {state.id} and may not review it (independence)")
        if actor.name in implemented_by(state):
            raise Rejection(
                ErrorKind.NOT_ALLOWED,
                f"{actor.name} implemented an action of {state.id} and may not review it (independence)",
            )
        if _rules_of(state).rules.independent_review and actor.name == verifier(state):
            raise Rejection(
                ErrorKind.NOT_ALLOWED,
                f"{actor.name} verified {state.id}; the policy's independent_review asks another reviewer",
            )
    if state.clock is None:
        due = state.effectiveness_due_at
        when = _when(due) if due else "later"
        raise Rejection(
            ErrorKind.WRONG_STAGE,
            f"the effectiveness review of {state.id} falls due at {when}; it cannot be reviewed before",
        )


def check_review(state: CapaState, inp: ReviewInput) -> None:
    _may_review(state, inp.actor)
    if not state.under_current_rules:
        if inp.result is EffectivenessResult.INCONCLUSIVE:
            raise _invalid("result", "the earlier rules know effective or not-effective only")
        return
    problems = []
    results = inp.criteria_results or []
    judged = [r.criterion for r in results]
    wanted = list(range(1, len(state.criteria) + 1))
    if sorted(judged) != wanted:
        problems.append(
            FieldProblem(
                "criteria_results", f"judge each of the {len(wanted)} criteria once, numbered 1 to {len(wanted)}"
            )
        )
    unmet = [r.criterion for r in results if not r.met]
    if inp.result is EffectivenessResult.EFFECTIVE and unmet:
        problems.append(
            FieldProblem("result", f"criterion {unmet[0]} was not met; effective needs every criterion met")
        )
    if inp.result is EffectivenessResult.INCONCLUSIVE and state.window_extended:
        problems.append(FieldProblem("result", "the window was extended once already; decide effective or not"))
    if problems:
        raise Rejection.invalid(*problems)


def _extension_clock(state: CapaState, action_id: str | None) -> Clock:
    clock = state.clock_for(action_id)
    if clock is None and action_id is None:
        raise Rejection.of_field(
            ErrorKind.NOT_FOUND,
            "action_id",
            f"{state.id} is in stage {state.stage.value}, whose deadlines are its actions': name the action",
        )
    if clock is None:
        raise Rejection.of_field(
            ErrorKind.NOT_FOUND, "action_id", f"action {action_id} of {state.id} has no running deadline"
        )
    return clock


def _may_request_extension(state: CapaState, actor: Actor, action_id: str | None) -> Clock:
    """The running deadline ``actor`` may ask to move: the stage's (``action_id`` None) or an action's."""
    if not state.stage.is_open:
        raise _wrong_stage(state, "an extension", *(s for s in Stage if s.is_open))
    clock = _extension_clock(state, action_id)
    if actor.name != clock.holder:
        raise Rejection(
            ErrorKind.NOT_ALLOWED,
            f"{actor.name} may not request an extension: only the step's holder ({clock.holder}) may",
        )
    if not state.under_current_rules:
        if state.pending_extension is not None:
            raise Rejection(ErrorKind.WRONG_STAGE, f"{state.id} already has an extension request awaiting a decision")
        return clock
    target = action_id or state.stage.value
    if state.pending_request(action_id) is not None:
        raise Rejection(ErrorKind.WRONG_STAGE, f"{target} of {state.id} already has an extension request pending")
    most = _rules_of(state).rules.max_extensions
    if clock.extensions >= most:
        raise Rejection(
            ErrorKind.NOT_ALLOWED,
            f"{target} of {state.id} has had {clock.extensions} extensions, the policy's most for a"
            f" {state.severity.value} record",
        )
    return clock


def check_extension_request(state: CapaState, inp: ExtensionRequestInput, now: datetime | None = None) -> None:
    clock = _may_request_extension(state, inp.actor, inp.action_id)
    if inp.until <= clock.due_at:
        raise _invalid("until", f"{_when(inp.until)} is not later than the current due {_when(clock.due_at)}")
    if now is not None and inp.until <= now:
        raise _invalid("until", f"{_when(inp.until)} has already passed")
    if now is not None and inp.until > now + FURTHEST_DUE:
        raise _invalid("until", f"{_when(inp.until)} is more than {_YEARS} years ahead")


def _may_decide_extension(state: CapaState, actor: Actor, action_id: str | None = None) -> None:
    if not state.under_current_rules:
        request = state.pending_extension
        if request is None:
            raise Rejection(ErrorKind.WRONG_STAGE, f"{state.id} has no extension request awaiting a decision")
        _require_manager(state, actor, "decide an extension")
    else:
        found = state.pending_request(action_id)
        if found is None:
            target = f"action {action_id}" if action_id else f"the {state.stage.value.replace('_', ' ')} step"
            pending = [r.action_id for r in state.pending_extensions if r.action_id is not None]
            hint = f"; pending: {', '.join(pending)} (name the action)" if pending else ""
            raise Rejection.of_field(
                ErrorKind.WRONG_STAGE,
                "action_id",
                f"{target} of {state.id} has no extension request to decide{hint}",
            )
        request = found
        if not actor.is_quality:
            by_line = _rules_of(state).rules.extensions_by_line
            if request.late:
                raise Rejection(
                    ErrorKind.NOT_ALLOWED, f"{actor.name} may not decide it: asked after the due time, quality decides"
                )
            if request.number > by_line:
                raise Rejection(
                    ErrorKind.NOT_ALLOWED,
                    f"{actor.name} may not decide it: extension {request.number} of the step is beyond the policy's"
                    f" {by_line} a manager may approve; quality decides",
                )
            if not actor.is_manager or (request.line and actor.name not in request.line):
                raise Rejection(
                    ErrorKind.NOT_ALLOWED,
                    f"{actor.name} may not decide it: a manager of {request.requested_by}'s line or quality decides",
                )
    if actor.name == request.requested_by:
        raise Rejection(
            ErrorKind.NOT_ALLOWED,
            f"{actor.name} may not decide their own extension request; another manager must",
        )


def check_extension_decision(state: CapaState, inp: ExtensionDecisionInput, now: datetime | None = None) -> None:
    _may_decide_extension(state, inp.actor, inp.action_id)
    if not inp.approve and not inp.reason:
        raise _invalid("reason", "a rejected extension needs a reason")
    request = state.pending_extension if not state.under_current_rules else state.pending_request(inp.action_id)
    if inp.approve and now is not None and request is not None and request.until <= now:
        raise _invalid(
            "approve", f"the requested due {_when(request.until)} has already passed; reject it and ask for a new one"
        )


def _may_reassign(state: CapaState, actor: Actor, action_id: str | None) -> str:
    """Who holds what ``actor`` may hand to someone else: the record (``action_id`` None) or an open action."""
    if not state.stage.is_open:
        raise _wrong_stage(state, "reassignment", *(s for s in Stage if s.is_open))
    if not (actor.is_manager or (state.under_current_rules and actor.is_quality)):
        raise Rejection(ErrorKind.NOT_ALLOWED, f"{actor.name} may not reassign ({state.id}): managers and quality only")
    if action_id is None:
        return state.owner
    action = state.action(action_id)
    if action is None:
        raise Rejection.of_field(ErrorKind.NOT_FOUND, "action_id", f"{state.id} has no action {action_id}")
    if action.status is not ActionStatus.OPEN:
        raise Rejection(ErrorKind.WRONG_STAGE, f"action {action.id} is already {action.status.value}")
    return action.owner


def check_reassign(state: CapaState, inp: ReassignInput) -> None:
    current = _may_reassign(state, inp.actor, inp.action_id)
    if inp.new_owner == current:
        raise _invalid("new_owner", f"{current} already holds it")


def _may_cancel(state: CapaState, actor: Actor) -> None:
    if not state.stage.is_open:
        raise _wrong_stage(state, "cancellation", *(s for s in Stage if s.is_open))
    if not state.under_current_rules:
        _require_manager(state, actor, "cancel")
        return
    _require_quality(state, actor, "cancel")
    if state.stage is Stage.EFFECTIVENESS:
        raise Rejection(
            ErrorKind.WRONG_STAGE,
            f"{state.id} passed verification; its effectiveness is reviewed, it is not cancelled",
        )


def check_cancel(state: CapaState, inp: CancelInput) -> None:
    _may_cancel(state, inp.actor)
    if not state.under_current_rules:
        return
    if inp.category is None:
        raise _invalid("category", "name the category: " + ", ".join(c.value for c in CancelCategory))
    if inp.category is CancelCategory.DUPLICATE and inp.duplicate_of is None:
        raise _invalid("duplicate_of", "a duplicate names the record it duplicates")
    if inp.duplicate_of == state.id:
        raise _invalid("duplicate_of", f"{state.id} cannot duplicate itself")


def _may_amend(state: CapaState, actor: Actor) -> None:
    """Quality corrects a record in any stage, closed ones included (``client.steps`` appends those)."""
    _require_current_rules(state, "amendment")
    _require_quality(state, actor, "amend")


# What a field may hold after an amendment: its limit and whether it may be cleared.
_AMENDABLE: dict[str, tuple[int, bool]] = {
    "title": (200, False),
    "description": (4000, False),
    "product": (200, True),
    "lot": (200, True),
    "quantity": (10, True),
    "defect_code": (200, True),
    "supplier": (200, True),
    "customer": (200, True),
}


def amended_value(state: CapaState, inp: AmendStep) -> str | int | None:
    """The new value of the amended field, typed as the record keeps it."""
    if inp.field.value == "quantity" and inp.value is not None:
        return int(inp.value)
    return inp.value


def check_amend(state: CapaState, inp: AmendInput) -> None:
    _may_amend(state, inp.actor)
    field = inp.field.value
    most, clearable = _AMENDABLE[field]
    if inp.value is None:
        if not clearable:
            raise _invalid("value", f"the {field} cannot be empty")
    elif len(inp.value) > most:
        raise _invalid("value", f"the {field} holds at most {most} characters")
    elif field == "quantity" and not (inp.value.isdigit() and int(inp.value) <= 1_000_000_000):
        raise _invalid("value", "a quantity is a whole number of pieces")
    elif field == "defect_code":
        codes = _rules_of(state).process.defect_codes  # type: ignore[union-attr]
        if codes and inp.value not in codes:
            raise _invalid("value", f"{inp.value} is not a defect code: {', '.join(codes)}")
    if amended_value(state, inp) == getattr(state, field):
        raise _invalid("value", f"the {field} is that already")


def _may_link(state: CapaState, actor: Actor) -> None:
    _require_current_rules(state, "links")
    if not state.stage.is_open:
        raise _wrong_stage(state, "a link", *(s for s in Stage if s.is_open))
    if not (actor.name == state.owner or actor.is_manager or actor.is_quality):
        raise Rejection(
            ErrorKind.NOT_ALLOWED, f"{actor.name} may not link {state.id}: its owner, a manager or quality may"
        )


def check_link(state: CapaState, inp: LinkInput) -> None:
    _may_link(state, inp.actor)
    if inp.record_id == state.id:
        raise _invalid("record_id", f"{state.id} cannot be linked to itself")
    if any(link.record_id == inp.record_id and link.kind is inp.kind for link in state.links):
        raise _invalid("record_id", f"{state.id} is {inp.kind.value} {inp.record_id} already")


def _may_attach_file(state: CapaState, actor: Actor) -> None:
    """Anyone signed in may add evidence to an open record: every signed-in person sees every record."""
    if state.policy is None:
        raise Rejection(ErrorKind.WRONG_STAGE, f"{state.id} is still being opened; try again in a moment")
    if not state.stage.is_open:
        raise _wrong_stage(state, "attaching a file", *(s for s in Stage if s.is_open))


def check_attach_file(state: CapaState, inp: AttachFileInput) -> None:
    _may_attach_file(state, inp.actor)
    if inp.to not in FILE_STEPS and state.action(inp.to) is None:
        raise Rejection.of_field(
            ErrorKind.NOT_FOUND,
            "to",
            f"{state.id} has no action {inp.to}; attach to {', '.join(FILE_STEPS)} or an action of the record",
        )
    if attached(state, inp.sha256, inp.to) is not None:
        raise Rejection.of_field(
            ErrorKind.WRONG_STAGE, "sha256", f"{inp.name} is already attached to {inp.to} of {state.id}"
        )


def attached(state: CapaState, sha256: str, to: str) -> FileRef | None:
    """The file with this content already attached to ``to``, if any: attaching it again changes nothing."""
    return next((f for f in state.files if f.sha256 == sha256 and f.to == to), None)


def current_file_target(state: CapaState) -> str | None:
    """The step a file goes to when none is named: the record's stage's step, or in stage action its one open
    action (None when it has several or none, or the record has ended)."""
    if state.stage is Stage.ACTION:
        open_actions = [a.id for a in state.current_actions() if a.status is ActionStatus.OPEN]
        return open_actions[0] if len(open_actions) == 1 else None
    by_stage = {
        Stage.CONTAINMENT: "containment",
        Stage.ROOT_CAUSE: "root_cause",
        Stage.VERIFICATION: "verification",
        Stage.EFFECTIVENESS: "review",
    }
    return by_stage.get(state.stage)


# A mention in a comment: ``@`` and a name as the directory spells names, not inside a word (an e-mail address).
_MENTION = re.compile(r"(?<![A-Za-z0-9._@-])@([A-Za-z0-9._-]{1,64})")


def mentioned(text: str) -> list[str]:
    """The names ``text`` mentions (``@olivia``), each once, in order; a trailing full stop is not part of one."""
    return list(dict.fromkeys(name.rstrip(".") for name in _MENTION.findall(text) if name.rstrip(".")))


def _may_comment(state: CapaState, actor: Actor) -> None:
    """Anyone signed in may comment on an open record; a closed or cancelled one takes only quality's signed
    amendments, so its timeline stays what it was when it ended."""
    if state.policy is None:
        raise Rejection(ErrorKind.WRONG_STAGE, f"{state.id} is still being opened; try again in a moment")
    if not state.stage.is_open:
        raise Rejection(
            ErrorKind.WRONG_STAGE,
            f"{state.id} is {state.stage.value}: it takes no comments, only quality's signed amendments",
        )


def check_comment(state: CapaState, inp: CommentInput) -> None:
    _may_comment(state, inp.actor)
    named = {name.casefold() for name in mentioned(inp.text)}
    if {name.casefold() for name in inp.mentions or []} - named:
        raise _invalid("mentions", "a comment mentions only the people its text names with @")


# --- what a front-end offers ----------------------------------------------------------------------------------


class Step(StrEnum):
    """The steps a person takes on a record, named as front-ends name them (``capa contain``, /contain)."""

    CONTAIN = "contain"
    ROOT_CAUSE = "root-cause"
    PLAN = "plan"
    COMPLETE_ACTION = "complete-action"
    VERIFY = "verify"
    REVIEW = "review"
    REQUEST_EXTENSION = "request-extension"
    DECIDE_EXTENSION = "decide-extension"
    REASSIGN = "reassign"
    CANCEL = "cancel"
    ATTACH_FILE = "attach-file"
    TRIAGE = "triage"
    AMEND_PLAN = "amend-plan"
    DECIDE_PLAN = "decide-plan"
    CONCEDE = "concede"
    AMEND = "amend"
    LINK = "link"
    COMMENT = "comment"
    # Procedure-version pinning.
    MOVE_PROCEDURE = "move-procedure"
    RECORD_TRAINING = "record-training"  # QMS updates that gate closure
    # Honest pauses.
    REQUEST_PAUSE = "request-pause"
    DECIDE_PAUSE = "decide-pause"
    RESUME = "resume"


class StepModels(NamedTuple):
    """A step's two models: what a person submits (every front end fills it in) and its update's input, the same
    fields with the actor, who is always the caller."""

    submitted: type[Payload]
    input: type[StepInput]


STEP_MODELS: dict[Step, StepModels] = {
    Step.CONTAIN: StepModels(ContainmentStep, ContainmentInput),
    Step.ROOT_CAUSE: StepModels(RootCauseStep, RootCauseInput),
    Step.PLAN: StepModels(PlanStep, PlanInput),
    Step.COMPLETE_ACTION: StepModels(CompleteActionStep, CompleteActionInput),
    Step.VERIFY: StepModels(VerifyStep, VerifyInput),
    Step.REVIEW: StepModels(ReviewStep, ReviewInput),
    Step.REQUEST_EXTENSION: StepModels(ExtensionRequestStep, ExtensionRequestInput),
    Step.DECIDE_EXTENSION: StepModels(ExtensionDecisionStep, ExtensionDecisionInput),
    Step.REASSIGN: StepModels(ReassignStep, ReassignInput),
    Step.CANCEL: StepModels(CancelStep, CancelInput),
    Step.ATTACH_FILE: StepModels(AttachFileStep, AttachFileInput),
    Step.TRIAGE: StepModels(TriageStep, TriageInput),
    Step.AMEND_PLAN: StepModels(PlanAmendmentStep, PlanAmendmentInput),
    Step.DECIDE_PLAN: StepModels(PlanDecisionStep, PlanDecisionInput),
    Step.CONCEDE: StepModels(ConcessionStep, ConcessionInput),
    Step.AMEND: StepModels(AmendStep, AmendInput),
    Step.LINK: StepModels(LinkStep, LinkInput),
    Step.COMMENT: StepModels(CommentStep, CommentInput),
    # Procedure-version pinning.
    Step.MOVE_PROCEDURE: StepModels(MoveProcedureStep, MoveProcedureInput),
    Step.RECORD_TRAINING: StepModels(RecordTrainingStep, RecordTrainingInput),  # QMS updates that gate closure
    # Honest pauses.
    Step.REQUEST_PAUSE: StepModels(PauseRequestStep, PauseRequestInput),
    Step.DECIDE_PAUSE: StepModels(PauseDecisionStep, PauseDecisionInput),
    Step.RESUME: StepModels(ResumeStep, ResumeInput),
}


# --- signed steps ----------------------------------------------------------------------------------------------
#
# These steps are signed (21 CFR Part 11: 11.50, 11.70, 11.200): the person taking one re-enters their password and
# the record keeps their signature, which states what it means. The meaning follows from what the step submits.

SIGNED_STEPS = frozenset(
    {
        Step.VERIFY,
        Step.REVIEW,
        Step.CANCEL,
        Step.DECIDE_EXTENSION,
        Step.TRIAGE,
        Step.DECIDE_PLAN,
        Step.CONCEDE,
        Step.AMEND,
        # Procedure-version pinning.
        Step.MOVE_PROCEDURE,
        Step.DECIDE_PAUSE,  # honest pauses
    }
)

MEANINGS: dict[tuple[Step, str], str] = {
    (Step.VERIFY, VerificationResult.PASS.value): "verified: actions implemented",
    (Step.VERIFY, VerificationResult.FAIL.value): "verification failed: actions not implemented as planned",
    (Step.REVIEW, EffectivenessResult.EFFECTIVE.value): "approved: effective, record closed",
    (Step.REVIEW, EffectivenessResult.NOT_EFFECTIVE.value): "reviewed: not effective, root cause reopened",
    (Step.REVIEW, EffectivenessResult.INCONCLUSIVE.value): "reviewed: inconclusive, window extended once",
    (Step.TRIAGE, TriageDecision.CAPA.value): "approved: triaged, CAPA required",
    (Step.TRIAGE, TriageDecision.CORRECTION_ONLY.value): "approved: triaged, correction only",
    (Step.DECIDE_PLAN, "approve"): "approved: action plan",
    (Step.DECIDE_PLAN, "reject"): "rejected: action plan returned",
    (Step.CONCEDE, "concede"): "approved: concession granted",
    (Step.AMEND, "amend"): "approved: record corrected",
    (Step.CANCEL, "cancel"): "approved: record cancelled",
    (Step.DECIDE_EXTENSION, "approve"): "approved: extension granted",
    (Step.DECIDE_EXTENSION, "reject"): "rejected: extension refused",
    # Procedure-version pinning.
    (Step.MOVE_PROCEDURE, "move"): "approved: record moved to the procedure in force",
    # Honest pauses.
    (Step.DECIDE_PAUSE, "approve"): "approved: clock paused",
    (Step.DECIDE_PAUSE, "reject"): "declined: pause refused",
}


def _outcome(submitted: Payload) -> str:
    """What a signed step decides, as ``MEANINGS`` keys it."""
    if isinstance(submitted, VerifyStep | ReviewStep):
        return submitted.result.value
    if isinstance(submitted, ExtensionDecisionStep | PlanDecisionStep | PauseDecisionStep):
        return "approve" if submitted.approve else "reject"
    if isinstance(submitted, TriageStep):
        return submitted.decision.value
    if isinstance(submitted, ConcessionStep):
        return "concede"
    if isinstance(submitted, AmendStep):
        return "amend"
    if isinstance(submitted, MoveProcedureStep):  # procedure-version pinning
        return "move"
    return "cancel"


def signature_meaning(step: Step, submitted: Payload) -> str | None:
    """What signing ``submitted`` (a step's fields or its input) means; None for a step that is not signed."""
    if step not in SIGNED_STEPS:
        return None
    return MEANINGS[(step, _outcome(submitted))]


def check_signature(record_id: str, step: Step, inp: SignedInput) -> None:
    """A signed step carries the signature of the person taking it, with the meaning of what it submits, made on
    exactly this content of this record."""
    sig = inp.signature
    actor = inp.actor.name
    if sig is None:
        raise Rejection.of_field(
            ErrorKind.NOT_ALLOWED,
            "signature",
            f"{step.value} is a signed step: {actor} signs it by re-entering their password",
        )
    if sig.signer != actor:
        raise Rejection.of_field(
            ErrorKind.NOT_ALLOWED,
            "signature.signer",
            f"signed by {sig.signer}; only the person taking the step ({actor}) may sign it",
        )
    meaning = signature_meaning(step, inp)
    if sig.meaning != meaning:
        raise _invalid("signature.meaning", f"this step is signed as “{meaning}”, not “{sig.meaning}”")
    if not signatures.matches(record_id, step.value, inp, sig):
        raise _invalid("signature.content_sha256", f"the signature was not made on this step of {record_id}")


def step_submitting(model: type[Payload]) -> Step:
    """The step whose submitted model ``model`` is (or extends, as the HTTP API's request bodies do)."""
    for step, models in STEP_MODELS.items():
        if issubclass(model, models.submitted):
            return step
    raise KeyError(f"{model.__name__} is no step's model")


@dataclass(frozen=True)
class Offer:
    """What ``actor`` may do on a record now: the steps, and for the per-deadline ones, which deadlines.

    ``extendable`` and ``reassignable`` hold None for the record's own step and action ids for actions.
    """

    steps: frozenset[Step]
    completable: tuple[str, ...] = ()
    extendable: tuple[str | None, ...] = ()
    reassignable: tuple[str | None, ...] = ()
    # The extension requests ``actor`` may decide (None: the stage's own step's; else an action id).
    decidable: tuple[str | None, ...] = ()
    # Whether files may be attached (to any step or action): apart from ``steps``, since everyone signed in may.
    attach: bool = False
    # Whether ``actor`` may comment: apart from ``steps`` too, for the same reason.
    comment: bool = False
    # The training actions whose completions ``actor`` may record (QMS updates that gate closure).
    trainable: tuple[str, ...] = ()
    # Honest pauses: the clocks ``actor`` may ask to pause, the pause requests they may decide, the paused clocks
    # they may resume (None: the stage's own step's; else an action id).
    pausable: tuple[str | None, ...] = ()
    pause_decidable: tuple[str | None, ...] = ()
    resumable: tuple[str | None, ...] = ()


def _passes(check: Callable[[CapaState, Actor], object], state: CapaState, actor: Actor) -> bool:
    try:
        check(state, actor)
    except Rejection:
        return False
    return True


def _passing(
    check: Callable[[CapaState, Actor, TargetT], object], state: CapaState, actor: Actor, targets: Sequence[TargetT]
) -> tuple[TargetT, ...]:
    """The ``targets`` (None: the record's own step; else an action id) for which ``check`` passes."""
    passing: list[TargetT] = []
    for target in targets:
        try:
            check(state, actor, target)
        except Rejection:
            continue
        passing.append(target)
    return tuple(passing)


def available_steps(state: CapaState, actor: Actor) -> Offer:
    """The steps the workflow would accept from ``actor`` now, given a valid payload; the same rules it applies."""
    open_actions = [a.id for a in state.actions if a.status is ActionStatus.OPEN]
    deadlines: list[str | None] = [None, *open_actions]
    completable = _passing(_may_complete_action, state, actor, open_actions)
    extendable = _passing(_may_request_extension, state, actor, deadlines)
    reassignable = _passing(_may_reassign, state, actor, deadlines)
    decidable = _passing(_may_decide_extension, state, actor, deadlines)
    whole_record = {
        Step.CONTAIN: _may_contain,
        Step.ROOT_CAUSE: _may_root_cause,
        Step.PLAN: _may_plan,
        Step.VERIFY: _may_verify,
        Step.REVIEW: _may_review,
        Step.CANCEL: _may_cancel,
        Step.TRIAGE: _may_triage,
        Step.AMEND_PLAN: _may_amend_plan,
        Step.DECIDE_PLAN: _may_decide_plan,
        Step.CONCEDE: _may_concede,
        Step.AMEND: _may_amend,
        Step.LINK: _may_link,
        Step.MOVE_PROCEDURE: _may_move_procedure,  # procedure-version pinning
    }
    steps = {step for step, check in whole_record.items() if _passes(check, state, actor)}
    for step, targets in (
        (Step.COMPLETE_ACTION, completable),
        (Step.REQUEST_EXTENSION, extendable),
        (Step.REASSIGN, reassignable),
        (Step.DECIDE_EXTENSION, decidable),
    ):
        if targets:
            steps.add(step)
    attach = _passes(_may_attach_file, state, actor)
    comment = _passes(_may_comment, state, actor)
    training = [a.id for a in state.actions if a.kind is ActionKind.TRAINING]
    trainable = _passing(_may_record_training, state, actor, training)
    if trainable:
        steps.add(Step.RECORD_TRAINING)
    # Honest pauses.
    pausable = _passing(_may_request_pause, state, actor, deadlines)
    pause_decidable = _passing(_may_decide_pause, state, actor, deadlines)
    resumable = _passing(_may_resume, state, actor, deadlines)
    for step, targets in (
        (Step.REQUEST_PAUSE, pausable),
        (Step.DECIDE_PAUSE, pause_decidable),
        (Step.RESUME, resumable),
    ):
        if targets:
            steps.add(step)
    return Offer(
        frozenset(steps),
        completable,
        extendable,
        reassignable,
        decidable,
        attach,
        comment,
        trainable,
        pausable=pausable,
        pause_decidable=pause_decidable,
        resumable=resumable,
    )


# --- work waiting for someone ------------------------------------------------------------------------------------
#
# The steps someone must take for a record to move on. The others (cancel, amend, link, reassign, attach a file,
# request an extension) may be taken at any time by whoever is allowed, so they wait for nobody.

WORK_STEPS: tuple[Step, ...] = (
    Step.TRIAGE,
    Step.CONTAIN,
    Step.CONCEDE,
    Step.ROOT_CAUSE,
    Step.PLAN,
    Step.DECIDE_PLAN,
    Step.AMEND_PLAN,
    Step.COMPLETE_ACTION,
    Step.VERIFY,
    Step.REVIEW,
    Step.DECIDE_EXTENSION,
    Step.DECIDE_PAUSE,  # honest pauses
)
# The steps a manager may take for the owner (or an action's owner): they wait for the owner, not for every manager.
_HELD_STEPS = frozenset({Step.CONTAIN, Step.ROOT_CAUSE, Step.PLAN, Step.AMEND_PLAN, Step.COMPLETE_ACTION})


@dataclass(frozen=True)
class Work:
    """One step waiting for someone: the step, and the action it concerns (the action to complete, or whose
    extension request to decide; None: the record's own step)."""

    step: Step
    action_id: str | None = None

    def label(self, stage: Stage) -> str:
        """The step as a to-do list names it on a record in ``stage``: "Verify", "Decide the extension of A2"."""
        if self.step is Step.COMPLETE_ACTION:
            return f"Complete {self.action_id}"
        if self.step is Step.DECIDE_EXTENSION:
            return f"Decide the extension of {self.action_id or 'the ' + stage.value.replace('_', ' ') + ' step'}"
        if self.step is Step.DECIDE_PAUSE:  # honest pauses
            return f"Decide the pause of {self.action_id or 'the ' + stage.value.replace('_', ' ') + ' step'}"
        return _WORK_LABELS[self.step]


_WORK_LABELS: dict[Step, str] = {
    Step.TRIAGE: "Triage",
    Step.CONTAIN: "Contain",
    Step.CONCEDE: "Decide the concession",
    Step.ROOT_CAUSE: "Find the root cause",
    Step.PLAN: "Plan the actions",
    Step.DECIDE_PLAN: "Approve the plan",
    Step.AMEND_PLAN: "Amend the returned plan",
    Step.VERIFY: "Verify",
    Step.REVIEW: "Review effectiveness",
}


def amendment_returned(state: CapaState) -> bool:
    """Whether quality returned the record's last plan amendment and none has been submitted since."""
    for event in reversed(state.events):
        if event.kind is EventKind.PLAN_AMENDED:
            return False
        if event.kind is EventKind.PLAN_DECIDED:
            details = event.details
            return isinstance(details, PlanDecisionEntry) and not details.approve and details.what == "amendment"
    return False


def work_waiting(state: CapaState, actor: Actor) -> list[Work]:
    """The steps waiting for ``actor`` on the record now, in the order the lifecycle takes them: of the steps
    ``available_steps`` offers, the work steps; those a manager may take for an owner only when ``actor`` is that
    owner; triage until the record has been triaged (a reclassification waits for nobody); a plan amendment only
    when quality returned one (``amendment_returned``, which reads the record's timeline)."""
    if not state.stage.is_open:
        return []
    offer = available_steps(state, actor)
    work: list[Work] = []
    for step in WORK_STEPS:
        if step not in offer.steps:
            continue
        if step is Step.COMPLETE_ACTION:
            work += [Work(step, a) for a in offer.completable if _action_owner(state, a) == actor.name]
        elif step is Step.DECIDE_EXTENSION:
            # Under the earlier rules one request is pending at a time, whatever deadline it is asked about for.
            work += [Work(step, a) for a in offer.decidable if state.pending_request(a) is not None]
        elif step is Step.DECIDE_PAUSE:  # honest pauses
            work += [Work(step, a) for a in offer.pause_decidable]
        elif _waits_for(state, actor, step):
            work.append(Work(step))
    return work


def _waits_for(state: CapaState, actor: Actor, step: Step) -> bool:
    """Whether a whole-record step ``actor`` may take waits for them."""
    if step in _HELD_STEPS and actor.name != state.owner:
        return False
    if step is Step.TRIAGE:
        return state.triage is None
    if step is Step.AMEND_PLAN:
        return amendment_returned(state)
    return True


def _action_owner(state: CapaState, action_id: str) -> str | None:
    action = state.action(action_id)
    return action.owner if action is not None else None


def work_clock(state: CapaState, work: Work) -> Clock | None:
    """The deadline a step of work counts against: its action's, else the stage's own, else the record's
    soonest (a plan approval while the actions run); None when no deadline runs."""
    if work.action_id is not None:
        return state.clock_for(work.action_id)
    if state.clock is not None:
        return state.clock
    clocks = [clock for _, clock in state.open_clocks()]
    return min(clocks, key=lambda clock: clock.due_at) if clocks else None


def waiting_on(state: CapaState, people: Sequence[Actor]) -> list[tuple[Work, list[str]]]:
    """Who of ``people`` each step waiting on the record may take, by the same rules as ``work_waiting``: the
    steps in the lifecycle's order, each with the names of those it waits for (a step nobody may take now, such
    as a review before it falls due, is left out)."""
    waiting: dict[Work, list[str]] = {}
    for person in people:
        for work in work_waiting(state, person):
            waiting.setdefault(work, []).append(person.name)
    order = {step: index for index, step in enumerate(WORK_STEPS)}
    return sorted(waiting.items(), key=lambda item: (order[item[0].step], item[0].action_id or ""))


# Who may read the management-review figures (the /reports page, /api/v1/stats, `capa stats`): those who review the
# process, not each record's workers.
REPORT_READERS = frozenset({Role.MANAGER, Role.QUALITY, Role.ADMIN})


def may_see_reports(role: Role) -> bool:
    return role in REPORT_READERS


# --- recurrence: a system step (a sentinel fired, or the effectiveness window saw a matching raise) ------------


def recorded_recurrences(state: CapaState) -> list[str]:
    """The new nonconformities the record's ``recurrence_detected`` entries name, each once, in order."""
    named = (
        record_id
        for event in state.events
        if event.kind is EventKind.RECURRENCE_DETECTED and isinstance(event.details, RecurrenceEntry)
        for record_id in event.details.record_ids
    )
    return list(dict.fromkeys(named))


def check_recurrence(state: CapaState, inp: RecurrenceInput) -> None:
    """A recurrence is recorded on an open record, once per new nonconformity; never on the record itself."""
    if state.policy is None:
        raise Rejection(ErrorKind.WRONG_STAGE, f"{state.id} is still being opened; try again in a moment")
    if not state.stage.is_open:
        raise Rejection(ErrorKind.WRONG_STAGE, f"{state.id} is {state.stage.value}: it records no recurrence")
    if state.id in inp.record_ids:
        raise _invalid("record_ids", f"{state.id} cannot be a recurrence of itself")
    if len(set(inp.record_ids)) != len(inp.record_ids):
        raise _invalid("record_ids", "each record is named once")
    seen = set(recorded_recurrences(state)) & set(inp.record_ids)
    if seen:
        raise _invalid("record_ids", f"already recorded as a recurrence of {state.id}: {', '.join(sorted(seen))}")


# --- procedure-version pinning -----------------------------------------------------------------------------------
#
# Each record keeps the CAPA procedure revision (and policy) it was raised under; quality moves chosen open records
# to the revision in force with a signed decision. Running deadlines keep their dues; later ones follow the new
# policy.


def _may_move_procedure(state: CapaState, actor: Actor) -> None:
    if not state.stage.is_open:
        raise _wrong_stage(state, "a procedure move", *(s for s in Stage if s.is_open))
    _require_current_rules(state, "procedure move")
    _require_quality(state, actor, "move the procedure")


def check_move_procedure(state: CapaState, inp: MoveProcedureInput) -> None:
    _may_move_procedure(state, inp.actor)
    target = inp.policy
    if target is None:
        raise _invalid("policy", "name the policy in force the record moves to")
    if target.process is None:
        raise _invalid(
            "policy", f"the policy {target.name} runs the earlier process rules; {state.id} cannot move to it"
        )
    current = state.policy
    if current is not None and current.digest == target.digest and current.procedure == target.procedure:
        raise _invalid("policy", f"{state.id} is already {current.raised_under()}")


# --- recurrence sentinels -----------------------------------------------------------------------------------

SENTINEL_READERS = frozenset({Role.MANAGER, Role.QUALITY, Role.ADMIN})


def may_see_sentinels(role: Role) -> bool:
    """Quality, managers and admins see the recurrence sentinels (the web page, the API, the CLI)."""
    return role in SENTINEL_READERS


def check_raised_by_person(step: RaiseStep) -> None:
    """Only a sentinel that fired raises a record naming a rule and the records that triggered it."""
    if step.raised_by_rule is not None:
        raise _invalid("raised_by_rule", "only the system names the recurrence rule that raised a record")
    if step.triggered_by:
        raise _invalid("triggered_by", "only the system names the records that triggered a recurrence rule")


# --- QMS updates that gate closure ---------------------------------------------------------------------------------


def qms_plan_problems(inp: PlanInput) -> list[FieldProblem]:
    """Each QMS update action states its typed details; the plan states its affected documents or none, justified."""
    problems = [
        FieldProblem(path("actions", i, "details", field) if field != "details" else path("actions", i, field), message)
        for i, planned in enumerate(inp.actions)
        for field, message in qms.plan_problems(planned.kind, planned.details)
    ]
    problems += [
        FieldProblem(field, message)
        for field, message in qms.documents_problems(
            [a.kind for a in inp.actions], inp.affected_documents, inp.no_documents_justification
        )
    ]
    return problems


def qms_check_completion(state: CapaState, inp: CompleteActionInput) -> None:
    """A document change or FMEA/control plan update is completed with its revision (and effective date), a risk
    file or change control with its reference."""
    action = state.action(inp.action_id)
    if action is None:
        return
    if action.kind not in qms.QMS_KINDS:
        if inp.details is not None:
            raise _invalid(
                "details", f"{action.id} is a {action.kind.value} action: only QMS update actions carry details"
            )
        return
    problems = [
        FieldProblem(f"details.{field}", f"{action.id}: {message}")
        for field, message in qms.completion_problems(action.details, inp.details)
    ]
    if action.kind is not ActionKind.TRAINING and not problems:
        problems = [
            FieldProblem(f"details.{field}", f"{action.id}: {message}")
            for field, message in qms.closure_problems(action.kind, qms.merge(action.details, inp.details))
        ]
    if problems:
        raise Rejection.invalid(*problems)


def qms_check_verify(state: CapaState) -> None:
    """Verification waits until every QMS update action carries its references and each training action meets its
    threshold; the refusal names the action."""
    problems = [
        FieldProblem("actions", f"{action.id} ({action.kind.value}) {field}: {message}")
        for action in state.current_actions()
        if action.status is not ActionStatus.CANCELLED
        for field, message in qms.closure_problems(action.kind, action.details)
    ]
    if problems:
        raise Rejection.invalid(*problems)


def _may_record_training(state: CapaState, actor: Actor, action_id: str) -> Action:
    _require_stage(state, "recording training", Stage.ACTION, Stage.VERIFICATION)
    action = state.action(action_id)
    if action is None or action.status is ActionStatus.CANCELLED:
        raise Rejection.of_field(ErrorKind.NOT_FOUND, "action_id", f"{state.id} has no action {action_id}")
    if action.kind is not ActionKind.TRAINING:
        raise _invalid("action_id", f"{action.id} is a {action.kind.value} action, not a training action")
    _require_owner_or_manager(state, actor, f"record training of {action.id}", action.owner)
    return action


def check_record_training(state: CapaState, inp: RecordTrainingInput) -> None:
    """The action's owner, or a manager, records who completed a training action's course, while the record is in
    action or verification."""
    action = _may_record_training(state, inp.actor, inp.action_id)
    details = action.details or qms.QmsDetails()
    if details.audience:
        outside = [p for p in inp.people if p not in details.audience]
        if outside:
            raise _invalid("people", f"not in {action.id}'s audience: {', '.join(outside)}")
    if all(p in details.completions for p in inp.people):
        raise _invalid("people", f"already recorded as trained on {action.id}: {', '.join(inp.people)}")


# --- honest pauses ---------------------------------------------------------------------------------------------
# The holder of a step (or of an action) asks quality to stop its clock while a supplier or a customer answers;
# quality decides (signed); the holder or quality resumes it, and it falls due with the time it had left.


def pending_pause(state: CapaState, action_id: str | None) -> PauseRequest | None:
    """The pause request awaiting a decision for the step (``action_id`` None) or an action, while that step or
    action still has its clock (a request outlived by its step is moot)."""
    for request in state.pending_pauses:
        current = action_id is not None or request.stage == state.stage.value
        if request.action_id == action_id and current and state.clock_for(action_id) is not None:
            return request
    return None


def _pause_target(state: CapaState, action_id: str | None) -> str:
    return f"action {action_id}" if action_id else f"the {state.stage.value.replace('_', ' ')} step"


def _paused_clock(state: CapaState, action_id: str | None, step: str) -> Clock:
    if not state.stage.is_open:
        raise _wrong_stage(state, step, *(s for s in Stage if s.is_open))
    return _extension_clock(state, action_id)


def _may_request_pause(state: CapaState, actor: Actor, action_id: str | None) -> Clock:
    clock = _paused_clock(state, action_id, "a pause")
    target = _pause_target(state, action_id)
    if actor.name != clock.holder:
        raise Rejection(
            ErrorKind.NOT_ALLOWED,
            f"{actor.name} may not ask to pause {target} of {state.id}: only its holder ({clock.holder}) may",
        )
    if clock.paused_at is not None:
        raise Rejection(ErrorKind.WRONG_STAGE, f"{target} of {state.id} is already paused")
    if pending_pause(state, action_id) is not None:
        raise Rejection(ErrorKind.WRONG_STAGE, f"{target} of {state.id} already has a pause request pending")
    return clock


def check_pause_request(state: CapaState, inp: PauseRequestInput, now: datetime | None = None) -> None:
    _may_request_pause(state, inp.actor, inp.action_id)
    if now is not None and inp.expected_until <= now:
        raise _invalid("expected_until", "the expected date of the answer must lie ahead")


def _may_decide_pause(state: CapaState, actor: Actor, action_id: str | None = None) -> PauseRequest:
    _require_quality(state, actor, "decide a pause request")
    if not state.stage.is_open:
        raise _wrong_stage(state, "a pause decision", *(s for s in Stage if s.is_open))
    request = pending_pause(state, action_id)
    if request is None:
        raise Rejection.of_field(
            ErrorKind.WRONG_STAGE,
            "action_id",
            f"{_pause_target(state, action_id)} of {state.id} has no pause request to decide",
        )
    if request.requested_by == actor.name:
        raise Rejection(
            ErrorKind.NOT_ALLOWED, f"{actor.name} may not decide their own pause request; another quality person must"
        )
    return request


def check_pause_decision(state: CapaState, inp: PauseDecisionInput, now: datetime | None = None) -> None:
    _may_decide_pause(state, inp.actor, inp.action_id)
    if not inp.approve and not inp.reason:
        raise _invalid("reason", "a declined pause needs a reason")


def _may_resume(state: CapaState, actor: Actor, action_id: str | None) -> Clock:
    clock = _paused_clock(state, action_id, "a resume")
    target = _pause_target(state, action_id)
    if clock.paused_at is None:
        raise Rejection(ErrorKind.WRONG_STAGE, f"{target} of {state.id} is not paused")
    if actor.name != clock.holder and not actor.is_quality:
        raise Rejection(
            ErrorKind.NOT_ALLOWED,
            f"{actor.name} may not resume {target} of {state.id}: only its holder ({clock.holder}) or quality may",
        )
    return clock


def check_resume(state: CapaState, inp: ResumeInput, now: datetime | None = None) -> None:
    _may_resume(state, inp.actor, inp.action_id)
