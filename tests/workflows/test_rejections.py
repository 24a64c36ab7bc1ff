"""Every step refused in the wrong stage, by the wrong person or with bad input, leaving no trace in history."""

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from models.enums import Disposition, RootCauseMethod, Stage, VerificationResult
from models.payloads import (
    CancelInput,
    CompleteActionInput,
    ContainmentInput,
    ExtensionDecisionInput,
    ExtensionRequestInput,
    PlanInput,
    PlannedAction,
    ReassignInput,
    RootCauseInput,
    VerifyInput,
)
from tests.builders import signed
from tests.workflows.harness import Capa, actor, raise_record, running_worker
from workflows.record import RecordWorkflow


async def _rejected(capa: Capa, update: Any, arg: Any) -> ApplicationError:
    """Send a step that must be refused; return the refusal and prove it changed nothing."""
    before = await capa.state()
    with pytest.raises(WorkflowUpdateFailedError) as caught:
        await capa.handle.execute_update(update, arg)
    after = await capa.state()
    assert after == before
    cause = caught.value.cause
    assert isinstance(cause, ApplicationError)
    return cause


async def _assert_history_clean(capa: Capa) -> None:
    """Rejected updates never reach history, and no workflow task failed."""
    history = await capa.handle.fetch_history()
    types = [e.event_type for e in history.events]
    assert EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED not in types
    assert EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_REJECTED not in types
    accepted = types.count(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED)
    steps = [e for e in (await capa.state()).events if e.actor != "system" and e.seq > 1]
    assert accepted == len(steps)


async def test_steps_in_the_wrong_stage_are_refused(env: WorkflowEnvironment, engine: Engine) -> None:
    """Root cause, a plan, verification or a review before their stage each say which stage the record is in."""
    async with running_worker(env.client, engine) as queue:
        capa = await raise_record(env.client, queue)
        later = (await env.get_current_time()) + timedelta(days=5)
        steps: list[tuple[Any, Any]] = [
            (
                RecordWorkflow.root_cause,
                RootCauseInput(actor=actor("olivia"), method=RootCauseMethod.OTHER, cause="Guess"),
            ),
            (
                RecordWorkflow.plan,
                PlanInput(
                    actor=actor("olivia"), actions=[PlannedAction(owner="olivia", due_at=later, description="x")]
                ),
            ),
            (RecordWorkflow.complete_action, CompleteActionInput(actor=actor("olivia"), action_id="A1", evidence="x")),
            (
                RecordWorkflow.verify,
                signed(capa.handle.id, VerifyInput(actor=actor("maria"), result=VerificationResult.PASS, evidence="x")),
            ),
        ]
        for update, arg in steps:
            refusal = await _rejected(capa, update, arg)
            assert refusal.type == "WrongStage", refusal.message
            assert "is in stage containment" in refusal.message
        await _assert_history_clean(capa)


async def test_steps_by_the_wrong_person_are_refused(env: WorkflowEnvironment, engine: Engine) -> None:
    """An operator or another owner cannot contain; only managers verify, reassign and cancel."""
    async with running_worker(env.client, engine) as queue:
        capa = await raise_record(env.client, queue)
        containment = {"summary": "Quarantined", "disposition": Disposition.QUARANTINE}
        for name in ("otto", "oscar"):
            refusal = await _rejected(capa, RecordWorkflow.contain, ContainmentInput(actor=actor(name), **containment))
            assert refusal.type == "NotAllowed"
            assert f"{name} may not submit containment" in refusal.message
            assert "only its owner (olivia) or a manager" in refusal.message
        refusal = await _rejected(
            capa, RecordWorkflow.cancel, signed(capa.handle.id, CancelInput(actor=actor("olivia"), reason="dup"))
        )
        assert refusal.type == "NotAllowed"
        assert "managers only" in refusal.message
        refusal = await _rejected(
            capa, RecordWorkflow.reassign, ReassignInput(actor=actor("oscar"), new_owner="oscar", reason="mine")
        )
        assert refusal.type == "NotAllowed"
        await _assert_history_clean(capa)


