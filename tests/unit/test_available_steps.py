"""What a front-end offers a person on a record: exactly the steps the workflow's validators would accept."""

from datetime import UTC, datetime, timedelta

import pytest

from models import rules
from models.enums import ActionKind, ActionStatus, Role, RootCauseMethod, Severity, Stage
from models.payloads import (
    Action,
    Actor,
    CapaState,
    Clock,
    ExtensionDecisionInput,
    ExtensionRequest,
    ExtensionRequestInput,
    PlanInput,
    PlannedAction,
    RootCauseInput,
)
from models.refusals import ErrorKind, Rejection
from models.rules import Step, available_steps
from tests import builders
from tests.policies import EARLIER

T0 = builders.T0
RULES = EARLIER.for_severity(Severity.MAJOR)

OWNER = Actor(name="olivia", roles=[Role.OWNER])
OTHER_OWNER = Actor(name="oscar", roles=[Role.OWNER])
OPERATOR = Actor(name="otto", roles=[Role.OPERATOR])
MANAGER = Actor(name="mike", roles=[Role.MANAGER])
OTHER_MANAGER = Actor(name="maria", roles=[Role.MANAGER])
ADMIN = Actor(name="ada", roles=[Role.ADMIN])
MANAGER_STEPS = {Step.REASSIGN, Step.CANCEL}


def _clock(holder: str) -> Clock:
    return Clock(holder=holder, due_at=T0 + timedelta(days=3), original_due_at=T0, armed_at=T0)


def _state(stage: Stage = Stage.CONTAINMENT, **changes: object) -> CapaState:
    return builders.state(stage=stage, stage_clock=_clock("olivia")).model_copy(update=changes)


def _action(action_id: str, owner: str, status: ActionStatus = ActionStatus.OPEN, **changes: object) -> Action:
    action = Action(
        id=action_id,
        cycle=1,
        round=1,
        kind=ActionKind.CORRECTIVE,
        owner=owner,
        description="Deburr the fixture",
        status=status,
        clock=_clock(owner),
    )
    return action.model_copy(update=changes)


@pytest.mark.parametrize(
    ("stage", "step"),
    [(Stage.CONTAINMENT, Step.CONTAIN), (Stage.ROOT_CAUSE, Step.ROOT_CAUSE), (Stage.ACTION, Step.PLAN)],
)
def test_the_owner_and_managers_are_offered_the_owners_step_of_the_stage(stage: Stage, step: Step) -> None:
    """Containment, root cause and the plan go to the record's owner, or any manager or admin, in their stage."""
    state = _state(stage)
    assert available_steps(state, OWNER).steps == {step, Step.REQUEST_EXTENSION, Step.REQUEST_PAUSE}
    assert available_steps(state, MANAGER).steps == {step} | MANAGER_STEPS
    assert step in available_steps(state, ADMIN).steps


def test_an_operator_and_another_owner_are_offered_nothing() -> None:
    """Neither someone who raised the record nor an owner of other records may take its steps."""
    for actor in (OPERATOR, OTHER_OWNER):
        offer = available_steps(_state(), actor)
        assert offer.steps == frozenset()
        assert (offer.completable, offer.extendable, offer.reassignable) == ((), (), ())


def test_a_record_still_being_opened_offers_only_what_needs_no_policy() -> None:
    """Until the worker pins the policy no stage step is accepted; a manager may still cancel or reassign."""
    assert available_steps(_state(policy=None), OWNER).steps == {Step.REQUEST_EXTENSION, Step.REQUEST_PAUSE}
    assert available_steps(_state(policy=None), MANAGER).steps == MANAGER_STEPS


def test_each_action_is_offered_to_its_own_owner() -> None:
    """Oscar may complete and extend only his action; the record's owner neither, a manager completes both."""
    state = _state(
        Stage.ACTION,
        awaiting_plan=False,
        clock=None,
        actions=[
            _action("A1", "oscar"),
            _action("A2", "paul"),
            _action("A0", "oscar", ActionStatus.COMPLETED),
        ],
    )
    oscar = available_steps(state, OTHER_OWNER)
    assert oscar.steps == {Step.COMPLETE_ACTION, Step.REQUEST_EXTENSION, Step.REQUEST_PAUSE}
    assert (oscar.completable, oscar.extendable) == (("A1",), ("A1",))
    assert available_steps(state, OWNER).steps == frozenset()
    manager = available_steps(state, MANAGER)
    assert manager.completable == ("A1", "A2")
    assert manager.reassignable == (None, "A1", "A2")
    assert Step.PLAN not in manager.steps


def test_a_verifier_must_not_have_implemented_the_actions() -> None:
    """Segregation of duties: the manager who completed an action is not offered verification; another is."""
    done = _action("A1", "oscar", ActionStatus.COMPLETED, completed_by="mike")
    state = _state(Stage.VERIFICATION, actions=[done], clock=_clock("mike"))
    assert Step.VERIFY not in available_steps(state, MANAGER).steps
    assert Step.VERIFY in available_steps(state, OTHER_MANAGER).steps
    assert Step.VERIFY not in available_steps(state, OWNER).steps


def test_the_review_is_offered_only_once_it_falls_due() -> None:
    """While the effectiveness window runs (no clock) nobody may review; once it is due, managers may."""
    waiting = _state(Stage.EFFECTIVENESS, clock=None, effectiveness_due_at=T0 + timedelta(days=60))
    assert Step.REVIEW not in available_steps(waiting, MANAGER).steps
    assert Step.REVIEW in available_steps(_state(Stage.EFFECTIVENESS, clock=_clock("mike")), MANAGER).steps


