"""A field this release does not know, sent by a newer front end (or kept across a rollback), is kept and passed
on: the record accepts the step, its timeline entry holds the field, and the read model stores it too."""

from sqlalchemy import Engine
from temporalio.testing import WorkflowEnvironment

from core import readmodel
from models.enums import EventKind
from models.payloads import StepResult
from tests.workflows.harness import raise_record, running_worker


async def test_a_field_of_a_later_release_is_kept(env: WorkflowEnvironment, engine: Engine) -> None:
    """A containment carrying ``photo_ref`` (a field of a later release) is accepted, and the field is on the
    record's timeline, in its answer and in the read model, exactly as sent."""
    async with running_worker(env.client, engine) as queue:
        capa = await raise_record(env.client, queue)
        newer = {
            "actor": {"name": "olivia", "roles": ["owner"]},
            "summary": "Lot quarantined",
            "disposition": "quarantine",
            "photo_ref": "IMG_2231",
        }
        result = await capa.handle.execute_update("contain", newer, result_type=StepResult)
        [answered] = [entry for entry in result.outcome().entries if entry.kind is EventKind.CONTAINMENT_SUBMITTED]
        assert answered.facts()["photo_ref"] == "IMG_2231"
        [entry] = await capa.events(EventKind.CONTAINMENT_SUBMITTED)
        assert entry.facts() == {"summary": "Lot quarantined", "disposition": "quarantine", "photo_ref": "IMG_2231"}
        await capa.activities_done()
    stored = readmodel.load_record_state(engine, capa.handle.id)
    assert stored is not None
    [kept] = [event for event in stored.events if event.kind is EventKind.CONTAINMENT_SUBMITTED]
    assert kept.facts()["photo_ref"] == "IMG_2231"
