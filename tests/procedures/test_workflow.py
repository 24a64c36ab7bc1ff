"""Procedure-version pinning through the record's workflow (time-skipping server): a record keeps the procedure
revision it was raised under when the policy changes; quality's signed move takes it to the procedure and policy in
force, keeps running deadlines and makes later windows follow the new policy; others, and ended records, are
refused."""

from datetime import date, timedelta

import pytest
from sqlalchemy import Engine
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from client.procedures import move_procedure, procedure_in_force
from client.records import CapaClient
from core import accounts, audit
from core.readmodel import load_record_state, publish_policy
from core.settings import Settings
from models.enums import EventKind, Severity, Stage, TriageDecision
from models.payloads import MoveProcedureInput, ProcedureMovedEntry
from models.policy import Policy, Procedure
from tests.builders import raise_burr
from tests.policies import CURRENT
from tests.process.flow import MINOR, containment, fields, refused, triage
from tests.workers.harness import eventually
from tests.workflows.harness import Capa, actor, raise_record, running_worker, running_worker_on
from workflows.record import RecordWorkflow

PASSWORD = "move-with-care-2026"
REV_C = Procedure(document="SOP-QA-014", revision="C", effective=date(2026, 11, 1))
REV_D = Procedure(document="SOP-QA-014", revision="D", effective=date(2026, 12, 1))


def _policy(name: str, procedure: Procedure, root_cause: timedelta) -> Policy:
    """The bundled default under the current rules, naming ``procedure``, with a major root cause of
    ``root_cause``."""
    major = CURRENT.severity[Severity.MAJOR].model_copy(update={"root_cause": root_cause})
    return CURRENT.model_copy(
        update={
            "name": name,
            "digest": f"{name}-digest",
            "procedure": procedure,
            "severity": {**CURRENT.severity, Severity.MAJOR: major},
        }
    )


POLICY_C = _policy("2026-11", REV_C, timedelta(days=14))
POLICY_D = _policy("2026-12", REV_D, timedelta(days=3))


def _move(by: str, policy: Policy = POLICY_D, reason: str = "SOP-QA-014 rev D issued") -> MoveProcedureInput:
    return MoveProcedureInput(actor=actor(by), reason=reason, policy=policy.for_severity(Severity.MAJOR))


async def _in_read_model(engine: Engine, capa: Capa) -> None:
    state = await capa.state()

    def caught_up() -> bool:
        stored = load_record_state(engine, state.id)
        return stored is not None and stored.events == state.events

    await eventually(caught_up, 10, "the read model's timeline equal to the workflow's")


async def test_a_record_keeps_its_revision_when_the_policy_changes(env: WorkflowEnvironment, engine: Engine) -> None:
    """A record raised under SOP-QA-014 rev C keeps rev C (and says so) after the workers start under rev D; a
    record raised afterwards is raised under rev D."""
    async with running_worker(env.client, engine, policy=POLICY_C) as queue:
        publish_policy(engine, POLICY_C)
        client = CapaClient(env.client, engine, Settings(task_queue=queue))
        first = await raise_burr(client)
    async with running_worker_on(env.client, engine, queue, POLICY_D):
        publish_policy(engine, POLICY_D)
        client = CapaClient(env.client, engine, Settings(task_queue=queue))
        second = await raise_burr(client)
        kept = (await client.show_record(first)).state
        new = (await client.show_record(second)).state
        assert (await procedure_in_force(client)).procedure == REV_D

    assert kept.policy is not None
    assert kept.policy.procedure == REV_C
    assert kept.policy.raised_under() == "raised under SOP-QA-014 rev C, policy 2026-11"
    assert new.policy is not None
    assert new.policy.raised_under() == "raised under SOP-QA-014 rev D, policy 2026-12"


async def test_a_signed_move_is_logged_keeps_running_dues_and_changes_later_windows(
    env: WorkflowEnvironment, engine: Engine
) -> None:
    """quinn (quality) signs the move of a rev C record to rev D with her password: the entry names both revisions
    and policies and carries her signature; the containment deadline running keeps its due; the root cause window
    started afterwards is rev D's 3 days, not rev C's 14; the record's chain still verifies."""
    async with running_worker(env.client, engine, policy=POLICY_C) as queue:
        capa = await raise_record(env.client, queue)
        await capa.step(RecordWorkflow.triage, triage())
        before = await capa.state()
        assert before.clock is not None
        running_due = before.clock.due_at

        publish_policy(engine, POLICY_D)
        accounts.set_password(engine, "quinn", PASSWORD)
        client = CapaClient(env.client, engine, Settings(task_queue=queue))
        await _in_read_model(engine, capa)
        await move_procedure(client, capa.handle.id, "quinn", "SOP-QA-014 rev D issued", PASSWORD)
        moved = await capa.state()
        assert moved.clock is not None
        assert moved.clock.due_at == running_due

        result = await capa.step(RecordWorkflow.contain, containment())
        after = await capa.state()
        await _in_read_model(engine, capa)
        check = audit.verify_record(engine, after.id, live=after)

    assert moved.policy is not None
    assert moved.policy.raised_under() == "raised under SOP-QA-014 rev D, policy 2026-12"
    [event] = [e for e in moved.events if e.kind is EventKind.PROCEDURE_MOVED]
    entry = event.details
    assert isinstance(entry, ProcedureMovedEntry)
    assert event.actor == "quinn"
    assert (entry.from_procedure, entry.to_procedure) == (REV_C, REV_D)
    assert (entry.from_policy, entry.to_policy) == ("2026-11", "2026-12")
    assert entry.reason == "SOP-QA-014 rev D issued"
    assert entry.signature is not None
    assert entry.signature.signer == "quinn"
    assert entry.signature.meaning == "approved: record moved to the procedure in force"
    assert result.stage is Stage.ROOT_CAUSE
    assert after.clock is not None
    contained_at = after.events[-1].at
    assert after.clock.due_at == contained_at + timedelta(days=3)
    assert check.ok, check.line()


async def test_only_quality_moves_an_open_record_and_not_twice(env: WorkflowEnvironment, engine: Engine) -> None:
    """A manager's move is refused (quality only); a move to the policy the record is already under is refused on
    the field ``policy``; a move without a signature is refused on ``signature``; a closed record refuses a move."""
    async with running_worker(env.client, engine, policy=POLICY_C) as queue:
        capa = await raise_record(env.client, queue)
        # The raise's own activities first: a refusal must leave the state as it finds it.
        await capa.activities_done()
        manager = await refused(capa, RecordWorkflow.move_procedure, _move("mike"))
        assert manager.type == "NotAllowed"
        assert "quality only" in manager.message
        same = await refused(capa, RecordWorkflow.move_procedure, _move("quinn", POLICY_C))
        assert fields(same) == {"policy"}
        unsigned = _move("quinn").model_copy(update={"signature": None})
        before = await capa.state()
        with pytest.raises(WorkflowUpdateFailedError) as caught:
            await capa.handle.execute_update(RecordWorkflow.move_procedure, unsigned)
        assert "signed step" in str(caught.value.cause)
        assert await capa.state() == before

        decided = triage(MINOR, decision=TriageDecision.CORRECTION_ONLY, rationale="One lot, scrapped")
        await capa.step(RecordWorkflow.triage, decided)
        await capa.step(RecordWorkflow.contain, containment())
        assert (await capa.state()).stage is Stage.CLOSED
        closed = await refused(capa, RecordWorkflow.move_procedure, _move("quinn"))
        assert closed.type == "WrongStage"
