"""A record whose workflow does not answer is still shown: from the read model, saying so."""

from sqlalchemy import Engine
from temporalio.testing import WorkflowEnvironment

from client.records import CapaClient
from core.settings import Settings
from models.enums import Disposition, EventKind, Stage
from models.payloads import ContainmentStep
from tests.builders import raise_burr
from tests.workflows.harness import running_worker


async def test_a_record_without_a_worker_is_shown_from_the_read_model(env: WorkflowEnvironment, engine: Engine) -> None:
    """With no worker running, `show` answers within seconds with the state and timeline the read model holds,
    and says why; with a worker again it answers live."""
    async with running_worker(env.client, engine) as queue:
        capa = CapaClient(env.client, engine, Settings(task_queue=queue))
        record_id = await raise_burr(capa)
        await capa.take_step(
            record_id, "olivia", ContainmentStep(summary="Quarantined", disposition=Disposition.QUARANTINE)
        )
        live = await capa.show_record(record_id)
    stale = await capa.show_record(record_id)

    assert live.stale is None
    assert stale.stale is not None
    assert "did not answer" in stale.stale
    assert queue in stale.stale
    assert stale.state.stage is Stage.ROOT_CAUSE
    assert [e.kind for e in stale.state.events] == [EventKind.RAISED, EventKind.CONTAINMENT_SUBMITTED]
    assert stale.state.events == live.state.events