def test_an_extension_is_decided_by_a_manager_other_than_the_requester() -> None:
    """Mike asked for more time: maria may decide it, mike may not, and nobody may ask again meanwhile."""
    request = ExtensionRequest(
        action_id=None,
        requested_by="mike",
        requested_at=T0,
        current_due_at=T0 + timedelta(days=3),
        until=T0 + timedelta(days=5),
        reason="supplier late",
    )
    state = _state(clock=_clock("mike"), owner="mike", pending_extension=request)
    assert Step.DECIDE_EXTENSION not in available_steps(state, MANAGER).steps
    assert Step.REQUEST_EXTENSION not in available_steps(state, MANAGER).steps
    assert Step.DECIDE_EXTENSION in available_steps(state, OTHER_MANAGER).steps


@pytest.mark.parametrize("stage", [Stage.CLOSED, Stage.CANCELLED])
def test_a_finished_record_offers_nothing_to_anyone(stage: Stage) -> None:
    """A closed or cancelled record can no longer change."""
    for actor in (OWNER, MANAGER, ADMIN):
        assert available_steps(_state(stage, clock=None), actor).steps == frozenset()


def test_the_offer_agrees_with_the_validators() -> None:
    """Every whole-record step offered passes its validator's permission part, and every one refused fails it."""
    state = _state(Stage.ROOT_CAUSE)
    for actor in (OWNER, OTHER_OWNER, OPERATOR, MANAGER):
        offered = Step.ROOT_CAUSE in available_steps(state, actor).steps
        inp = RootCauseInput(actor=actor, method=RootCauseMethod.OTHER, cause="worn fixture")
        try:
            rules.check_root_cause(state, inp)
        except Rejection:
            accepted = False
        else:
            accepted = True
        assert offered == accepted, actor.name


def test_an_extension_to_a_moment_already_past_is_refused() -> None:
    """A late holder cannot ask for a new due time that has passed, nor can a manager approve one that has
    passed since it was asked for: either would leave the step overdue the moment it was granted."""
    state = _state()
    late = T0 + timedelta(days=5)
    asked = ExtensionRequestInput(actor=OWNER, until=T0 + timedelta(days=4), reason="Supplier late")
    with pytest.raises(Rejection, match=r"until: .* has already passed"):
        rules.check_extension_request(state, asked, late)
    rules.check_extension_request(state, asked, T0 + timedelta(days=1))
    pending = ExtensionRequest(
        action_id=None,
        requested_by="olivia",
        requested_at=T0,
        current_due_at=T0 + timedelta(days=3),
        until=T0 + timedelta(days=4),
        reason="Supplier late",
    )
    decided = ExtensionDecisionInput(actor=MANAGER, approve=True)
    with pytest.raises(Rejection, match=r"approve: .* has already passed"):
        rules.check_extension_decision(state.model_copy(update={"pending_extension": pending}), decided, late)


def test_a_deadline_decades_ahead_is_refused_before_the_record_takes_it() -> None:
    """A typing slip such as 9999-12-31 is refused with the field named; accepted, it would leave no room in the
    calendar for the deadline's escalations and the record could not apply its own step."""
    far = datetime(9999, 12, 31, tzinfo=UTC)
    plan = PlanInput(actor=OWNER, actions=[PlannedAction(owner="oscar", due_at=far, description="Re-qualify")])
    with pytest.raises(Rejection, match=r"^actions\.0\.due_at: 9999-12-31 .* is more than 10 years ahead") as refused:
        rules.check_plan(_state(Stage.ACTION, awaiting_plan=True), plan, T0)
    assert [problem.field for problem in refused.value.problems] == ["actions.0.due_at"]
    nine_years = T0 + timedelta(days=9 * 365)
    rules.check_plan(
        _state(Stage.ACTION, awaiting_plan=True),
        plan.model_copy(
            update={"actions": [PlannedAction(owner="oscar", due_at=nine_years, description="Re-qualify")]}
        ),
        T0,
    )
    asked = ExtensionRequestInput(actor=OWNER, until=far, reason="Supplier late")
    with pytest.raises(Rejection, match=r"until: .* is more than 10 years ahead"):
        rules.check_extension_request(_state(), asked, T0)


def test_a_plan_refusal_names_every_action_at_fault_at_once() -> None:
    """Two bad due dates in one plan are both named, by their place in the plan, so a form marks both inputs."""
    past = T0 - timedelta(hours=1)
    far = datetime(9999, 12, 31, tzinfo=UTC)
    actions = [
        PlannedAction(owner="oscar", due_at=past, description="Sort the lot"),
        PlannedAction(owner="oscar", due_at=T0 + timedelta(days=3), description="Replace the tool"),
        PlannedAction(owner="oscar", due_at=far, description="Re-qualify"),
    ]
    with pytest.raises(Rejection) as refused:
        rules.check_plan(_state(Stage.ACTION, awaiting_plan=True), PlanInput(actor=OWNER, actions=actions), T0)
    assert refused.value.kind is ErrorKind.INVALID
    assert [(problem.field, problem.message.split(" is ")[1]) for problem in refused.value.problems] == [
        ("actions.0.due_at", "not in the future"),
        ("actions.2.due_at", "more than 10 years ahead"),
    ]
