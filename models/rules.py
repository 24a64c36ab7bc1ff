"""The lifecycle rules, named once: which step is accepted in which stage, from whom, with what payload.

Pure functions over the record's state. The workflow's update validators call them before anything is
written to history; the client layer calls ``check_raise`` before starting a workflow. A violated rule raises
``Rejection``, whose ``kind`` lets a front-end choose its error (wrong stage, not allowed, bad input, unknown).
"""

from datetime import UTC, datetime
from enum import StrEnum

from models.enums import ActionStatus, Role, Stage
from models.payloads import (
    Actor,
    CancelInput,
    CapaState,
    CompleteActionInput,
    ContainmentInput,
    ExtensionDecisionInput,
    ExtensionRequestInput,
    PlanInput,
    ReassignInput,
    ReviewInput,
    RootCauseInput,
    VerifyInput,
)

# The stages that follow each stage, by outcome. ``cancelled`` is reachable from every open stage.
TRANSITIONS: dict[Stage, tuple[Stage, ...]] = {
    Stage.CONTAINMENT: (Stage.ROOT_CAUSE,),
    Stage.ROOT_CAUSE: (Stage.ACTION,),
    Stage.ACTION: (Stage.VERIFICATION,),
    Stage.VERIFICATION: (Stage.EFFECTIVENESS, Stage.ACTION),
    Stage.EFFECTIVENESS: (Stage.CLOSED, Stage.ROOT_CAUSE),
    Stage.CLOSED: (),
    Stage.CANCELLED: (),
}


class RejectionKind(StrEnum):
    WRONG_STAGE = "WrongStage"
    NOT_ALLOWED = "NotAllowed"
    INVALID = "InvalidInput"
    NOT_FOUND = "NotFound"


