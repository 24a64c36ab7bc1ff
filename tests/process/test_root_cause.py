"""Finding 7: the root cause accepted "8d" as a method, a single why, no category, no escape cause and no check for
similar nonconformities. Now each of those is refused on its field, and the accepted entry keeps the similar
records found."""

from sqlalchemy import Engine
from temporalio.testing import WorkflowEnvironment

from models.enums import EventKind, RootCauseMethod, Stage
from models.payloads import RootCauseEntry
from tests.process.flow import containment, current_worker, fields, refused, root_cause, triage
from tests.workflows.harness import raise_record
from workflows.record import RecordWorkflow


async def test_a_major_root_cause_needs_method_category_whys_escape_and_the_similar_check(
    env: WorkflowEnvironment, engine: Engine
) -> None:
    """8d, one why, no category, no escape point or non-detection cause, no similar check: each field is named;
    five whys with all of it is accepted and its entry keeps the similar records."""
    async with current_worker(env.client, engine) as queue:
        capa = await raise_record(env.client, queue)
        await capa.step(RecordWorkflow.contain, containment())
        await capa.step(RecordWorkflow.triage, triage())

        eight_d = await refused(capa, RecordWorkflow.root_cause, root_cause(method=RootCauseMethod.EIGHT_D))
        assert fields(eight_d) == {"method"}
        assert "8d is a problem-solving framework" in eight_d.message
        thin = root_cause(
            whys=["Operator error"],
            category=None,
            escape_point=None,
            non_detection_cause=None,
            similar_checked=None,
        )
        refusal = await refused(capa, RecordWorkflow.root_cause, thin)
        assert refusal.type == "InvalidInput"
        assert fields(refusal) == {"whys", "category", "escape_point", "non_detection_cause", "similar_checked"}
        assert "at least 3 whys" in refusal.message

        similar = ["NC-2026-0001", "NC-2026-0002"]
        await capa.step(RecordWorkflow.root_cause, root_cause(similar=similar))
        state = await capa.state()
        assert state.stage is Stage.ACTION
        assert state.root_causes[-1].similar == similar
        [entry] = [e.details for e in state.events if e.kind is EventKind.ROOT_CAUSE_SUBMITTED]
        assert isinstance(entry, RootCauseEntry)
        assert entry.similar == similar
        assert entry.non_detection_cause == "The inspection instruction does not name the mating edge"
