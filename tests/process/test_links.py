"""Finding 9 (links): records could not be linked. Now a record links to another at its raise or later (not to
itself, not twice the same way), and each record shows the link, read from its side."""

from sqlalchemy import Engine
from temporalio.testing import WorkflowEnvironment

from core import readmodel
from models.enums import LinkKind
from models.payloads import LinkInput, LinkRef
from tests.process.flow import current_worker, fields, refused
from tests.workers.harness import eventually
from tests.workflows.harness import Capa, actor, raise_record
from workflows.record import RecordWorkflow


def _linked(engine: Engine, capa: Capa, wanted: int) -> list[readmodel.LinkedRecord] | None:
    state = readmodel.load_record_state(engine, capa.handle.id)
    if state is None:
        return None
    links = readmodel.links_of(engine, state)
    return links if len(links) == wanted else None


async def test_links_are_refused_twice_or_to_itself_and_shown_both_ways(
    env: WorkflowEnvironment, engine: Engine
) -> None:
    """later is a recurrence of earlier (named at its raise) and related to it (linked later); the same link again
    and a link to itself are refused; earlier reads both links from its side."""
    async with current_worker(env.client, engine) as queue:
        earlier = await raise_record(env.client, queue)
        later = await raise_record(
            env.client, queue, links=[LinkRef(kind=LinkKind.RECURRENCE_OF, record_id=earlier.handle.id)]
        )
        related = LinkInput(actor=actor("olivia"), kind=LinkKind.RELATED, record_id=earlier.handle.id)
        await later.step(RecordWorkflow.link, related)

        again = await refused(later, RecordWorkflow.link, related)
        assert fields(again) == {"record_id"}
        assert "already" in again.message
        itself = await refused(later, RecordWorkflow.link, related.model_copy(update={"record_id": later.handle.id}))
        assert fields(itself) == {"record_id"}
        assert "linked to itself" in itself.message
        operator = await refused(later, RecordWorkflow.link, related.model_copy(update={"actor": actor("otto")}))
        assert operator.type == "NotAllowed"

        from_later = await eventually(lambda: _linked(engine, later, 2), 10, "later's two links")
        assert sorted((link.kind, link.record_id) for link in from_later) == [
            ("recurrence-of", earlier.handle.id),
            ("related", earlier.handle.id),
        ]
        from_earlier = await eventually(lambda: _linked(engine, earlier, 2), 10, "earlier's two links")
        assert sorted((link.kind, link.record_id, link.by) for link in from_earlier) == [
            ("recurred-as", later.handle.id, "otto"),
            ("related", later.handle.id, "olivia"),
        ]
        assert all(link.title == "Burr on housing edge" for link in from_earlier)