class Rejection(ValueError):
    def __init__(self, kind: RejectionKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


def _wrong_stage(state: CapaState, step: str, *expected: Stage) -> Rejection:
    wanted = " or ".join(s.value for s in expected)
    return Rejection(
        RejectionKind.WRONG_STAGE,
        f"{state.id} is in stage {state.stage.value}; {step} is accepted only in {wanted}",
    )


def _require_stage(state: CapaState, step: str, *expected: Stage) -> None:
    if state.policy is None:
        raise Rejection(RejectionKind.WRONG_STAGE, f"{state.id} is still being opened; try again in a moment")
    if state.stage not in expected:
        raise _wrong_stage(state, step, *expected)


def _require_owner_or_manager(state: CapaState, actor: Actor, step: str, owner: str) -> None:
    if actor.name != owner and not actor.is_manager:
        raise Rejection(
            RejectionKind.NOT_ALLOWED,
            f"{actor.name} may not {step} on {state.id}: only its owner ({owner}) or a manager may",
        )


def _require_manager(state: CapaState, actor: Actor, step: str) -> None:
    if not actor.is_manager:
        raise Rejection(RejectionKind.NOT_ALLOWED, f"{actor.name} may not {step} on {state.id}: managers only")


def _when(moment: datetime) -> str:
    """A due time as people read it in a refusal: to the second, in UTC."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _invalid(message: str) -> Rejection:
    return Rejection(RejectionKind.INVALID, message)


def check_owner_roles(field: str, name: str, roles: list[Role]) -> None:
    """Steps are held by owners and managers; an operator raises and follows but holds nothing."""
    if not ({Role.OWNER, Role.MANAGER, Role.ADMIN} & set(roles)):
        raise _invalid(f"{field}: {name} is an operator and cannot hold CAPA steps; name an owner or a manager")


def check_containment(state: CapaState, inp: ContainmentInput) -> None:
    _require_stage(state, "containment", Stage.CONTAINMENT)
    _require_owner_or_manager(state, inp.actor, "submit containment", state.owner)


def check_root_cause(state: CapaState, inp: RootCauseInput) -> None:
    _require_stage(state, "root cause", Stage.ROOT_CAUSE)
    _require_owner_or_manager(state, inp.actor, "submit the root cause", state.owner)
    if inp.method.value == "five-whys" and not inp.whys:
        raise _invalid("why: the five-whys method needs the why-chain (at least one --why)")


def check_plan(state: CapaState, inp: PlanInput, now: datetime) -> None:
    _require_stage(state, "an action plan", Stage.ACTION)
    _require_owner_or_manager(state, inp.actor, "submit the action plan", state.owner)
    if not state.awaiting_plan:
        raise Rejection(
            RejectionKind.WRONG_STAGE,
            f"{state.id} already has an action plan for this round; complete its actions",
        )
    for number, action in enumerate(inp.actions, start=1):
        if action.due_at <= now:
            raise _invalid(f"action {number}: due {_when(action.due_at)} is not in the future")


def check_complete_action(state: CapaState, inp: CompleteActionInput) -> None:
    _require_stage(state, "completing an action", Stage.ACTION)
    action = state.action(inp.action_id)
    if action is None:
        raise Rejection(RejectionKind.NOT_FOUND, f"action_id: {state.id} has no action {inp.action_id}")
    if action.status is not ActionStatus.OPEN:
        raise Rejection(RejectionKind.WRONG_STAGE, f"action {action.id} is already {action.status.value}")
    _require_owner_or_manager(state, inp.actor, f"complete action {action.id}", action.owner)


def implementers(state: CapaState) -> set[str]:
    """The people who own or completed the actions now awaiting verification."""
    people: set[str] = set()
    for action in state.current_actions():
        people.add(action.owner)
        if action.completed_by:
            people.add(action.completed_by)
    return people


def check_verify(state: CapaState, inp: VerifyInput) -> None:
    _require_stage(state, "verification", Stage.VERIFICATION)
    _require_manager(state, inp.actor, "verify")
    if inp.actor.name in implementers(state):
        raise Rejection(
            RejectionKind.NOT_ALLOWED,
            f"{inp.actor.name} may not verify {state.id}: a verifier must not have implemented its actions",
        )


def check_review(state: CapaState, inp: ReviewInput) -> None:
    _require_stage(state, "the effectiveness review", Stage.EFFECTIVENESS)
    _require_manager(state, inp.actor, "review effectiveness")
    if state.clock is None:
        due = state.effectiveness_due_at
        when = _when(due) if due else "later"
        raise Rejection(
            RejectionKind.WRONG_STAGE,
            f"the effectiveness review of {state.id} falls due at {when}; it cannot be reviewed before",
        )


def check_extension_request(state: CapaState, inp: ExtensionRequestInput) -> None:
    if not state.stage.is_open:
        raise _wrong_stage(state, "an extension", *(s for s in Stage if s.is_open))
    clock = state.clock_for(inp.action_id)
    if clock is None:
        target = f"action {inp.action_id}" if inp.action_id else f"stage {state.stage.value}"
        raise Rejection(RejectionKind.NOT_FOUND, f"action_id: {target} of {state.id} has no running deadline")
    if inp.actor.name != clock.holder:
        raise Rejection(
            RejectionKind.NOT_ALLOWED,
            f"{inp.actor.name} may not request an extension: only the step's holder ({clock.holder}) may",
        )
    if state.pending_extension is not None:
        raise Rejection(
            RejectionKind.WRONG_STAGE,
            f"{state.id} already has an extension request awaiting a decision",
        )
    if inp.until <= clock.due_at:
        raise _invalid(f"until: {_when(inp.until)} is not later than the current due {_when(clock.due_at)}")


def check_extension_decision(state: CapaState, inp: ExtensionDecisionInput) -> None:
    request = state.pending_extension
    if request is None:
        raise Rejection(RejectionKind.WRONG_STAGE, f"{state.id} has no extension request awaiting a decision")
    _require_manager(state, inp.actor, "decide an extension")
    if inp.actor.name == request.requested_by:
        raise Rejection(
            RejectionKind.NOT_ALLOWED,
            f"{inp.actor.name} may not decide their own extension request; another manager must",
        )
    if not inp.approve and not inp.reason:
        raise _invalid("reason: a rejected extension needs a reason")


def check_reassign(state: CapaState, inp: ReassignInput) -> None:
    if not state.stage.is_open:
        raise _wrong_stage(state, "reassignment", *(s for s in Stage if s.is_open))
    _require_manager(state, inp.actor, "reassign")
    if inp.action_id is None:
        current = state.owner
    else:
        action = state.action(inp.action_id)
        if action is None:
            raise Rejection(RejectionKind.NOT_FOUND, f"action_id: {state.id} has no action {inp.action_id}")
        if action.status is not ActionStatus.OPEN:
            raise Rejection(RejectionKind.WRONG_STAGE, f"action {action.id} is already {action.status.value}")
        current = action.owner
    if inp.new_owner == current:
        raise _invalid(f"owner: {current} already holds it")


def check_cancel(state: CapaState, inp: CancelInput) -> None:
    if not state.stage.is_open:
        raise _wrong_stage(state, "cancellation", *(s for s in Stage if s.is_open))
    _require_manager(state, inp.actor, "cancel")
