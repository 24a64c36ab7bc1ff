"""What waits for whom ("My work"): the work steps each person may take now, and who a record waits for."""

from datetime import timedelta

from client.work import work_items
from models import rules
from models.enums import ActionStatus, Disposition, EventKind, Role, Severity, Stage, TriageDecision
from models.payloads import Actor, CapaState, Containment, Event, ExtensionRequest, PendingPlan, Triage
from models.rules import Step, Work
from tests import builders
from tests.policies import CURRENT

T0 = builders.T0
NOW = T0 + timedelta(days=2)
OLIVIA = Actor(name="olivia", roles=[Role.OWNER])
OSCAR = Actor(name="oscar", roles=[Role.OWNER])
MIKE = Actor(name="mike", roles=[Role.MANAGER])
MARIA = Actor(name="maria", roles=[Role.MANAGER])
QUINN = Actor(name="quinn", roles=[Role.QUALITY])
EVERYONE = [OLIVIA, OSCAR, MIKE, MARIA, QUINN]


def _current(stage: Stage, *, triaged: bool = True, **changes: object) -> CapaState:
    """A major record under the current rules, owned by olivia, its stage clock due a day after T0."""
    state = builders.state(stage=stage, stage_clock=builders.clock("olivia", T0 + timedelta(days=1)))
    triage = Triage(
        severity_level=3,
        occurrence_level=3,
        decision=TriageDecision.CAPA,
        risk_class=Severity.MAJOR,
        by="quinn",
        at=T0,
    )
    return state.model_copy(
        update={"policy": CURRENT.for_severity(Severity.MAJOR), "triage": triage if triaged else None, **changes}
    )


def _steps(state: CapaState, actor: Actor) -> list[Work]:
    return rules.work_waiting(state, actor)


def test_untriaged_record_waits_for_the_owner_and_quality_not_every_manager() -> None:
    """A new record waits for its owner's containment and quality's triage; a manager may contain it for the owner
    but it does not wait for them."""
    state = _current(Stage.CONTAINMENT, triaged=False)
    assert _steps(state, OLIVIA) == [Work(Step.CONTAIN)]
    assert _steps(state, QUINN) == [Work(Step.TRIAGE)]
    assert _steps(state, MIKE) == []
    assert Step.CONTAIN in rules.available_steps(state, MIKE).steps


def test_triaged_record_waits_for_no_reclassification() -> None:
    """Once triaged, a reclassification is quality's to take, but nothing waits for it."""
    assert _steps(_current(Stage.CONTAINMENT), QUINN) == []


def test_verification_waits_for_managers_and_quality_never_the_owner_or_an_implementer() -> None:
    """Verification waits for every manager and quality who may verify: not the owner, not who implemented."""
    done = builders.action("A1", "oscar", T0, status=ActionStatus.COMPLETED).model_copy(update={"completed_by": "mike"})
    state = _current(Stage.VERIFICATION, actions=[done])
    assert _steps(state, OLIVIA) == []
    assert _steps(state, MIKE) == []
    assert _steps(state, MARIA) == [Work(Step.VERIFY)]
    assert _steps(state, QUINN) == [Work(Step.VERIFY)]
    assert rules.waiting_on(state, EVERYONE) == [(Work(Step.VERIFY), ["maria", "quinn"])]


def test_actions_wait_for_their_owners_and_an_extension_for_the_requesters_line() -> None:
    """Each open action waits for its owner; its extension request for a manager of the requester's line or
    quality, not for the requester."""
    a1 = builders.action("A1", "oscar", T0 + timedelta(days=5))
    a2 = builders.action("A2", "olivia", T0 + timedelta(days=1))
    request = ExtensionRequest(
        action_id="A1",
        requested_by="oscar",
        requested_at=T0,
        current_due_at=a1.clock.due_at,
        until=a1.clock.due_at + timedelta(days=3),
        reason="parts late",
        line=["mike"],
    )
    state = _current(Stage.ACTION, clock=None, awaiting_plan=False, actions=[a1, a2], pending_extensions=[request])
    assert _steps(state, OSCAR) == [Work(Step.COMPLETE_ACTION, "A1")]
    assert _steps(state, OLIVIA) == [Work(Step.COMPLETE_ACTION, "A2")]
    assert _steps(state, MIKE) == [Work(Step.DECIDE_EXTENSION, "A1")]
    assert _steps(state, MARIA) == []
    assert _steps(state, QUINN) == [Work(Step.DECIDE_EXTENSION, "A1")]
    assert Work(Step.DECIDE_EXTENSION, "A1").label(state.stage) == "Decide the extension of A1"


