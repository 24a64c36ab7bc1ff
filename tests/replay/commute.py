"""Record histories in which a step shares one workflow task with something else (``make histories``).

The replay suite (``test_commutation.py``) replays each of them as the SDK orders such a task (updates first)
and split so that the other event is handed over alone, first. Each scenario makes the shared task the way a
worker outage does: the record's workflow worker is stopped, the other thing happens (activities complete on a
worker that runs only activities, the record is started, an alarm rings, a second step is sent), the step is
sent, and the workflow worker starts again and gets both in one task.

    python -m tests.replay.commute [FOLDER]
"""

import asyncio
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from core.database import make_engine
from core.migrations import ensure_schema
from core.settings import Settings
from models import search_attributes
from models.enums import (
    ActionKind,
    Disposition,
    EffectivenessResult,
    RootCauseMethod,
    Severity,
    Source,
    VerificationResult,
)
from models.payloads import (
    AlarmInput,
    AlarmKind,
    CancelInput,
    CapaState,
    CompleteActionInput,
    ContainmentInput,
    ExtensionDecisionInput,
    ExtensionRequestInput,
    PlanInput,
    PlannedAction,
    RaiseInput,
    ReassignInput,
    RecordInput,
    ReviewInput,
    RootCauseInput,
    VerifyInput,
)
from models.policy import Policy, parse_policy
from tests.builders import signed
from tests.conftest import TEMPORAL_CLI, seed_directory
from tests.policies import uniform_policy
from tests.workflows.harness import actor
from worker import WORKFLOWS, build_activities
from workflows.record import RecordWorkflow

# Each recording has a folder of its own, named by when it was made: histories of earlier shapes stay and replay.
FOLDER = Path(__file__).parent / "histories" / "commutation" / f"{datetime.now(UTC):%Y-%m-%d-%H%M}"
# Long windows, so no alarm rings by itself while a scenario runs; the alarm scenario rings one by hand.
POLICY = uniform_policy("commutation", effectiveness_after="1s", remind_before=["1d"], escalate_after=["0s"])

Step = Callable[[WorkflowHandle[RecordWorkflow, CapaState]], Coroutine[Any, Any, Any]]


class Stand:
    """A dev server, a read model, and separately startable workflow and activity workers on one task queue."""

    def __init__(self, client: Client, engine: Engine, policy: Policy, executor: ThreadPoolExecutor) -> None:
        self.client = client
        self.engine = engine
        self.policy = policy
        self.executor = executor
        self.task_queue = f"commute-{uuid.uuid4().hex[:8]}"

    @asynccontextmanager
    async def workflows(self) -> AsyncIterator[None]:
        # No cache: a restarted worker replays the whole history, as one that took a record over does.
        worker = Worker(
            self.client, task_queue=self.task_queue, workflows=WORKFLOWS, activities=[], max_cached_workflows=0
        )
        async with worker:
            yield

    @asynccontextmanager
    async def activities(self) -> AsyncIterator[None]:
        settings = Settings(smtp_host=None, webhook_urls=[])
        activities = build_activities(self.client, engine=self.engine, policy=self.policy, settings=settings)
        worker = Worker(self.client, task_queue=self.task_queue, activities=activities, activity_executor=self.executor)
        async with worker:
            yield

    async def start(self, record_id: str) -> WorkflowHandle[RecordWorkflow, CapaState]:
        raised = RaiseInput(
            record_id=record_id,
            title="Burr on housing edge",
            description="Housings from line 3 show a burr on the mating edge.",
            severity=Severity.MAJOR,
            source=Source.INSPECTION,
            owner="olivia",
            product="H-200",
            lot="L-4711",
            quantity=120,
            raised_by=actor("otto"),
        )
        return await self.client.start_workflow(
            RecordWorkflow.run,
            RecordInput(raised=raised, policy=self.policy.for_severity(Severity.MAJOR)),
            id=record_id,
            task_queue=self.task_queue,
        )


async def _activities_done(handle: WorkflowHandle[Any, Any]) -> None:
    """Wait until every activity the record scheduled has completed."""
    for _ in range(400):
        history = await handle.fetch_history()
        scheduled = sum(1 for e in history.events if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)
        done = sum(1 for e in history.events if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED)
        if scheduled and done == scheduled:
            return
        await asyncio.sleep(0.05)
    raise RuntimeError(f"{handle.id}: activities did not complete")


