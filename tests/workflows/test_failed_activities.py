"""An activity that fails for good stops neither a record nor its alarms."""

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import Engine
from temporalio import activity
from temporalio.client import WorkflowExecutionStatus
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from core import readmodel
from models.enums import Disposition, EventKind, Stage
from models.payloads import AlarmKind, AlarmSchedule, ContainmentInput, PlannedAlarm, RingResult, StepEffects
from tests.policies import EARLIER
from tests.workflows.harness import actor, raise_record
from worker import WORKFLOWS, build_activities
from workflows.alarm import AlarmWorkflow
from workflows.record import RecordWorkflow


async def test_a_ring_that_fails_for_good_is_rung_again_and_the_later_alarms_follow(env: WorkflowEnvironment) -> None:
    """A non-retryable failure of the first ring (a fault in a release, say) does not end the alarm workflow, so
    the escalation it was ringing and the one after it still reach the record, in order."""
    rings: list[list[int]] = []

    @activity.defn(name="ring")
    async def ring(schedule: AlarmSchedule) -> RingResult:
        rings.append([alarm.level for alarm in schedule.alarms])
        if len(rings) == 1:
            raise ApplicationError("the record refused the payload", non_retryable=True)
        return RingResult(rung=1)

    now = await env.get_current_time()
    schedule = AlarmSchedule(
        record_id="NC-2026-0001",
        alarm=1,
        holder="olivia",
        alarms=[
            PlannedAlarm(at=now + timedelta(hours=1), kind=AlarmKind.ESCALATION, level=1),
            PlannedAlarm(at=now + timedelta(hours=49), kind=AlarmKind.ESCALATION, level=2),
        ],
    )
    queue = f"capa-test-{uuid.uuid4()}"
    async with Worker(env.client, task_queue=queue, workflows=[AlarmWorkflow], activities=[ring]):
        applied = await env.client.execute_workflow(
            AlarmWorkflow.run, schedule, id=f"alarm-{uuid.uuid4()}", task_queue=queue
        )

    assert applied == 2
    assert rings == [[1, 2], [1, 2], [2]]


async def test_a_step_whose_settling_fails_for_good_leaves_the_record_running(
    env: WorkflowEnvironment, engine: Engine
) -> None:
    """The raise's ``settle_step`` fails with a non-retryable error: the record does not fail with it, takes
    its next step, and that step's settling writes the record whole, so the read model holds every entry."""
    activities = build_activities(env.client, engine=engine, policy=EARLIER)
    [settle] = [fn for fn in activities if fn.__name__ == "settle_step"]
    failed: list[str] = []

    @activity.defn(name="settle_step")
    async def settle_once_failing(effects: StepEffects) -> None:
        if not failed:
            failed.append(effects.record_id)
            raise ApplicationError("a fault in this release", non_retryable=True)
        await settle(effects)

    queue = f"capa-test-{uuid.uuid4()}"
    others = [fn for fn in activities if fn is not settle]
    with ThreadPoolExecutor(max_workers=4) as executor:
        async with Worker(
            env.client,
            task_queue=queue,
            workflows=WORKFLOWS,
            activities=[*others, settle_once_failing],
            activity_executor=executor,
        ):
            capa = await raise_record(env.client, queue)
            await capa.step(
                RecordWorkflow.contain,
                ContainmentInput(actor=actor("olivia"), summary="Quarantined", disposition=Disposition.QUARANTINE),
            )
            state = await capa.wait_for(lambda s: _stored_seqs(engine, s.id) == [e.seq for e in s.events])
            described = await capa.handle.describe()

    assert failed == [state.id]
    assert described.status == WorkflowExecutionStatus.RUNNING
    assert state.stage is Stage.ROOT_CAUSE
    assert [e.kind for e in state.events] == [EventKind.RAISED, EventKind.CONTAINMENT_SUBMITTED]


def _stored_seqs(engine: Engine, record_id: str) -> list[int]:
    stored = readmodel.load_record_state(engine, record_id)
    return [e.seq for e in stored.events] if stored is not None else []
