"""Records started under the earlier workflow shape move to the current one without a reset.

The default policy's major severity: containment 72h, reminders 2d and 12h before due, escalation at the due
time; olivia reports to mike.
"""

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import Engine
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.policy import PolicyActivities
from client.records import CapaClient
from core import readmodel
from core.settings import Settings
from models.enums import Disposition, EventKind, Severity, Source, Stage
from models.payloads import (
    STEP_REPEATED,
    CapaWorkflowInput,
    ContainmentInput,
    ContainmentStep,
    ExtensionRequestInput,
    RaiseInput,
)
from tests.policies import EARLIER
from tests.workflows.harness import Capa, actor, new_record_id, running_worker, running_worker_on
from workflows.capa import CapaWorkflow
from workflows.record import RecordWorkflow


async def _legacy_record(env: WorkflowEnvironment, queue: str) -> Capa:
    raised = RaiseInput(
        record_id=new_record_id(),
        title="Burr on housing edge",
        description="Housings from line 3 show a burr on the mating edge.",
        severity=Severity.MAJOR,
        source=Source.INSPECTION,
        owner="olivia",
        raised_by=actor("otto"),
    )
    handle = await env.client.start_workflow(
        CapaWorkflow.run, CapaWorkflowInput(raised=raised), id=raised.record_id, task_queue=queue
    )
    capa = Capa(env.client, handle)  # type: ignore[arg-type]
    await capa.wait_for(lambda s: s.clock is not None)
    return capa


async def test_a_record_in_flight_moves_to_the_new_shape_and_keeps_its_clocks(
    env: WorkflowEnvironment, engine: Engine
) -> None:
    """A record of the earlier shape, a reminder already sent, is migrated: it continues as new into the current
    workflow with its timeline, its clock and its pending extension request; its next alarm still rings at the
    policy's offset, and steps go on."""
    async with running_worker(env.client, engine) as queue:
        capa = await _legacy_record(env, queue)
        await env.sleep(timedelta(days=1, minutes=1))  # the 2-days-before reminder is out
        before = await capa.wait_for(lambda s: any(e.kind is EventKind.REMINDER_SENT for e in s.events))
        assert before.clock is not None
        extension = ExtensionRequestInput(
            actor=actor("olivia"), until=before.clock.due_at + timedelta(days=1), reason="Supplier data late"
        )
        await capa.handle.execute_update(RecordWorkflow.request_extension, extension, id="extension-1")
        first_run = (await capa.handle.describe()).run_id
        await env.client.get_workflow_handle_for(CapaWorkflow.run, capa.handle.id).execute_update(CapaWorkflow.migrate)
        migrated = await capa.wait_for(lambda s: s.clock is not None and s.clock.alarm > 0)
        with pytest.raises(WorkflowUpdateFailedError) as repeated:  # the same step sent again after the move
            await capa.handle.execute_update(RecordWorkflow.request_extension, extension, id="extension-1")
        described = await capa.handle.describe()
        await env.sleep(timedelta(days=2, hours=1))  # past the 12-hours-before reminder and the due time
        after_alarms = await capa.wait_for(lambda s: any(e.kind is EventKind.ESCALATED for e in s.events))
        await capa.step(
            RecordWorkflow.contain,
            ContainmentInput(actor=actor("olivia"), summary="Sorted", disposition=Disposition.REWORK),
        )
        final = await capa.state()
        old_history = await env.client.get_workflow_handle(capa.handle.id, run_id=first_run).fetch_history()

    assert described.workflow_type == "CapaRecord"
    assert isinstance(repeated.value.cause, ApplicationError)
    assert repeated.value.cause.type == STEP_REPEATED
    assert described.run_id != first_run
    assert old_history.events[-1].event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
    assert [e.seq for e in migrated.events] == [e.seq for e in before.events] + [len(before.events) + 1]
    assert migrated.pending_extension is not None
    assert migrated.clock is not None
    assert migrated.clock.reminders_sent == 1
    kinds = [e.kind for e in after_alarms.events]
    assert kinds.count(EventKind.REMINDER_SENT) == 2, "the second reminder rang once, after the move"
    [escalated] = [e for e in after_alarms.events if e.kind is EventKind.ESCALATED]
    assert escalated.facts()["recipients"] == ["mike"]
    assert final.stage is Stage.ROOT_CAUSE
    stored = readmodel.load_record_state(engine, final.id)
    assert stored is not None
    assert [e.seq for e in stored.events] == [e.seq for e in final.events]


async def test_a_step_on_a_record_not_yet_moved_answers_with_its_entry(
    env: WorkflowEnvironment, engine: Engine
) -> None:
    """Until a release's migration moves it, a record of the earlier shape takes steps as before, and the answer
    a person gets names the timeline entry the step wrote, as for a record of the current shape."""
    async with running_worker(env.client, engine) as queue:
        capa = await _legacy_record(env, queue)
        client = CapaClient(env.client, engine, Settings(task_queue=queue))
        outcome = await client.take_step(
            capa.handle.id, "olivia", ContainmentStep(summary="Sorted", disposition=Disposition.REWORK)
        )
    [entry] = outcome.entries
    assert (outcome.stage, entry.seq, entry.kind, entry.actor) == (
        Stage.ROOT_CAUSE,
        outcome.seq,
        EventKind.CONTAINMENT_SUBMITTED,
        "olivia",
    )


async def test_a_record_with_an_activity_in_flight_is_moved_only_once_it_has_settled(
    dev_server: WorkflowEnvironment, engine: Engine
) -> None:
    """The earlier shape cannot take the move in the same workflow task as an activity's result, so a record
    whose read-model write is still pending is named as busy and left alone; run again, it moves."""
    queue = f"capa-test-{uuid.uuid4()}"
    policy = PolicyActivities(EARLIER).pin_policy
    with ThreadPoolExecutor(max_workers=2) as executor:
        async with Worker(
            dev_server.client,
            task_queue=queue,
            workflows=[CapaWorkflow],
            activities=[policy],
            activity_executor=executor,
        ):
            capa = await _legacy_record(dev_server, queue)  # open; its first read-model write waits for a worker
            client = CapaClient(dev_server.client, engine, Settings(task_queue=queue))
            busy_moved, busy_refused = await client.migrate_records()
    async with running_worker_on(dev_server.client, engine, queue):
        await capa.wait_for(lambda s: readmodel.load_record_state(engine, s.id) is not None)
        # Settled: its row written, and no activity (a notice after the row) still in flight.
        await capa.activities_done()
        moved, refused = await client.migrate_records()
        described = await capa.handle.describe()

    assert capa.handle.id not in busy_moved
    assert "busy" in busy_refused[capa.handle.id]
    assert capa.handle.id in moved, refused
    assert capa.handle.id not in refused
    assert described.workflow_type == "CapaRecord"
