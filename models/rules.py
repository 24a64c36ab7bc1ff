"""The lifecycle rules, named once: which step is accepted in which stage, from whom, with what payload.

Pure functions over the record's state. The workflow's update validators call them before anything is
written to history; the client layer calls ``check_owner_roles`` before naming someone an owner. A violated rule
raises ``Rejection`` (``models.refusals``): its ``kind`` lets a front end choose its error (wrong stage, not
allowed, bad input, unknown), and bad input names each field at fault by its path in the step's input.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import NamedTuple, TypeVar

from models import formatting, signatures
from models.enums import ActionStatus, EffectivenessResult, Role, Stage, VerificationResult
from models.payloads import (
    FILE_STEPS,
    Actor,
    AttachFileInput,
    AttachFileStep,
    CancelInput,
    CancelStep,
    CapaState,
    Clock,
    CompleteActionInput,
    CompleteActionStep,
    ContainmentInput,
    ContainmentStep,
    ExtensionDecisionInput,
    ExtensionDecisionStep,
    ExtensionRequestInput,
    ExtensionRequestStep,
    FileRef,
    Payload,
    PlanInput,
    PlanStep,
    ReassignInput,
    ReassignStep,
    ReviewInput,
    ReviewStep,
    RootCauseInput,
    RootCauseStep,
    SignedInput,
    StepInput,
    VerifyInput,
    VerifyStep,
)
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
    """Steps are held by owners and managers; an operator raises and follows but holds nothing."""
    if not ({Role.OWNER, Role.MANAGER, Role.ADMIN} & set(roles)):
        raise _invalid(field, f"{name} is an operator and cannot hold CAPA steps; name an owner or a manager")


# Each step's rule comes in two parts: who may take it and when (``_may_*``, which ``available_steps`` also
# asks, so a front-end offers a step only where the workflow would accept it), then what the payload must hold.


def _may_contain(state: CapaState, actor: Actor) -> None:
    _require_stage(state, "containment", Stage.CONTAINMENT)
    _require_owner_or_manager(state, actor, "submit containment", state.owner)


def check_containment(state: CapaState, inp: ContainmentInput) -> None:
    _may_contain(state, inp.actor)


def _may_root_cause(state: CapaState, actor: Actor) -> None:
    _require_stage(state, "root cause", Stage.ROOT_CAUSE)
    _require_owner_or_manager(state, actor, "submit the root cause", state.owner)


def check_root_cause(state: CapaState, inp: RootCauseInput) -> None:
    _may_root_cause(state, inp.actor)
    if inp.method.value == "five-whys" and not inp.whys:
        raise _invalid("whys", "the five-whys method needs the why-chain: at least one why")


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


def check_plan(state: CapaState, inp: PlanInput, now: datetime | None) -> None:
    """``now`` None skips the checks against the clock: a workflow's handler re-checks a step its validator
    accepted, and on a replay its clock may differ from the one the validator saw."""
    _may_plan(state, inp.actor)
    if now is None:
        return
    problems = []
    for index, action in enumerate(inp.actions):
        field = path("actions", index, "due_at")
        if action.due_at <= now:
            problems.append(FieldProblem(field, f"{_when(action.due_at)} is not in the future"))
        elif action.due_at > now + FURTHEST_DUE:
            problems.append(FieldProblem(field, f"{_when(action.due_at)} is more than {_YEARS} years ahead"))
    if problems:
        raise Rejection.invalid(*problems)


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
    _require_manager(state, actor, "verify")
    if actor.name in implementers(state):
        raise Rejection(
            ErrorKind.NOT_ALLOWED,
            f"{actor.name} may not verify {state.id}: a verifier must not have implemented its actions",
        )


def check_verify(state: CapaState, inp: VerifyInput) -> None:
    _may_verify(state, inp.actor)


def _may_review(state: CapaState, actor: Actor) -> None:
    _require_stage(state, "the effectiveness review", Stage.EFFECTIVENESS)
    _require_manager(state, actor, "review effectiveness")
    if state.clock is None:
        due = state.effectiveness_due_at
        when = _when(due) if due else "later"
        raise Rejection(
            ErrorKind.WRONG_STAGE,
            f"the effectiveness review of {state.id} falls due at {when}; it cannot be reviewed before",
        )


def check_review(state: CapaState, inp: ReviewInput) -> None:
    _may_review(state, inp.actor)


def _may_request_extension(state: CapaState, actor: Actor, action_id: str | None) -> Clock:
    """The running deadline ``actor`` may ask to move: the stage's (``action_id`` None) or an action's."""
    if not state.stage.is_open:
        raise _wrong_stage(state, "an extension", *(s for s in Stage if s.is_open))
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
    if actor.name != clock.holder:
        raise Rejection(
            ErrorKind.NOT_ALLOWED,
            f"{actor.name} may not request an extension: only the step's holder ({clock.holder}) may",
        )
    if state.pending_extension is not None:
        raise Rejection(
            ErrorKind.WRONG_STAGE,
            f"{state.id} already has an extension request awaiting a decision",
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


def _may_decide_extension(state: CapaState, actor: Actor) -> None:
    request = state.pending_extension
    if request is None:
        raise Rejection(ErrorKind.WRONG_STAGE, f"{state.id} has no extension request awaiting a decision")
    _require_manager(state, actor, "decide an extension")
    if actor.name == request.requested_by:
        raise Rejection(
            ErrorKind.NOT_ALLOWED,
            f"{actor.name} may not decide their own extension request; another manager must",
        )


def check_extension_decision(state: CapaState, inp: ExtensionDecisionInput, now: datetime | None = None) -> None:
    _may_decide_extension(state, inp.actor)
    if not inp.approve and not inp.reason:
        raise _invalid("reason", "a rejected extension needs a reason")
    request = state.pending_extension
    if inp.approve and now is not None and request is not None and request.until <= now:
        raise _invalid(
            "approve", f"the requested due {_when(request.until)} has already passed; reject it and ask for a new one"
        )


def _may_reassign(state: CapaState, actor: Actor, action_id: str | None) -> str:
    """Who holds what ``actor`` may hand to someone else: the record (``action_id`` None) or an open action."""
    if not state.stage.is_open:
        raise _wrong_stage(state, "reassignment", *(s for s in Stage if s.is_open))
    _require_manager(state, actor, "reassign")
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
    _require_manager(state, actor, "cancel")


def check_cancel(state: CapaState, inp: CancelInput) -> None:
    _may_cancel(state, inp.actor)


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
}


# --- signed steps ----------------------------------------------------------------------------------------------
#
# These steps are signed (21 CFR Part 11: 11.50, 11.70, 11.200): the person taking one re-enters their password and
# the record keeps their signature, which states what it means. The meaning follows from what the step submits.

SIGNED_STEPS = frozenset({Step.VERIFY, Step.REVIEW, Step.CANCEL, Step.DECIDE_EXTENSION})

MEANINGS: dict[tuple[Step, str], str] = {
    (Step.VERIFY, VerificationResult.PASS.value): "verified: actions implemented",
    (Step.VERIFY, VerificationResult.FAIL.value): "verification failed: actions not implemented as planned",
    (Step.REVIEW, EffectivenessResult.EFFECTIVE.value): "approved: effective, record closed",
    (Step.REVIEW, EffectivenessResult.NOT_EFFECTIVE.value): "reviewed: not effective, root cause reopened",
    (Step.CANCEL, "cancel"): "approved: record cancelled",
    (Step.DECIDE_EXTENSION, "approve"): "approved: extension granted",
    (Step.DECIDE_EXTENSION, "reject"): "rejected: extension refused",
}


def _outcome(submitted: Payload) -> str:
    """What a signed step decides, as ``MEANINGS`` keys it."""
    if isinstance(submitted, VerifyStep | ReviewStep):
        return submitted.result.value
    if isinstance(submitted, ExtensionDecisionStep):
        return "approve" if submitted.approve else "reject"
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
    # Whether files may be attached (to any step or action): apart from ``steps``, since everyone signed in may.
    attach: bool = False


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
    whole_record = {
        Step.CONTAIN: _may_contain,
        Step.ROOT_CAUSE: _may_root_cause,
        Step.PLAN: _may_plan,
        Step.VERIFY: _may_verify,
        Step.REVIEW: _may_review,
        Step.DECIDE_EXTENSION: _may_decide_extension,
        Step.CANCEL: _may_cancel,
    }
    steps = {step for step, check in whole_record.items() if _passes(check, state, actor)}
    for step, targets in (
        (Step.COMPLETE_ACTION, completable),
        (Step.REQUEST_EXTENSION, extendable),
        (Step.REASSIGN, reassignable),
    ):
        if targets:
            steps.add(step)
    attach = _passes(_may_attach_file, state, actor)
    return Offer(frozenset(steps), completable, extendable, reassignable, attach)
