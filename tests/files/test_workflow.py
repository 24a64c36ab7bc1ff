"""A file attached to a record: one ``file_attached`` entry naming it, in the state's files and in the read model;
refused on a closed record or for an action the record does not have; the same file on the same step once."""

from datetime import timedelta

import pytest
from sqlalchemy import Engine
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from core.readmodel import load_record_state
from models.enums import Disposition, EventKind, RootCauseMethod, Stage
from models.payloads import AttachFileInput, ContainmentInput, FileRef, PlanInput, PlannedAction, RootCauseInput
from models.refusals import ErrorKind
from tests.workers.harness import eventually
from tests.workflows.harness import actor, raise_record, running_worker
from workflows.record import RecordWorkflow

PHOTO = {"name": "burr.png", "size": 14_540, "media_type": "image/png", "sha256": "ab" * 32}


def _attach(by: str, to: str, **changes: object) -> AttachFileInput:
    return AttachFileInput(actor=actor(by), to=to, **{**PHOTO, **changes})


async def test_an_attached_file_is_a_timeline_entry_and_in_the_records_files(
    env: WorkflowEnvironment, engine: Engine
) -> None:
    """An operator (anyone signed in) attaches a photo to containment: the entry names file, size, type, hash and
    uploader; the state and the read model list it under containment; the stage and its clock are unchanged."""
    async with running_worker(env.client, engine) as queue:
        capa = await raise_record(env.client, queue)
        before = await capa.state()
        result = await capa.step(RecordWorkflow.attach_file, _attach("otto", "containment"))
        state = await capa.state()
        await capa.activities_done()
        stored = await eventually(
            lambda: (s := load_record_state(engine, state.id)) is not None and s.files == state.files and s,
            10,
            "the read model's files equal to the workflow's",
        )
    entry = state.events[-1]
    assert entry.kind is EventKind.FILE_ATTACHED
    assert entry.actor == "otto"
    assert result.seq == entry.seq
    ref = entry.details
    assert isinstance(ref, FileRef)
    assert (ref.name, ref.size, ref.media_type, ref.sha256, ref.to, ref.uploaded_by) == (
        "burr.png",
        14_540,
        "image/png",
        "ab" * 32,
        "containment",
        "otto",
    )
    assert state.files == [ref]
    assert state.files_of("containment") == [ref]
    assert (state.stage, state.clock) == (before.stage, before.clock)
    assert stored.events[-1] == entry


async def test_files_go_to_any_step_or_an_existing_action_and_the_same_one_once(
    env: WorkflowEnvironment, engine: Engine
) -> None:
    """Root cause and an action take files; an action the record lacks is refused naming ``to``; the same content
    on the same step is refused as already attached (nothing written), on another target it is a new entry."""
    async with running_worker(env.client, engine) as queue:
        capa = await raise_record(env.client, queue)
        await capa.step(
            RecordWorkflow.contain,
            ContainmentInput(actor=actor("olivia"), summary="Lot quarantined", disposition=Disposition.QUARANTINE),
        )
        await capa.step(RecordWorkflow.attach_file, _attach("oscar", "root_cause"))
        with pytest.raises(WorkflowUpdateFailedError) as unknown:
            await capa.step(RecordWorkflow.attach_file, _attach("oscar", "A1"))
        assert isinstance(unknown.value.cause, ApplicationError)
        assert unknown.value.cause.type == ErrorKind.NOT_FOUND.value
        assert "has no action A1" in str(unknown.value.cause)
        with pytest.raises(WorkflowUpdateFailedError) as twice:
            await capa.step(RecordWorkflow.attach_file, _attach("olivia", "root_cause", name="again.png"))
        assert "already attached to root_cause" in str(twice.value.cause)
        cause = RootCauseInput(actor=actor("olivia"), method=RootCauseMethod.OTHER, cause="Worn deburring tool")
        await capa.step(RecordWorkflow.root_cause, cause)
        due = (await capa.state()).raised_at + timedelta(days=7)
        plan = PlanInput(actor=actor("olivia"), actions=[PlannedAction(owner="oscar", due_at=due, description="Tool")])
        await capa.step(RecordWorkflow.plan, plan)
        await capa.step(RecordWorkflow.attach_file, _attach("oscar", "A1"))
        state = await capa.state()
    assert state.stage is Stage.ACTION
    assert [(f.to, f.uploaded_by) for f in state.files] == [("root_cause", "oscar"), ("A1", "oscar")]
    assert len([e for e in state.events if e.kind is EventKind.FILE_ATTACHED]) == 2
