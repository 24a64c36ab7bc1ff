"""Notifications through the client layer: the overdue digest on demand, and the outbox (what was sent, what
waits, what failed, and sending a failed one again).

``Notifications`` is the directory (with its sites) and a Temporal client beside it; ``CapaClient`` builds on it.
"""

import asyncio
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ActivityError, WorkflowAlreadyStartedError

from client.errors import CapaError, ErrorKind
from client.sites import Sites
from client.temporal import WORKER_TIMEOUT, no_worker, translated
from core import outbox
from core.settings import Settings
from models.digest import DigestRequest, DigestResult
from models.tables import OutboxMessage
from workflows.digest import DigestWorkflow

log = structlog.get_logger(__name__)

# How long ``send_digest_now`` waits for a worker to finish the digest before saying none is running.
DIGEST_TIMEOUT = timedelta(seconds=60)
# A digest asked for by hand that no worker has started within this time is stale: it is dropped.
_DIGEST_EXPIRY = timedelta(hours=1)


class Notifications(Sites):
    """The directory, Temporal, and what the outbox holds."""

    def __init__(self, temporal: Client, engine: Engine, settings: Settings) -> None:
        super().__init__(engine, settings)
        self._temporal = temporal

    async def send_digest_now(self) -> tuple[str, DigestResult]:
        """Run the overdue digest now and return its workflow id and who was sent how many items.

        It shares the day's outbox key with the scheduled run, so whoever already had today's digest is
        reported in ``already_sent`` and not sent it again.
        """
        workflow_id = f"capaflow-overdue-digest-manual-{datetime.now(UTC):%Y%m%dT%H%M%SZ}"
        with translated(self._settings, workflow_id, WORKER_TIMEOUT):
            try:
                handle = await self._temporal.start_workflow(
                    DigestWorkflow.run,
                    DigestRequest(),
                    id=workflow_id,
                    task_queue=self._settings.task_queue,
                    execution_timeout=_DIGEST_EXPIRY,
                )
            except WorkflowAlreadyStartedError:
                # Someone asked in the same second: wait for that run rather than start another.
                handle = self._temporal.get_workflow_handle_for(DigestWorkflow.run, workflow_id)
            try:
                async with asyncio.timeout(DIGEST_TIMEOUT.total_seconds()):
                    result = await handle.result()
            except TimeoutError:
                raise CapaError(
                    ErrorKind.UNAVAILABLE,
                    f"the digest {workflow_id} did not finish: {no_worker(self._settings, workflow_id, DIGEST_TIMEOUT)}"
                    f"; it is dropped if no worker starts it within {_DIGEST_EXPIRY.total_seconds() / 3600:.0f}h",
                ) from None
            except WorkflowFailureError as exc:
                cause = exc.cause.cause if isinstance(exc.cause, ActivityError) else exc.cause
                raise CapaError(ErrorKind.UNAVAILABLE, f"the digest {workflow_id} failed: {cause}") from None
        log.info("digest sent on demand", workflow_id=workflow_id, recipients=result.recipients)
        return workflow_id, result

    async def list_notifications(
        self, *, failed_only: bool = False, limit: int = 200, offset: int = 0
    ) -> list[OutboxMessage]:
        """The outbox, newest first: what was sent, what waits and what failed."""
        return await self._db(outbox.list_messages, self._engine, failed_only=failed_only, limit=limit, offset=offset)

    async def count_notifications(self, *, failed_only: bool = False) -> int:
        return await self._db(outbox.count_messages, self._engine, failed_only=failed_only)

    async def notification(self, row_id: int) -> OutboxMessage | None:
        return await self._db(outbox.get_message, self._engine, row_id)

    async def retry_notification(self, row_id: int) -> None:
        """Hand a failed notification to delivery again; one that cannot be retried is refused, naming why."""
        what = f"notification {row_id}"
        with translated(self._settings, what, WORKER_TIMEOUT):
            try:
                await outbox.retry_message(
                    self._engine,
                    self._temporal,
                    self._settings.task_queue,
                    row_id,
                    max_attempts=self._settings.notify_max_attempts,
                )
            except ValueError as exc:
                raise CapaError(ErrorKind.NOT_ALLOWED, str(exc)) from None
            except DBAPIError as exc:
                raise self._database_error(exc) from None
        log.info("notification queued again", outbox_id=row_id)
