"""Honest pauses through the record's workflow (time-skipping server): a paused step rings nothing and resumes
with the time it had left; a declined request changes nothing; only quality decides; only the holder asks.

The default policy's major severity: containment 72h, reminders 2d and 12h before due, escalation levels at 0s,
3d and 7d after due; olivia (owner) reports to mike."""

from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from client.errors import CapaError, ErrorKind
from client.records import CapaClient
from core.settings import Settings
from models.enums import EventKind
from models.payloads import (
    Event,
    PauseDecisionEntry,
    PauseDecisionInput,
    PauseRequestInput,
    PauseRequestStep,
    ResumeEntry,
    ResumeInput,
)
from tests.workflows.harness import Capa, actor, close_to, raise_record, running_worker
from workflows.record import RecordWorkflow

_RINGS = (EventKind.REMINDER_SENT, EventKind.ESCALATED)


def _rang(events: list[Event]) -> list[Event]:
    return [e for e in events if e.kind in _RINGS]


async def _ask(capa: Capa, who: str = "olivia") -> None:
    now = (await capa.state()).raised_at
    inp = PauseRequestInput(
        actor=actor(who),
        waiting_on="supplier",
        expected_until=now + timedelta(days=30),
        reason="Waiting for the supplier's 8D on the resin lot",
    )
    await capa.step(RecordWorkflow.request_pause, inp)


async def test_a_paused_step_rings_nothing_and_resumes_with_its_remaining_time(
    env: WorkflowEnvironment, engine: Engine
) -> None:
    """Paused 12h into a 72h containment (60h left): ten days pass without a reminder or an escalation; resumed,
    the step falls due 60h later and its reminders and first escalation ring on the new due."""
    async with running_worker(env.client, engine) as queue:
        capa = await raise_record(env.client, queue)
        raised_at = (await capa.state()).raised_at
        await env.sleep(timedelta(hours=12))
        await _ask(capa)
        asked = await capa.state()
        assert asked.clock is not None
        assert asked.clock.paused_at is None  # asking alone stops nothing
        await capa.step(RecordWorkflow.decide_pause, PauseDecisionInput(actor=actor("quinn"), approve=True))
        paused = await capa.state()
        assert paused.clock is not None
        assert paused.clock.paused_at is not None
        assert paused.clock.waiting_on == "supplier"
        remaining = paused.clock.remaining
        assert remaining is not None
        assert close_to(raised_at + timedelta(hours=72) - remaining, paused.clock.paused_at)
        await env.sleep(timedelta(days=10))
        during = await capa.state()
        assert _rang(during.events) == []

        await capa.step(RecordWorkflow.resume, ResumeInput(actor=actor("olivia"), reason="The 8D arrived"))
        resumed = await capa.state()
        assert resumed.clock is not None
        resumed_at = resumed.events[-1].at
        new_due = resumed.clock.due_at
        assert new_due == resumed_at + remaining
        assert resumed.clock.paused_at is None
        await env.sleep(remaining + timedelta(hours=1))
        state = await capa.wait_for(lambda s: len(_rang(s.events)) >= 3)

    kinds = [e.kind for e in state.events]
    assert EventKind.PAUSE_REQUESTED in kinds
    decision = next(e for e in state.events if e.kind is EventKind.PAUSE_DECIDED)
    assert isinstance(decision.details, PauseDecisionEntry)
    assert decision.details.approve
    assert decision.details.signature is not None
    resume = next(e for e in state.events if e.kind is EventKind.RESUMED)
    assert isinstance(resume.details, ResumeEntry)
    assert resume.details.due_at == new_due
    rang = _rang(state.events)
    assert all(e.at >= resumed_at for e in rang)
    scheduled = [datetime.fromisoformat(e.facts()["scheduled_at"]) for e in rang]
    assert scheduled[:3] == [new_due - timedelta(days=2), new_due - timedelta(hours=12), new_due]
    escalation = rang[2]
    assert escalation.kind is EventKind.ESCALATED
    assert close_to(escalation.at, new_due)
    assert state.clock is not None
    assert state.clock.due_at == new_due


async def test_a_declined_request_changes_nothing(env: WorkflowEnvironment, engine: Engine) -> None:
    """Quality declines: the clock keeps its due, is not paused, and escalates at its original due."""
    async with running_worker(env.client, engine) as queue:
        capa = await raise_record(env.client, queue)
        before = await capa.state()
        assert before.clock is not None
        due = before.clock.due_at
        await _ask(capa)
        decline = PauseDecisionInput(actor=actor("quinn"), approve=False, reason="Contain with stock on hand")
        await capa.step(RecordWorkflow.decide_pause, decline)
        after = await capa.state()
        await env.sleep(timedelta(hours=73))
        state = await capa.wait_for(lambda s: len(_rang(s.events)) >= 3)

    assert after.clock is not None
    assert after.clock.due_at == due
    assert after.clock.paused_at is None
    assert after.pending_pauses == []
    assert close_to(_rang(state.events)[2].at, due)


async def test_only_quality_decides_and_only_the_holder_asks(env: WorkflowEnvironment, engine: Engine) -> None:
    """Otto (an operator) and quinn (quality, not the holder) may not ask; mike (a manager) may not decide;
    a decline without a reason is refused naming ``reason``; resume of a running clock is refused."""
    async with running_worker(env.client, engine) as queue:
        capa = await raise_record(env.client, queue)
        client = CapaClient(env.client, engine, Settings(task_queue=queue))
        until = (await capa.state()).raised_at + timedelta(days=20)
        step = PauseRequestStep(waiting_on="customer", expected_until=until, reason="Customer to confirm the spec")
        for who in ("otto", "quinn"):
            with pytest.raises(CapaError) as not_holder:
                await client.take_step(capa.handle.id, who, step)
            assert not_holder.value.kind is ErrorKind.NOT_ALLOWED
            assert "only its holder (olivia)" in not_holder.value.message
        with pytest.raises(WorkflowUpdateFailedError):
            await capa.step(RecordWorkflow.resume, ResumeInput(actor=actor("olivia")))
        await client.take_step(capa.handle.id, "olivia", step)
        with pytest.raises(WorkflowUpdateFailedError) as manager:
            await capa.step(RecordWorkflow.decide_pause, PauseDecisionInput(actor=actor("mike"), approve=True))
        assert "quality only" in str(manager.value.cause)
        with pytest.raises(WorkflowUpdateFailedError) as no_reason:
            await capa.step(RecordWorkflow.decide_pause, PauseDecisionInput(actor=actor("quinn"), approve=False))
        assert "reason" in str(no_reason.value.cause)
        state = await capa.state()

    assert [e.kind for e in state.events][-1] is EventKind.PAUSE_REQUESTED
    assert state.clock is not None
    assert state.clock.paused_at is None
    [pending] = state.pending_pauses
    assert (pending.requested_by, pending.waiting_on) == ("olivia", "customer")