async def test_bad_payloads_are_refused_naming_the_field(env: WorkflowEnvironment, engine: Engine) -> None:
    """A five-whys without whys, a plan due in the past and a hostile raw payload are refused before history."""
    async with running_worker(env.client, engine) as queue:
        capa = await raise_record(env.client, queue)
        raw = {"actor": {"name": "olivia", "roles": ["owner"]}, "summary": "", "disposition": "burn-it"}
        await _rejected(capa, "contain", raw)
        await capa.handle.execute_update(
            RecordWorkflow.contain,
            ContainmentInput(actor=actor("olivia"), summary="Quarantined", disposition=Disposition.QUARANTINE),
        )
        refusal = await _rejected(
            capa,
            RecordWorkflow.root_cause,
            RootCauseInput(actor=actor("olivia"), method=RootCauseMethod.FIVE_WHYS, cause="Tool worn"),
        )
        assert refusal.type == "InvalidInput"
        assert refusal.message.startswith("whys:")
        await capa.handle.execute_update(
            RecordWorkflow.root_cause,
            RootCauseInput(actor=actor("olivia"), method=RootCauseMethod.OTHER, cause="Tool worn"),
        )
        past = (await env.get_current_time()) - timedelta(days=1)
        refusal = await _rejected(
            capa,
            RecordWorkflow.plan,
            PlanInput(actor=actor("olivia"), actions=[PlannedAction(owner="oscar", due_at=past, description="x")]),
        )
        assert refusal.type == "InvalidInput"
        assert refusal.message.startswith("actions.0.due_at: ")
        # The field at fault travels beside the message, for each front end to name in its own words.
        assert refusal.details == ({"field": "actions.0.due_at", "message": refusal.message.split(": ", 1)[1]},)
        await _assert_history_clean(capa)


async def test_segregation_of_duties(env: WorkflowEnvironment, engine: Engine) -> None:
    """A manager who completed an action may not verify it; the requester of an extension may not approve it."""
    async with running_worker(env.client, engine) as queue:
        capa = await raise_record(env.client, queue, owner="mike")
        h = capa.handle
        await h.execute_update(
            RecordWorkflow.request_extension,
            ExtensionRequestInput(
                actor=actor("mike"), until=(await env.get_current_time()) + timedelta(days=5), reason="Audit week"
            ),
        )
        refusal = await _rejected(
            capa,
            RecordWorkflow.decide_extension,
            signed(capa.handle.id, ExtensionDecisionInput(actor=actor("mike"), approve=True)),
        )
        assert refusal.type == "NotAllowed"
        assert "own extension request" in refusal.message
        await h.execute_update(
            RecordWorkflow.decide_extension,
            signed(capa.handle.id, ExtensionDecisionInput(actor=actor("maria"), approve=True)),
        )

        await h.execute_update(
            RecordWorkflow.contain,
            ContainmentInput(actor=actor("mike"), summary="Sorted 100%", disposition=Disposition.REWORK),
        )
        await h.execute_update(
            RecordWorkflow.root_cause,
            RootCauseInput(actor=actor("mike"), method=RootCauseMethod.EIGHT_D, cause="Supplier changed resin"),
        )
        due = (await env.get_current_time()) + timedelta(days=3)
        await h.execute_update(
            RecordWorkflow.plan,
            PlanInput(actor=actor("mike"), actions=[PlannedAction(owner="oscar", due_at=due, description="Audit")]),
        )
        await h.execute_update(
            RecordWorkflow.complete_action,
            CompleteActionInput(actor=actor("maria"), action_id="A1", evidence="Done on oscar's behalf"),
        )
        assert (await capa.state()).stage is Stage.VERIFICATION
        for implementer in ("maria", "oscar"):
            refusal = await _rejected(
                capa,
                RecordWorkflow.verify,
                signed(
                    capa.handle.id, VerifyInput(actor=actor(implementer), result=VerificationResult.PASS, evidence="ok")
                ),
            )
            assert refusal.type == "NotAllowed"
        await h.execute_update(
            RecordWorkflow.verify,
            signed(capa.handle.id, VerifyInput(actor=actor("nina"), result=VerificationResult.PASS, evidence="ok")),
        )
        assert (await capa.state()).stage is Stage.EFFECTIVENESS
        await _assert_history_clean(capa)