def test_plan_approval_waits_for_quality_and_a_returned_amendment_for_the_owner() -> None:
    """A plan awaiting approval waits for quality; once quality returns an amendment, the owner's amendment."""
    a1 = builders.action("A1", "oscar", T0 + timedelta(days=5))
    pending = PendingPlan(what="amendment", submitted_by="olivia", submitted_at=T0)
    state = _current(Stage.ACTION, clock=None, awaiting_plan=False, actions=[a1], pending_plan=pending)
    assert _steps(state, QUINN) == [Work(Step.DECIDE_PLAN)]
    assert _steps(state, OLIVIA) == []
    returned = Event(
        seq=9,
        at=T0,
        kind=EventKind.PLAN_DECIDED,
        actor="quinn",
        details={"approve": False, "reason": "too vague", "what": "amendment"},
    )
    state = state.model_copy(update={"pending_plan": None, "events": [returned]})
    assert _steps(state, OLIVIA) == [Work(Step.AMEND_PLAN)]
    approved = returned.model_copy(update={"details": returned.details.model_copy(update={"approve": True})})
    assert _steps(state.model_copy(update={"events": [approved]}), OLIVIA) == []


def test_items_soonest_due_first_late_counted_from_the_original_due() -> None:
    """The list puts the soonest due first and counts lateness from the original due, whatever was extended."""
    late = _current(Stage.CONTAINMENT, triaged=False)
    extended = late.clock.model_copy(update={"due_at": NOW + timedelta(days=4)}) if late.clock else None
    later = builders.state("NC-2026-0002", stage=Stage.ROOT_CAUSE, stage_clock=builders.clock("olivia", NOW))
    later = later.model_copy(update={"policy": late.policy, "triage": _current(Stage.ROOT_CAUSE).triage})
    items = work_items([later, late.model_copy(update={"clock": extended})], OLIVIA, NOW)
    assert [(i.record_id, i.label) for i in items] == [
        ("NC-2026-0001", "Contain"),
        ("NC-2026-0002", "Find the root cause"),
    ]
    first = items[0]
    assert first.late
    assert first.late_by == timedelta(days=1)
    assert first.revised_due_at == NOW + timedelta(days=4)
    assert not items[1].late


def test_a_concession_waits_for_quality_and_holds_verification_back() -> None:
    """Product used as is waits for quality's concession; until it is granted, verification waits for nobody."""
    containment = Containment(summary="20 kept", disposition=Disposition.USE_AS_IS, quantity=20, by="olivia", at=T0)
    done = builders.action("A1", "oscar", T0, status=ActionStatus.COMPLETED)
    state = _current(Stage.VERIFICATION, containment=containment, actions=[done])
    assert _steps(state, QUINN) == [Work(Step.CONCEDE)]
    assert _steps(state, MARIA) == []


def test_under_the_earlier_rules_the_one_pending_extension_waits_for_every_manager_once() -> None:
    """Records raised under the earlier rules keep one extension request at a time, decided by any manager but
    the requester: each manager has it once, for the deadline it moves."""
    a1 = builders.action("A1", "oscar", T0 + timedelta(days=5))
    request = ExtensionRequest(
        action_id="A1",
        requested_by="oscar",
        requested_at=T0,
        current_due_at=a1.clock.due_at,
        until=a1.clock.due_at + timedelta(days=3),
        reason="parts late",
    )
    state = builders.state(stage=Stage.ACTION, actions=[a1]).model_copy(
        update={"awaiting_plan": False, "pending_extension": request}
    )
    assert _steps(state, MARIA) == [Work(Step.DECIDE_EXTENSION, "A1")]
    assert _steps(state, QUINN) == []
