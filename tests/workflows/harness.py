"""Drives a record's workflow on a real Temporal server: start a record, take steps as a given user, wait for events."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from models.enums import EventKind, Role, Severity, Source
from models.payloads import (
    RECORD_MOVING,
    Actor,
    CapaState,
    Event,
    RaiseInput,
    RecordInput,
    SignedInput,
    StepResult,
)
from models.policy import Policy
from tests.builders import signed
from tests.policies import EARLIER
from worker import build_worker
from workflows.record import RecordWorkflow

ROLES = {
    "ada": Role.ADMIN,
    "maria": Role.MANAGER,
    "mike": Role.MANAGER,
    "nina": Role.MANAGER,
    "olivia": Role.OWNER,
    "oscar": Role.OWNER,
    "otto": Role.OPERATOR,
    "paul": Role.OWNER,
    "quinn": Role.QUALITY,
    "greta": Role.QUALITY,
}


def actor(name: str) -> Actor:
    return Actor(name=name, roles=[ROLES[name]])


_counter = iter(range(1, 1_000_000))
# The policy each test worker was started with, by task queue: records raised on it pin that policy.
_POLICIES: dict[str, Policy] = {}


def new_record_id() -> str:
    return f"NC-2026-{next(_counter):04d}{uuid.uuid4().int % 10_000:04d}"


class Capa:
    """One record under test and the handle to its workflow."""

    def __init__(self, client: Client, handle: WorkflowHandle[RecordWorkflow, CapaState]) -> None:
        self.client = client
        self.handle = handle

    async def state(self) -> CapaState:
        return await self.handle.query(RecordWorkflow.state)

    async def events(self, kind: EventKind | None = None) -> list[Event]:
        events = (await self.state()).events
        return [e for e in events if kind is None or e.kind is kind]

    async def wait_for(self, predicate: Callable[[CapaState], bool], within: float = 15.0) -> CapaState:
        """Poll the query until ``predicate`` holds; fail after ``within`` real seconds."""
        deadline = asyncio.get_running_loop().time() + within
        while True:
            state = await self.state()
            if predicate(state):
                return state
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"condition not met; last events: {[e.kind.value for e in state.events]}")
            await asyncio.sleep(0.05)

    async def step(self, update: Any, inp: Any, update_id: str | None = None) -> StepResult:
        """Send a step as the client layer does (a signed step signed by its actor, unless it already carries a
        signature): again while the record says it is continuing as new."""
        if isinstance(inp, SignedInput):
            inp = signed(self.handle.id, inp)
        for _ in range(100):
            try:
                result: StepResult = await self.handle.execute_update(update, inp, id=update_id)
                return result
            except WorkflowUpdateFailedError as exc:
                if not isinstance(exc.cause, ApplicationError) or exc.cause.type != RECORD_MOVING:
                    raise
            await asyncio.sleep(0.05)
        raise AssertionError("the record kept saying it is moving to a new run")

    async def activities_done(self, within: float = 15.0) -> None:
        """Wait until every activity the record scheduled has completed."""
        deadline = asyncio.get_running_loop().time() + within
        while True:
            history = await self.handle.fetch_history()
            kinds = [e.event_type for e in history.events]
            if kinds.count(EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED) == kinds.count(
                EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED
            ):
                return
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError("the record's activities did not complete")
            await asyncio.sleep(0.05)

    async def failed_workflow_tasks(self) -> int:
        history = await self.handle.fetch_history()
        return sum(1 for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED)


@asynccontextmanager
async def running_worker(client: Client, engine: Engine, policy: Policy | None = None) -> AsyncIterator[str]:
    async with running_worker_on(client, engine, f"capa-test-{uuid.uuid4()}", policy) as task_queue:
        yield task_queue


@asynccontextmanager
async def running_worker_on(
    client: Client, engine: Engine, task_queue: str, policy: Policy | None = None
) -> AsyncIterator[str]:
    """A worker on ``task_queue``: another one on the queue of one stopped before it, say."""
    _POLICIES[task_queue] = policy or _POLICIES.get(task_queue) or EARLIER
    with ThreadPoolExecutor(max_workers=8) as executor:
        worker = build_worker(
            client,
            task_queue=task_queue,
            engine=engine,
            policy=_POLICIES[task_queue],
            executor=executor,
        )
        async with worker:
            yield task_queue


async def raise_record(
    client: Client,
    task_queue: str,
    *,
    severity: Severity = Severity.MAJOR,
    owner: str = "olivia",
    by: str = "otto",
    max_history_events: int = 20_000,
    source: Source = Source.INSPECTION,
    policy: Policy | None = None,
    **extra: Any,
) -> Capa:
    """Raise a record on ``task_queue``'s worker, pinning that worker's policy unless ``policy`` names another (a
    record raised under the earlier rules beside ones under the current rules, say)."""
    record_id = new_record_id()
    raised = RaiseInput(
        record_id=record_id,
        title="Burr on housing edge",
        description="Housings from line 3 show a burr on the mating edge.",
        severity=severity,
        source=source,
        owner=owner,
        raised_by=actor(by),
        **({"product": "H-200", "lot": "L-4711", "quantity": 120} | extra),
    )
    handle = await client.start_workflow(
        RecordWorkflow.run,
        RecordInput(
            raised=raised,
            policy=(policy or _POLICIES.get(task_queue, EARLIER)).for_severity(severity),
            max_history_events=max_history_events,
        ),
        id=record_id,
        task_queue=task_queue,
    )
    capa = Capa(client, handle)
    await capa.wait_for(lambda s: s.clock is not None)
    return capa


def close_to(actual: datetime, expected: datetime, tolerance: timedelta = timedelta(seconds=2)) -> bool:
    return abs(actual - expected) <= tolerance
