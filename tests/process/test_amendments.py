"""Finding 8: a typo could only be fixed by cancelling and raising again, and any manager could cancel with free
text, even after verification. Now quality corrects a field by a signed amendment that keeps old and new value
(closed records too, appended to the same chain), and cancels only with a category, before verification."""

from sqlalchemy import Engine
from temporalio.testing import WorkflowEnvironment

from client.records import CapaClient
from core import accounts, audit
from core.readmodel import load_record_state
from core.settings import Settings
from models.enums import AmendableField, CancelCategory, EventKind, Stage, TriageDecision
from models.payloads import AmendEntry, AmendInput, AmendStep, CancelInput
from tests.process.flow import MINOR, containment, current_worker, fields, refused, triage
from tests.workers.harness import eventually
from tests.workflows.harness import Capa, actor, raise_record
from workflows.record import RecordWorkflow

PASSWORD = "amend-with-care-2026"


def _amend_lot(by: str, value: str) -> AmendInput:
    return AmendInput(actor=actor(by), field=AmendableField.LOT, value=value, reason="Lot misread from the label")


async def _in_read_model(engine: Engine, capa: Capa) -> None:
    state = await capa.state()

    def caught_up() -> bool:
        stored = load_record_state(engine, state.id)
        return stored is not None and stored.events == state.events

    await eventually(caught_up, 10, "the read model's timeline equal to the workflow's")


async def test_a_signed_amendment_keeps_old_and_new_and_the_chain_holds(
    env: WorkflowEnvironment, engine: Engine
) -> None:
    """quinn corrects the lot: the entry keeps L-4711 and L-4712 and its signature; a manager may not amend; the
    record's hash chain still verifies against the read model."""
    async with current_worker(env.client, engine) as queue:
        capa = await raise_record(env.client, queue)
        manager = await refused(capa, RecordWorkflow.amend, _amend_lot("mike", "L-4712"))
        assert manager.type == "NotAllowed"
        assert "quality only" in manager.message
        same = await refused(capa, RecordWorkflow.amend, _amend_lot("quinn", "L-4711"))
        assert fields(same) == {"value"}

        await capa.step(RecordWorkflow.amend, _amend_lot("quinn", "L-4712"))
        state = await capa.state()
        assert state.lot == "L-4712"
        [entry] = [e.details for e in state.events if e.kind is EventKind.AMENDED]
        assert isinstance(entry, AmendEntry)
        assert (entry.field, entry.previous, entry.value) == (AmendableField.LOT, "L-4711", "L-4712")
        assert entry.signature is not None
        assert entry.signature.meaning == "approved: record corrected"

        await _in_read_model(engine, capa)
        check = audit.verify_record(engine, state.id, live=state)
        assert check.ok, check.line()


async def test_a_closed_record_is_amended_through_the_client_and_its_chain_still_holds(
    env: WorkflowEnvironment, engine: Engine
) -> None:
    """A record closed as a correction only: quinn signs an amendment of its lot with her password; it is appended
    to the record's chain in the read model and the chain verifies."""
    async with current_worker(env.client, engine) as queue:
        capa = await raise_record(env.client, queue)
        decided = triage(MINOR, decision=TriageDecision.CORRECTION_ONLY, rationale="One lot, scrapped")
        await capa.step(RecordWorkflow.triage, decided)
        await capa.step(RecordWorkflow.contain, containment())
        assert (await capa.state()).stage is Stage.CLOSED
        await _in_read_model(engine, capa)

        accounts.set_password(engine, "quinn", PASSWORD)
        client = CapaClient(env.client, engine, Settings(task_queue=queue))
        step = AmendStep(field=AmendableField.LOT, value="L-4712", reason="Lot misread from the label")
        outcome = await client.sign(capa.handle.id, "quinn", step, PASSWORD)

        stored = load_record_state(engine, capa.handle.id)
        assert stored is not None
        assert (stored.stage, stored.lot) == (Stage.CLOSED, "L-4712")
        assert stored.events[-1].seq == outcome.seq
        assert stored.events[-1].kind is EventKind.AMENDED
        assert stored.events[-1].details.previous == "L-4711"  # type: ignore[union-attr]
        check = audit.verify_record(engine, capa.handle.id)
        assert check.ok, check.line()


async def test_only_quality_cancels_with_a_category(env: WorkflowEnvironment, engine: Engine) -> None:
    """A manager may not cancel; quality without a category is refused, a duplicate without the record it
    duplicates too; with both the record is cancelled and keeps its category."""
    async with current_worker(env.client, engine) as queue:
        first = await raise_record(env.client, queue)
        capa = await raise_record(env.client, queue)
        manager = await refused(capa, RecordWorkflow.cancel, CancelInput(actor=actor("mike"), reason="Duplicate"))
        assert manager.type == "NotAllowed"
        assert "quality only" in manager.message
        bare = CancelInput(actor=actor("quinn"), reason="Raised twice")
        assert fields(await refused(capa, RecordWorkflow.cancel, bare)) == {"category"}
        duplicate = bare.model_copy(update={"category": CancelCategory.DUPLICATE})
        assert fields(await refused(capa, RecordWorkflow.cancel, duplicate)) == {"duplicate_of"}

        await capa.step(RecordWorkflow.cancel, duplicate.model_copy(update={"duplicate_of": first.handle.id}))
        state = await capa.state()
        assert (state.stage, state.cancel_category) == (Stage.CANCELLED, CancelCategory.DUPLICATE)
        [entry] = [e.details for e in state.events if e.kind is EventKind.CANCELLED]
        assert entry.duplicate_of == first.handle.id  # type: ignore[union-attr]
