"""The ``recurrence`` step on the record's workflow (time-skipping server): a ``recurrence_detected`` entry naming
the new nonconformities, one escalation level up when asked, the effectiveness review brought forward when asked;
refused, leaving nothing, for a nonconformity already recorded and on a record that has ended."""

from datetime import timedelta

import pytest
from sqlalchemy import Engine
from temporalio.testing import WorkflowEnvironment

from client.errors import CapaError, ErrorKind
from client.recurrence import record_recurrence
from core import notification_list
from models.enums import Disposition, EventKind, RootCauseMethod, Severity, Stage, VerificationResult
from models.payloads import (
    CancelInput,
    ContainmentInput,
    PlanInput,
    PlannedAction,
    RecurrenceEntry,
    RecurrenceInput,
    RecurrenceSource,
    RootCauseInput,
    VerifyInput,
)
from models.sentences import sentence
from tests.builders import signed
from tests.workers.harness import eventually
from tests.workflows.harness import actor, close_to, raise_record, running_worker
from tests.workflows.test_lifecycle import _to_verification
from workflows.record import RecordWorkflow


async def test_a_recurrence_is_an_entry_that_escalates_the_stage_one_level(
    env: WorkflowEnvironment, engine: Engine
) -> None:
    async with running_worker(env.client, engine) as queue:
        capa = await raise_record(env.client, queue)
        record_id = capa.handle.id
        inp = RecurrenceInput(
            source=RecurrenceSource.SENTINEL,
            rule="burr-90d",
            record_ids=["NC-2026-9001", "NC-2026-9002"],
            escalate=True,
            recipients=["mike"],
        )
        result = await record_recurrence(env.client, record_id, inp)
        # Sent again (a worker retrying): refused by the rule, nothing more recorded.
        again = RecurrenceInput(source=RecurrenceSource.SENTINEL, rule="burr-90d", record_ids=["NC-2026-9002"])
        with pytest.raises(CapaError) as refused:
            await record_recurrence(env.client, record_id, again)
        await capa.activities_done()
        state = await capa.state()
        told = await eventually(
            lambda: [row for row in notification_list.list_mine(engine, "quinn") if row.kind == "recurrence_detected"],
            10,
            "quality's notice",
        )
    assert refused.value.kind is ErrorKind.INVALID
    [notice] = told
    assert "recurrence detected: NC-2026-9001, NC-2026-9002, escalated to level 1" in notice.subject
    [entry] = [e for e in state.events if e.kind is EventKind.RECURRENCE_DETECTED]
    assert entry.seq == result.seq
    assert entry.actor == "system"
    assert isinstance(entry.details, RecurrenceEntry)
    assert entry.details.record_ids == ["NC-2026-9001", "NC-2026-9002"]
    assert (entry.details.target, entry.details.level, entry.details.recipients) == ("containment", 1, ["mike"])
    assert state.clock is not None
    assert state.clock.escalation_level == 1
    assert entry.hash is not None
    assert 'Recurrence detected by rule "burr-90d": NC-2026-9001, NC-2026-9002' in sentence(entry)


async def test_a_recurrence_brings_the_effectiveness_review_forward(env: WorkflowEnvironment, engine: Engine) -> None:
    async with running_worker(env.client, engine) as queue:
        capa = await raise_record(env.client, queue, severity=Severity.MINOR)
        await _to_verification(capa, env)
        await capa.handle.execute_update(
            RecordWorkflow.verify,
            signed(capa.handle.id, VerifyInput(actor=actor("maria"), result=VerificationResult.PASS, evidence="ok")),
        )
        await env.sleep(timedelta(days=10))
        now = await env.get_current_time()
        inp = RecurrenceInput(
            source=RecurrenceSource.EFFECTIVENESS, record_ids=["NC-2026-9003"], bring_review_forward=True
        )
        await record_recurrence(env.client, capa.handle.id, inp)
        state = await capa.state()
        # The window's own alarm no longer rings: no second review due at the window's old end.
        await env.sleep(timedelta(days=90))
        later = await capa.state()
    assert state.stage is Stage.EFFECTIVENESS
    assert state.clock is not None
    assert close_to(state.clock.due_at, now + timedelta(days=30), timedelta(minutes=5))
    [entry] = [e for e in state.events if e.kind is EventKind.RECURRENCE_DETECTED]
    assert isinstance(entry.details, RecurrenceEntry)
    assert entry.details.review_due_at == state.clock.due_at
    assert [e.kind for e in later.events].count(EventKind.EFFECTIVENESS_DUE) == 0


async def test_an_ended_record_refuses_a_recurrence_and_keeps_nothing(env: WorkflowEnvironment, engine: Engine) -> None:
    async with running_worker(env.client, engine) as queue:
        capa = await raise_record(env.client, queue)
        await capa.handle.execute_update(
            RecordWorkflow.cancel,
            signed(capa.handle.id, CancelInput(actor=actor("mike"), reason="Raised twice; see NC-2026-0001")),
        )
        await capa.handle.result()
        inp = RecurrenceInput(source=RecurrenceSource.SENTINEL, record_ids=["NC-2026-9004"], escalate=True)
        with pytest.raises(CapaError) as refused:
            await record_recurrence(env.client, capa.handle.id, inp)
        state = await capa.state()
    assert refused.value.kind in (ErrorKind.WRONG_STAGE, ErrorKind.NOT_FOUND)
    assert EventKind.RECURRENCE_DETECTED not in [e.kind for e in state.events]


async def test_without_a_stage_deadline_the_soonest_actions_escalates(env: WorkflowEnvironment, engine: Engine) -> None:
    async with running_worker(env.client, engine) as queue:
        capa = await raise_record(env.client, queue)
        h = capa.handle
        await h.execute_update(
            RecordWorkflow.contain,
            ContainmentInput(actor=actor("olivia"), summary="Lot quarantined", disposition=Disposition.QUARANTINE),
        )
        await h.execute_update(
            RecordWorkflow.root_cause,
            RootCauseInput(actor=actor("olivia"), method=RootCauseMethod.FISHBONE, cause="Worn deburring tool"),
        )
        now = await env.get_current_time()
        actions = [
            PlannedAction(owner="oscar", due_at=now + timedelta(days=12), description="Add tool-life counter"),
            PlannedAction(owner="olivia", due_at=now + timedelta(days=5), description="Replace tool"),
        ]
        await h.execute_update(RecordWorkflow.plan, PlanInput(actor=actor("olivia"), actions=actions))
        inp = RecurrenceInput(
            source=RecurrenceSource.SENTINEL, rule="burr-90d", record_ids=["NC-2026-9005"], escalate=True
        )
        await record_recurrence(env.client, h.id, inp)
        state = await capa.state()
    assert state.stage is Stage.ACTION
    [entry] = [e.details for e in state.events if e.kind is EventKind.RECURRENCE_DETECTED]
    assert isinstance(entry, RecurrenceEntry)
    assert (entry.target, entry.level) == ("A2", 1)
    assert [a.clock.escalation_level for a in state.actions] == [0, 1]