async def _together(stand: Stand, handle: WorkflowHandle[Any, Any], *steps: Step, in_order: bool = False) -> None:
    """With the workflow worker stopped, send ``steps`` (``in_order``: each a moment after the one before, so
    the server admits them in that order); then start it, so they arrive in one task."""
    sent = []
    for step in steps:
        sent.append(asyncio.create_task(step(handle)))
        if in_order:
            await asyncio.sleep(0.3)
    await asyncio.sleep(1.0)  # let the server admit them while no worker can take the task
    async with stand.workflows():
        for task in sent:
            await task


def _due(days: int) -> datetime:
    return datetime.now(UTC).replace(microsecond=0) + timedelta(days=days)


def lifecycle_steps() -> list[Step]:
    """Every step of a record, in an order the rules accept, from containment to closing."""
    return [
        lambda h: h.execute_update(
            RecordWorkflow.contain,
            ContainmentInput(actor=actor("olivia"), summary="Quarantined lot", disposition=Disposition.QUARANTINE),
        ),
        lambda h: h.execute_update(
            RecordWorkflow.reassign, ReassignInput(actor=actor("mike"), new_owner="oscar", reason="Cover")
        ),
        lambda h: h.execute_update(
            RecordWorkflow.reassign, ReassignInput(actor=actor("mike"), new_owner="olivia", reason="Back")
        ),
        lambda h: h.execute_update(
            RecordWorkflow.root_cause,
            RootCauseInput(
                actor=actor("olivia"),
                method=RootCauseMethod.FIVE_WHYS,
                cause="Worn deburring tool",
                whys=["Tool not changed", "No tool-life limit"],
            ),
        ),
        lambda h: h.execute_update(
            RecordWorkflow.plan,
            PlanInput(
                actor=actor("olivia"),
                actions=[
                    PlannedAction(owner="oscar", due_at=_due(10), description="Replace the tool"),
                    PlannedAction(
                        owner="olivia", due_at=_due(12), description="Tool-life limit", kind=ActionKind.PREVENTIVE
                    ),
                ],
            ),
        ),
        lambda h: h.execute_update(
            RecordWorkflow.request_extension,
            ExtensionRequestInput(actor=actor("oscar"), action_id="A1", until=_due(14), reason="Tool on order"),
        ),
        lambda h: h.execute_update(
            RecordWorkflow.decide_extension, signed(h.id, ExtensionDecisionInput(actor=actor("mike"), approve=True))
        ),
        lambda h: h.execute_update(
            RecordWorkflow.complete_action,
            CompleteActionInput(actor=actor("oscar"), action_id="A1", evidence="Tool replaced"),
        ),
        lambda h: h.execute_update(
            RecordWorkflow.complete_action,
            CompleteActionInput(actor=actor("olivia"), action_id="A2", evidence="Limit in the control plan"),
        ),
        lambda h: h.execute_update(
            RecordWorkflow.verify,
            signed(
                h.id, VerifyInput(actor=actor("maria"), result=VerificationResult.PASS, evidence="50 parts burr-free")
            ),
        ),
    ]


async def after_each_result(stand: Stand, record_id: str) -> None:
    """Every step of a lifecycle arrives with the results of the activities the step before it started."""
    async with stand.activities(), stand.workflows():
        handle = await stand.start(record_id)
        await handle.execute_update(RecordWorkflow.opened)
    for step in lifecycle_steps():
        # The activity worker completes what the last step started, while no workflow worker runs ...
        async with stand.activities():
            await _activities_done(handle)
        await _together(stand, handle, step)  # ... then the step arrives
    await _effectiveness_and_review(stand, handle)


