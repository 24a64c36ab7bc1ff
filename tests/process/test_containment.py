"""Finding 6: containment forced a product disposition on every finding, use-as-is needed no concession, and one
lot could not be split. Now an audit finding may record no product affected, a lot splits across dispositions
within the record's quantity, and use-as-is or rework needs quality's signed concession (with the customer's
approval where the policy asks) before verification."""

from sqlalchemy import Engine
from temporalio.testing import WorkflowEnvironment

from models.enums import Disposition, Severity, Source, Stage
from models.payloads import ConcessionInput, DispositionShare
from tests.process.flow import (
    BURR_REJECTS,
    CRITICAL,
    containment,
    current_worker,
    fields,
    plan_and_complete,
    refused,
    root_cause,
    triage,
    verification,
)
from tests.workflows.harness import actor, raise_record
from workflows.record import RecordWorkflow


async def test_only_a_finding_without_product_records_no_product_affected(
    env: WorkflowEnvironment, engine: Engine
) -> None:
    """An internal-audit finding contains with no product affected; an inspection finding may not."""
    async with current_worker(env.client, engine) as queue:
        audit = await raise_record(env.client, queue, source=Source.INTERNAL_AUDIT, quantity=None, lot=None)
        inspection = await raise_record(env.client, queue)
        no_product = containment(disposition=None, no_product_affected=True, summary="Procedure QP-7 revised")

        refusal = await refused(inspection, RecordWorkflow.contain, no_product)
        assert fields(refusal) == {"no_product_affected"}
        assert "may record no product affected; this one is from inspection" in refusal.message
        await audit.step(RecordWorkflow.contain, no_product)
        state = await audit.state()
        assert state.stage is Stage.ROOT_CAUSE
        assert state.containment is not None
        assert state.containment.disposed() == "no product affected"


async def test_a_split_within_the_quantity_and_use_as_is_needs_quality_s_concession(
    env: WorkflowEnvironment, engine: Engine
) -> None:
    """120 pieces: a split over 150 is refused; 20 scrapped and 100 used as is is accepted, quality is asked for a
    concession, and verification waits for it; a manager may not grant it, quality may."""
    async with current_worker(env.client, engine) as queue:
        capa = await raise_record(env.client, queue)
        over = containment(
            disposition=None,
            dispositions=[
                DispositionShare(disposition=Disposition.SCRAP, quantity=50),
                DispositionShare(disposition=Disposition.USE_AS_IS, quantity=100),
            ],
        )
        refusal = await refused(capa, RecordWorkflow.contain, over)
        assert fields(refusal) == {"dispositions"}
        assert "120 are affected" in refusal.message

        split = [
            DispositionShare(disposition=Disposition.SCRAP, quantity=20),
            DispositionShare(disposition=Disposition.USE_AS_IS, quantity=100),
        ]
        await capa.step(RecordWorkflow.contain, containment(disposition=None, dispositions=split))
        state = await capa.state()
        assert state.containment is not None
        assert state.containment.needs_concession
        assert state.containment.disposed() == "scrap 20, use-as-is 100"

        await capa.step(RecordWorkflow.triage, triage())
        await capa.step(RecordWorkflow.root_cause, root_cause())
        await plan_and_complete(capa)
        waiting = await refused(capa, RecordWorkflow.verify, verification("maria", criteria=[BURR_REJECTS]))
        assert waiting.type == "WrongStage"
        assert "concession comes before verification" in waiting.message

        grant = ConcessionInput(
            actor=actor("quinn"), justification="Burr is outside the sealing face; customer drawing allows it"
        )
        manager = await refused(capa, RecordWorkflow.concede, grant.model_copy(update={"actor": actor("mike")}))
        assert manager.type == "NotAllowed"
        assert "quality only" in manager.message
        await capa.step(RecordWorkflow.concede, grant)
        state = await capa.state()
        assert state.containment is not None
        assert state.containment.concession is not None
        assert state.containment.concession.signature is not None
        await capa.step(RecordWorkflow.verify, verification("maria", criteria=[BURR_REJECTS]))
        assert (await capa.state()).stage is Stage.EFFECTIVENESS


async def test_a_critical_concession_needs_the_customer_s_approval(env: WorkflowEnvironment, engine: Engine) -> None:
    """Critical: the policy asks for the customer's approval reference with the concession."""
    async with current_worker(env.client, engine) as queue:
        capa = await raise_record(env.client, queue, severity=Severity.CRITICAL)
        await capa.step(RecordWorkflow.triage, triage(CRITICAL))
        await capa.step(RecordWorkflow.contain, containment(disposition=Disposition.REWORK))
        grant = ConcessionInput(actor=actor("quinn"), justification="Rework to drawing rev C")
        refusal = await refused(capa, RecordWorkflow.concede, grant)
        assert fields(refusal) == {"customer_approval"}
        await capa.step(RecordWorkflow.concede, grant.model_copy(update={"customer_approval": "ACME deviation D-118"}))
        state = await capa.state()
        assert state.containment is not None
        assert state.containment.concession is not None
        assert state.containment.concession.customer_approval == "ACME deviation D-118"
