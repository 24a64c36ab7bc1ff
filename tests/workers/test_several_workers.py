"""Several worker processes on one task queue share the records; stopping or killing one loses nothing."""

import asyncio
import signal
from collections import Counter

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment

from client.records import CapaClient
from core.readmodel import load_record_state
from core.settings import Settings
from models.enums import Channel, Disposition, EventKind, OutboxStatus, Severity, Source, Stage
from models.payloads import CapaState, ContainmentStep, RaiseStep
from models.tables import OutboxMessage
from tests.policies import uniform_policy
from tests.workers.harness import Workers, eventually
from workflows.record import RecordWorkflow

RECORDS = 20
# Containment due 6 s after the raise: a reminder at 3 s, escalation level 1 at 6 s (mike, olivia's manager)
# and level 2 at 10 s (maria); every other window is an hour, so the timeline then stays put.
POLICY = uniform_policy("several-workers", containment="6s", remind_before=["3s"], escalate_after=["0s", "4s"])


def _escalated_levels(state: CapaState) -> list[int]:
    """The levels the record's escalations stand for: one entry each, or one entry for levels due together."""
    entries = [e for e in state.events if e.kind is EventKind.ESCALATED]
    return [level for e in entries for level in e.facts().get("levels", [e.facts()["level"]])]


@pytest.fixture
def policy_text() -> str:
    return POLICY


def _worked(worker_entries: list[dict[str, object]]) -> set[object]:
    """The records whose state this worker wrote to the read model."""
    return {entry.get("record_id") for entry in worker_entries if entry.get("event") == "record state written"}


async def test_two_workers_share_the_work_and_a_stopped_and_a_killed_worker_lose_nothing(
    dev_server: WorkflowEnvironment, settings: Settings, engine: Engine, workers: Workers
) -> None:
    """Two worker processes both take records; after SIGTERM to one and SIGKILL to the other, a fresh worker
    brings every record to its full timeline with each escalation fired exactly once, and no workflow task failed."""
    first = await workers.start("worker-1")
    second = await workers.start("worker-2")
    capa = CapaClient(dev_server.client, engine, settings)

    async def raise_one(number: int) -> str:
        return await capa.raise_record(
            "otto",
            RaiseStep(
                title=f"Burr on housing {number}",
                description="Several workers test",
                severity=Severity.MAJOR,
                source=Source.INSPECTION,
                owner="olivia",
            ),
        )

    ids = await asyncio.wait_for(asyncio.gather(*(raise_one(n) for n in range(RECORDS))), 90)
    assert len(set(ids)) == RECORDS

    # Both processes took records off the queue: each wrote some record's state (the honest signal that its
    # activities ran), before either is stopped.
    await eventually(
        lambda: _worked(first.entries()) and _worked(second.entries()), 30, "both workers to have written a record"
    )

    # Mid-flight: reminders and escalations of every record are still to come when the workers go.
    first.send(signal.SIGTERM)
    second.send(signal.SIGKILL)
    assert await second.wait(10) == -signal.SIGKILL
    assert await first.wait(60) == 0, first.log_path.read_text()
    assert first.lines("worker stopped"), "the SIGTERMed worker did not stop gracefully"

    fresh = await workers.start("worker-3")

    async def state(record_id: str) -> CapaState:
        handle = dev_server.client.get_workflow_handle_for(RecordWorkflow.run, record_id)
        return await handle.query(RecordWorkflow.state)

    async def all_settled() -> bool:
        for record_id in ids:
            stored = await asyncio.to_thread(load_record_state, engine, record_id)
            if stored is None or stored.escalation_level < 2:
                return False
        return True

    # The killed worker's tasks come back after their timeouts (30 s for an activity), so allow for those.
    await eventually(all_settled, 150, "every record's full timeline in the read model")

    for record_id in ids:
        live = await state(record_id)
        stored = load_record_state(engine, record_id)
        assert stored == live, record_id
        assert live.stage is Stage.CONTAINMENT
        kinds = [e.kind for e in live.events]
        # The reminder is left out when the workers were away until an escalation had overtaken it.
        assert kinds[0] is EventKind.RAISED
        assert kinds.count(EventKind.REMINDER_SENT) <= 1
        assert _escalated_levels(live) == [1, 2], "each level once, alone or standing with the other"
        escalations = [e for e in live.events if e.kind is EventKind.ESCALATED]
        assert [name for e in escalations for name in e.facts()["recipients"]] == ["mike", "maria"]
        assert live.escalation_level == 2

    # The outbox holds each escalation once per recipient, each sent (its log line written) once.
    with Session(engine) as session:
        rows = session.exec(select(OutboxMessage).where(col(OutboxMessage.kind) == EventKind.ESCALATED.value)).all()
    assert Counter((r.record_id, r.recipient) for r in rows) == Counter(
        {(record_id, person): 1 for record_id in ids for person in ("mike", "maria")}
    )
    assert {(r.channel, r.status, r.attempts) for r in rows} == {(Channel.LOG.value, OutboxStatus.SENT.value, 1)}
    logged = Counter(
        (entry["record_id"], entry["recipient"])
        for worker in workers.started
        for entry in worker.lines("notification")
        if entry.get("kind") == EventKind.ESCALATED.value
    )
    assert logged == Counter({(record_id, person): 1 for record_id in ids for person in ("mike", "maria")})

    # No workflow task failed anywhere (a killed worker's tasks time out and are retried; none may fail).
    for record_id in ids:
        history = await dev_server.client.get_workflow_handle(record_id).fetch_history()
        types = [event.event_type for event in history.events]
        assert EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED not in types, record_id

    # The records still take steps: the fresh worker contains a few of them.
    for record_id in ids[:3]:
        result = await capa.take_step(
            record_id, "olivia", ContainmentStep(summary="Lot quarantined", disposition=Disposition.QUARANTINE)
        )
        assert result.stage is Stage.ROOT_CAUSE
    assert fresh.returncode is None
