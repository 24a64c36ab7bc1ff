"""The whole CAPA lifecycle on the time-skipping server, including its loops and the cancel path."""

from datetime import timedelta

from sqlalchemy import Engine
from temporalio.testing import WorkflowEnvironment

from core.readmodel import load_record_state
from models.enums import (
    ActionStatus,
    CauseCategory,
    Disposition,
    EffectivenessResult,
    EventKind,
    RootCauseMethod,
    Severity,
    Stage,
    VerificationResult,
)
from models.payloads import (
    CancelInput,
    CompleteActionInput,
    ContainmentInput,
    PlanInput,
    PlannedAction,
    ReviewInput,
    RootCauseInput,
    VerifyInput,
)
from tests.builders import signed
from tests.workflows.harness import Capa, actor, close_to, raise_record, running_worker
from workflows.record import RecordWorkflow


async def _to_verification(capa: Capa, env: WorkflowEnvironment) -> None:
    """Contain, find the cause, plan two actions and complete them."""
    h = capa.handle
    await h.execute_update(
        RecordWorkflow.contain,
        ContainmentInput(actor=actor("olivia"), summary="Lot quarantined", disposition=Disposition.QUARANTINE),
    )
    await h.execute_update(
        RecordWorkflow.root_cause,
        RootCauseInput(
            actor=actor("olivia"),
            method=RootCauseMethod.FIVE_WHYS,
            cause="Deburring tool worn beyond its change interval",
            whys=["Burr on edge", "Tool worn", "No tool-life counter"],
            category=CauseCategory.MACHINE,
        ),
    )
    now = await env.get_current_time()
    await h.execute_update(
        RecordWorkflow.plan,
        PlanInput(
            actor=actor("olivia"),
            actions=[
                PlannedAction(owner="olivia", due_at=now + timedelta(days=10), description="Replace tool"),
                PlannedAction(owner="oscar", due_at=now + timedelta(days=12), description="Add tool-life counter"),
            ],
        ),
    )
    for action_id, owner in (("A1", "olivia"), ("A2", "oscar")):
        await h.execute_update(
            RecordWorkflow.complete_action,
            CompleteActionInput(actor=actor(owner), action_id=action_id, evidence=f"{action_id} done, see WO-1"),
        )


async def test_a_record_goes_from_raised_to_closed(env: WorkflowEnvironment, engine: Engine) -> None:
    """Every stage in order, the effectiveness window waited out, and the workflow completes closed."""
    async with running_worker(env.client, engine) as queue:
        capa = await raise_record(env.client, queue, severity=Severity.MAJOR)
        await _to_verification(capa, env)
        assert (await capa.state()).stage is Stage.VERIFICATION
        result = await capa.handle.execute_update(
            RecordWorkflow.verify,
            signed(
                capa.handle.id,
                VerifyInput(actor=actor("maria"), result=VerificationResult.PASS, evidence="Checked 50 housings"),
            ),
        )
        assert result.stage is Stage.EFFECTIVENESS
        verified_at = (await capa.events(EventKind.VERIFIED))[0].at

        await env.sleep(timedelta(days=61))
        state = await capa.wait_for(lambda s: s.clock is not None)
        [due] = [e for e in state.events if e.kind is EventKind.EFFECTIVENESS_DUE]
        assert close_to(due.at, verified_at + timedelta(days=60))

        await capa.handle.execute_update(
            RecordWorkflow.review,
            signed(
                capa.handle.id,
                ReviewInput(
                    actor=actor("maria"), result=EffectivenessResult.EFFECTIVE, evidence="No recurrence in 60d"
                ),
            ),
        )
        final = await capa.handle.result()

    assert final.stage is Stage.CLOSED
    kinds = [e.kind for e in final.events if e.kind not in (EventKind.REMINDER_SENT, EventKind.ESCALATED)]
    assert kinds == [
        EventKind.RAISED,
        EventKind.CONTAINMENT_SUBMITTED,
        EventKind.ROOT_CAUSE_SUBMITTED,
        EventKind.PLAN_SUBMITTED,
        EventKind.ACTION_COMPLETED,
        EventKind.ACTION_COMPLETED,
        EventKind.VERIFIED,
        EventKind.EFFECTIVENESS_DUE,
        EventKind.EFFECTIVENESS_REVIEWED,
        EventKind.CLOSED,
    ]
    assert [e.seq for e in final.events] == list(range(1, len(final.events) + 1))
    assert all(a.status is ActionStatus.COMPLETED for a in final.actions)
    stored = load_record_state(engine, final.id)
    assert stored is not None
    assert stored.stage is Stage.CLOSED
    assert [e.kind for e in stored.events] == [e.kind for e in final.events]
    assert await capa.failed_workflow_tasks() == 0