async def ring_with_each_step(stand: Stand, record_id: str) -> None:
    """Every step of a lifecycle arrives in one task with a reminder of a clock that is running and with the
    results of the activities the step before it started."""
    async with stand.activities(), stand.workflows():
        handle = await stand.start(record_id)
        await handle.execute_update(RecordWorkflow.opened)
    for step in lifecycle_steps():
        async with stand.workflows():  # before the activities complete: they are left to share the step's task
            state = await handle.query(RecordWorkflow.state)
        async with stand.activities():
            await _activities_done(handle)
        # The ring first: a step that ends its clock would leave it stale, and a refusal leaves nothing behind.
        await _together(stand, handle, _reminding(state), step, in_order=True)
    await _effectiveness_and_review(stand, handle)


def _reminding(state: CapaState) -> Step:
    """A step that rings the next reminder of a running clock of ``state`` (the record's, else an action's)."""
    _, clock = state.open_clocks()[0]
    ring = AlarmInput(
        alarm=clock.alarm,
        kind=AlarmKind.REMINDER,
        index=clock.reminders_sent + 1,
        scheduled_at=clock.due_at - timedelta(days=1),
    )
    return _ringing(ring)


def _ringing(ring: AlarmInput) -> Step:
    """A step that rings ``ring`` on the record, as its alarm workflow would."""

    async def ringing(h: WorkflowHandle[RecordWorkflow, CapaState]) -> Any:
        return await h.execute_update(RecordWorkflow.alarm, ring)

    return ringing


async def _effectiveness_and_review(stand: Stand, handle: WorkflowHandle[RecordWorkflow, CapaState]) -> None:
    """Let the effectiveness window ring, and close the record with a review."""
    async with stand.activities(), stand.workflows():
        for _ in range(200):
            state = await handle.query(RecordWorkflow.state)
            if state.clock is not None:
                break
            await asyncio.sleep(0.05)
        await handle.execute_update(
            RecordWorkflow.review,
            signed(
                handle.id,
                ReviewInput(actor=actor("nina"), result=EffectivenessResult.EFFECTIVE, evidence="No recurrence"),
            ),
        )
        await handle.result()


async def with_the_first_task(stand: Stand, record_id: str) -> None:
    """A step arrives in the record's first task, beside its start."""
    handle = await stand.start(record_id)
    await _together(stand, handle, lifecycle_steps()[0])
    await _cancel(stand, handle)


async def reassign_with_the_first_task(stand: Stand, record_id: str) -> None:
    """A reassignment arrives in the record's first task, beside its start."""
    handle = await stand.start(record_id)
    await _together(stand, handle, lifecycle_steps()[1])
    await _cancel(stand, handle)


async def cancel_with_the_first_task(stand: Stand, record_id: str) -> None:
    """A cancellation arrives in the record's first task, beside its start: the record ends at once."""
    handle = await stand.start(record_id)
    await _together(stand, handle, _cancelling)
    async with stand.activities(), stand.workflows():
        await handle.result()


async def cancel_after_result(stand: Stand, record_id: str) -> None:
    """A cancellation arrives with the results of the activities the step before it started."""
    async with stand.activities(), stand.workflows():
        handle = await stand.start(record_id)
        await handle.execute_update(RecordWorkflow.opened)
    for step in (lifecycle_steps()[0], _cancelling):
        async with stand.activities():
            await _activities_done(handle)
        await _together(stand, handle, step)
    async with stand.activities(), stand.workflows():
        await handle.result()


async def two_steps(stand: Stand, record_id: str) -> None:
    """Two steps on one record arrive in one task: two actions completed at once, by their two owners."""
    handle = await _planned(stand, record_id)
    steps = lifecycle_steps()
    await _together(stand, handle, steps[7], steps[8])  # whichever lands first, both are accepted
    await _cancel(stand, handle)


async def extension_and_completion(stand: Stand, record_id: str) -> None:
    """Two different steps on one record arrive in one task: an extension asked for one action while the
    other action is completed."""
    handle = await _planned(stand, record_id)
    steps = lifecycle_steps()
    await _together(stand, handle, steps[5], steps[8])
    await _cancel(stand, handle)


async def _planned(stand: Stand, record_id: str) -> WorkflowHandle[RecordWorkflow, CapaState]:
    """A record contained, reassigned and back, with its root cause and a plan of A1 and A2."""
    async with stand.activities(), stand.workflows():
        handle = await stand.start(record_id)
        await handle.execute_update(RecordWorkflow.opened)
        for step in lifecycle_steps()[:5]:
            await step(handle)
    return handle


