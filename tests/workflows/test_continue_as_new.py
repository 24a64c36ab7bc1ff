"""A record that stays open for long keeps its history bounded by continuing as new, losing nothing."""

from datetime import timedelta

import pytest
from sqlalchemy import Engine
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from core.readmodel import load_record_state
from models.enums import Disposition, EventKind, Stage
from models.payloads import (
    STEP_REPEATED,
    ContainmentInput,
    EscalationEntry,
    ExtensionDecisionInput,
    ExtensionRequestInput,
)
from tests.builders import signed
from tests.workflows.harness import actor, raise_record, running_worker
from workflows.record import RecordWorkflow


async def test_state_timeline_and_timers_survive_continue_as_new(env: WorkflowEnvironment, engine: Engine) -> None:
    """Many extensions push the history past its bound; the next run carries the timeline and the clock."""
    async with running_worker(env.client, engine) as queue:
        capa = await raise_record(env.client, queue, max_history_events=100)
        first_run = (await capa.handle.describe()).run_id
        for round_number in range(1, 9):
            current = await capa.state()
            assert current.clock is not None
            await capa.step(
                RecordWorkflow.request_extension,
                ExtensionRequestInput(
                    actor=actor("olivia"),
                    until=current.clock.due_at + timedelta(hours=1),
                    reason=f"Supplier report delayed ({round_number})",
                ),
            )
            await capa.step(
                RecordWorkflow.decide_extension,
                signed(capa.handle.id, ExtensionDecisionInput(actor=actor("mike"), approve=True)),
                update_id=f"decision-{round_number}",
            )
        state = await capa.wait_for(lambda s: len(s.events) == 17)
        # A client retrying a step it sent before the continue-as-new (same update id) is refused, not applied
        # twice: Temporal's own de-duplication covers one run only.
        assert state.clock is not None
        await capa.step(
            RecordWorkflow.request_extension,
            ExtensionRequestInput(actor=actor("olivia"), until=state.clock.due_at + timedelta(hours=1), reason="9"),
        )
        with pytest.raises(WorkflowUpdateFailedError) as repeated:
            await capa.step(
                RecordWorkflow.decide_extension,
                signed(capa.handle.id, ExtensionDecisionInput(actor=actor("mike"), approve=True)),
                update_id="decision-1",
            )
        await capa.step(
            RecordWorkflow.decide_extension,
            signed(capa.handle.id, ExtensionDecisionInput(actor=actor("mike"), approve=False, reason="No")),
        )
        latest = await capa.handle.describe()
        history = await env.client.get_workflow_handle(capa.handle.id, run_id=first_run).fetch_history()
        await env.sleep(timedelta(hours=81))
        escalated = await capa.wait_for(lambda s: any(e.kind is EventKind.ESCALATED for e in s.events))
        await capa.step(
            RecordWorkflow.contain,
            ContainmentInput(actor=actor("olivia"), summary="Sorted", disposition=Disposition.REWORK),
        )
        after = await capa.state()

    assert isinstance(repeated.value.cause, ApplicationError)
    assert repeated.value.cause.type == STEP_REPEATED
    assert latest.run_id != first_run
    assert history.events[-1].HasField("workflow_execution_continued_as_new_event_attributes")
    assert [e.seq for e in state.events] == list(range(1, 18))
    assert [e.kind for e in after.events].count(EventKind.EXTENSION_DECIDED) == 9
    assert state.clock is not None
    assert state.clock.extensions == 8
    assert state.clock.due_at == state.clock.original_due_at + timedelta(hours=8)
    [level_one] = [e for e in escalated.events if e.kind is EventKind.ESCALATED]
    assert isinstance(level_one.details, EscalationEntry)
    assert level_one.details.due_at == state.clock.due_at
    assert after.stage is Stage.ROOT_CAUSE
    stored = load_record_state(engine, after.id)
    assert stored is not None
    assert [e.seq for e in stored.events] == [e.seq for e in after.events]
