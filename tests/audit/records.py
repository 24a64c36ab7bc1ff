"""Records for the audit tests: a worker that runs the record's workflow as releases before the chain did, steps
that fill a timeline, and direct edits of the read model as someone with database access could make them."""

import asyncio
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager

from sqlalchemy import Engine, text
from temporalio.client import Client
from temporalio.worker import PatchActivationInput, Worker

from core import readmodel
from models.enums import CauseCategory, Disposition, RootCauseMethod
from models.payloads import ContainmentInput, RootCauseInput
from tests.policies import EARLIER
from tests.workflows.harness import Capa, actor
from worker import WORKFLOWS, build_activities
from workflows.record import RecordWorkflow


def _before_the_chain(inp: PatchActivationInput) -> bool:
    return not inp.patch_id.startswith("chained-timeline")


@asynccontextmanager
async def worker_before_the_chain(client: Client, engine: Engine, task_queue: str) -> AsyncIterator[str]:
    """A worker on ``task_queue`` whose records take every patch but the chain's: records started or stepped on
    it are records in flight from a release before timelines were chained."""
    policy = EARLIER
    readmodel.publish_policy(engine, policy)
    with ThreadPoolExecutor(max_workers=4) as executor:
        worker = Worker(
            client,
            task_queue=task_queue,
            workflows=WORKFLOWS,
            activities=build_activities(client, engine=engine, policy=policy),
            activity_executor=executor,
            max_concurrent_activities=4,
            # No sticky cache: the worker that takes the record over next gets its tasks at once.
            max_cached_workflows=0,
            patch_activation_callback=_before_the_chain,
        )
        async with worker:
            yield task_queue


async def contain(capa: Capa) -> None:
    inp = ContainmentInput(actor=actor("olivia"), summary="Lot quarantined", disposition=Disposition.QUARANTINE)
    await capa.step(RecordWorkflow.contain, inp)


async def find_root_cause(capa: Capa) -> None:
    inp = RootCauseInput(
        actor=actor("olivia"),
        method=RootCauseMethod.FIVE_WHYS,
        cause="Deburring tool worn beyond its change interval",
        whys=["Burr on edge", "Tool worn", "No tool-life counter"],
        category=CauseCategory.MACHINE,
    )
    await capa.step(RecordWorkflow.root_cause, inp)


async def stored(engine: Engine, capa: Capa) -> int:
    """Wait until the read model holds every entry of the record's timeline; how many there are."""
    state = await capa.state()
    for _ in range(300):
        with engine.connect() as connection:
            count = connection.execute(
                text("SELECT count(*) FROM events WHERE record_id = :id"), {"id": state.id}
            ).scalar_one()
            last_seq = connection.execute(
                text("SELECT last_seq FROM nonconformities WHERE id = :id"), {"id": state.id}
            ).scalar()
        if count == len(state.events) and last_seq == count:
            return int(count)
        await asyncio.sleep(0.05)
    raise AssertionError(f"the read model holds {count} of {len(state.events)} entries")


def edit(engine: Engine, sql: str, **params: object) -> None:
    with engine.begin() as connection:
        assert connection.execute(text(sql), params).rowcount == 1
