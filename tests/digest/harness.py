"""A worker for the digest alone, on its own task queue, next to the records' worker of a test."""

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import Engine
from temporalio.client import Client
from temporalio.worker import Worker

from activities.digest import DigestActivities
from core.settings import Settings
from workflows.digest import DigestWorkflow


@asynccontextmanager
async def digest_worker(
    client: Client, engine: Engine, settings: Settings, task_queue: str | None = None
) -> AsyncIterator[str]:
    """Run DigestWorkflow and its activities on ``task_queue`` (by default a fresh one); yield the queue.

    Digests to people without an e-mail address and no webhook configured are log rows only, which the
    activity delivers itself, so no delivery workflow needs to run on this queue.
    """
    task_queue = task_queue or f"digest-{uuid.uuid4()}"
    worker = Worker(
        client,
        task_queue=task_queue,
        workflows=[DigestWorkflow],
        activities=[
            DigestActivities(engine, settings).send_overdue_digest,
            DigestActivities(engine, settings).publish_chain_head,
        ],
    )
    async with worker:
        yield task_queue