async def test_failed_verification_sends_the_record_back_to_action(env: WorkflowEnvironment, engine: Engine) -> None:
    """A fail verdict reopens the action stage for a new plan; the old actions stay on record."""
    async with running_worker(env.client, engine) as queue:
        capa = await raise_record(env.client, queue)
        await _to_verification(capa, env)
        result = await capa.handle.execute_update(
            RecordWorkflow.verify,
            signed(
                capa.handle.id,
                VerifyInput(actor=actor("maria"), result=VerificationResult.FAIL, evidence="Burr still present"),
            ),
        )
        state = await capa.state()
    assert result.stage is Stage.ACTION
    assert state.awaiting_plan
    assert state.round == 2
    assert state.clock is not None
    assert state.clock.holder == "olivia"
    assert [a.status for a in state.actions] == [ActionStatus.COMPLETED, ActionStatus.COMPLETED]


async def test_not_effective_reopens_root_cause_as_cycle_two(env: WorkflowEnvironment, engine: Engine) -> None:
    """A not-effective review starts cycle 2 at root cause with a fresh root-cause deadline."""
    async with running_worker(env.client, engine) as queue:
        capa = await raise_record(env.client, queue, severity=Severity.CRITICAL)
        await _to_verification(capa, env)
        await capa.handle.execute_update(
            RecordWorkflow.verify,
            signed(capa.handle.id, VerifyInput(actor=actor("maria"), result=VerificationResult.PASS, evidence="ok")),
        )
        await env.sleep(timedelta(days=31))
        await capa.wait_for(lambda s: s.clock is not None)
        result = await capa.handle.execute_update(
            RecordWorkflow.review,
            signed(
                capa.handle.id,
                ReviewInput(
                    actor=actor("mike"), result=EffectivenessResult.NOT_EFFECTIVE, evidence="Recurred on L-4790"
                ),
            ),
        )
        state = await capa.state()
        reviewed = (await capa.events(EventKind.EFFECTIVENESS_REVIEWED))[0]
    assert result.stage is Stage.ROOT_CAUSE
    assert state.cycle == 2
    assert state.clock is not None
    assert state.clock.due_at == reviewed.at + timedelta(days=7)


async def test_a_ninety_day_effectiveness_window_passes_in_milliseconds(
    env: WorkflowEnvironment, engine: Engine
) -> None:
    """A minor record's 90-day window is a durable timer: the review falls due exactly 90 days on."""
    async with running_worker(env.client, engine) as queue:
        capa = await raise_record(env.client, queue, severity=Severity.MINOR)
        await _to_verification(capa, env)
        await capa.handle.execute_update(
            RecordWorkflow.verify,
            signed(capa.handle.id, VerifyInput(actor=actor("maria"), result=VerificationResult.PASS, evidence="ok")),
        )
        verified = (await capa.events(EventKind.VERIFIED))[0]
        await env.sleep(timedelta(days=89))
        assert (await capa.events(EventKind.EFFECTIVENESS_DUE)) == []
        await env.sleep(timedelta(days=2))
        state = await capa.wait_for(lambda s: s.clock is not None)
    [due] = [e for e in state.events if e.kind is EventKind.EFFECTIVENESS_DUE]
    assert close_to(due.at, verified.at + timedelta(days=90))
    assert state.clock is not None
    # The review falls due 30 days after the window ends, to the second, however late the alarm was handled.
    assert state.clock.due_at == verified.at + timedelta(days=90 + 30)


async def test_cancel_stops_every_timer(env: WorkflowEnvironment, engine: Engine) -> None:
    """A manager's cancel ends the workflow; no reminder or escalation fires afterwards."""
    async with running_worker(env.client, engine) as queue:
        capa = await raise_record(env.client, queue)
        await capa.handle.execute_update(
            RecordWorkflow.cancel,
            signed(capa.handle.id, CancelInput(actor=actor("mike"), reason="Raised twice; see NC-2026-0001")),
        )
        final = await capa.handle.result()
        await env.sleep(timedelta(days=30))
        after = await capa.state()
    assert final.stage is Stage.CANCELLED
    assert final.cancel_reason == "Raised twice; see NC-2026-0001"
    assert [e.kind for e in after.events] == [EventKind.RAISED, EventKind.CANCELLED]
    assert after.clock is None