async def alarm_and_step(stand: Stand, record_id: str) -> None:
    """An alarm rings (a reminder of containment) in the same task as a step on the same clock."""
    handle, ringing = await _opened_and_ringing(
        stand, record_id, AlarmKind.REMINDER, ["olivia"], before_due=timedelta(days=1), index=1
    )
    extension = ExtensionRequestInput(actor=actor("olivia"), until=_due(20), reason="Supplier data late")
    await _together(stand, handle, ringing, lambda h: h.execute_update(RecordWorkflow.request_extension, extension))
    await _cancel(stand, handle)


async def alarm_and_ending_step(stand: Stand, record_id: str) -> None:
    """An escalation rings in the same task as the step that ends its clock (containment submitted)."""
    handle, ringing = await _opened_and_ringing(stand, record_id, AlarmKind.ESCALATION, ["mike"], level=1)
    # The ring first: after the containment it would be refused as stale, and leave nothing in the history.
    await _together(stand, handle, ringing, lifecycle_steps()[0], in_order=True)
    await _cancel(stand, handle)


async def _opened_and_ringing(
    stand: Stand,
    record_id: str,
    kind: AlarmKind,
    recipients: list[str],
    before_due: timedelta = timedelta(0),
    **alarm: Any,
) -> tuple[WorkflowHandle[RecordWorkflow, CapaState], Step]:
    """An open record, and a step that rings an alarm of its containment clock, ``before_due`` its due time."""
    async with stand.activities(), stand.workflows():
        handle = await stand.start(record_id)
        await handle.execute_update(RecordWorkflow.opened)
        state = await handle.query(RecordWorkflow.state)
    assert state.clock is not None
    ring = AlarmInput(
        alarm=state.clock.alarm,
        kind=kind,
        scheduled_at=state.clock.due_at - before_due,
        recipients=recipients,
        **alarm,
    )
    return handle, _ringing(ring)


async def _cancelling(handle: WorkflowHandle[RecordWorkflow, CapaState]) -> Any:
    return await handle.execute_update(
        RecordWorkflow.cancel, signed(handle.id, CancelInput(actor=actor("mike"), reason="Recorded"))
    )


async def _cancel(stand: Stand, handle: WorkflowHandle[RecordWorkflow, CapaState]) -> None:
    async with stand.activities(), stand.workflows():
        await _cancelling(handle)
        await handle.result()


SCENARIOS = {
    "after_each_result": after_each_result,
    "ring_with_each_step": ring_with_each_step,
    "cancel_after_result": cancel_after_result,
    "with_the_first_task": with_the_first_task,
    "reassign_with_the_first_task": reassign_with_the_first_task,
    "cancel_with_the_first_task": cancel_with_the_first_task,
    "two_steps": two_steps,
    "extension_and_completion": extension_and_completion,
    "alarm_and_step": alarm_and_step,
    "alarm_and_ending_step": alarm_and_ending_step,
}


async def record(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory() as scratch, ThreadPoolExecutor(max_workers=8) as executor:
        engine = make_engine(f"sqlite:///{Path(scratch) / 'capaflow.db'}")
        ensure_schema(engine)
        seed_directory(engine)
        async with await WorkflowEnvironment.start_local(
            dev_server_existing_path=str(TEMPORAL_CLI),
            search_attributes=search_attributes.KEYS,
            ip="127.0.0.1",
            data_converter=pydantic_data_converter,
        ) as env:
            stand = Stand(env.client, engine, parse_policy(POLICY), executor)
            for number, (name, scenario) in enumerate(SCENARIOS.items(), start=1):
                record_id = f"NC-2026-{9000 + number:04d}"
                await scenario(stand, record_id)
                history = await env.client.get_workflow_handle(record_id).fetch_history()
                path = folder / f"{name}.json"
                path.write_text(history.to_json())
                written.append(path)
                print(f"{path}: {len(history.events)} events")  # noqa: T201 - a developer's tool
    return written


if __name__ == "__main__":
    asyncio.run(record(Path(sys.argv[1]) if len(sys.argv) > 1 else FOLDER))
