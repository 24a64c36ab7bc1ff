"""The one activity a record's step starts: it settles everything the step sets going outside the record.

One activity per step instead of one per side effect keeps a step's history and its workflow tasks close to
what Temporal's own update-and-activity costs. It is idempotent because each part is: alarm workflows are
started and stopped by fixed ids, the read model's write is keyed by record and timeline sequence, and the
outbox by record, sequence, recipient and channel. Alarms go first: they need only Temporal, so a database
outage delays the read model and the notices but not the record's deadlines.
"""

import asyncio
import contextvars
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from temporalio import activity
from temporalio.client import Client

from activities.alarms import log_armed, server_clock, start_alarms, stop_alarms
from activities.notifications import NotificationActivities
from activities.records import ReadModelBehind, RecordActivities
from models.payloads import CapaState, RecordSnapshot, StepEffects

# How long the worker's event loop may take to start and stop one step's alarms.
_ALARMS_TIMEOUT_S = 10.0
# How long a record may take to answer the query that writes it whole.
_QUERY_TIMEOUT = timedelta(seconds=10)
# How often an attempt tells Temporal it is alive; well inside the workflow's heartbeat timeout (3 s).
_HEARTBEAT_EVERY_S = 1.0


@contextmanager
def _heartbeating() -> Iterator[None]:
    """Heartbeat from a helper thread while the block runs, even while it waits on the database, so Temporal
    notices an attempt whose worker died within the heartbeat timeout and retries it elsewhere."""
    done = threading.Event()

    def beat() -> None:
        while not done.wait(_HEARTBEAT_EVERY_S):
            try:
                activity.heartbeat()
            except (RuntimeError, TimeoutError):
                return  # the worker is stopping: Temporal times the attempt out and retries it

    activity.heartbeat()
    helper = threading.Thread(target=contextvars.copy_context().run, args=(beat,), daemon=True)
    helper.start()
    try:
        yield
    finally:
        done.set()
        helper.join()


class StepActivities:
    """Synchronous, like the read-model writes it makes: it runs on the worker's activity threads, and the calls
    to Temporal run on the worker's event loop (``loop``)."""

    def __init__(
        self,
        records: RecordActivities,
        notifications: NotificationActivities,
        client: Client,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self._records = records
        self._notifications = notifications
        self._client = client
        self._loop = loop

    @activity.defn(name="settle_step")
    def settle_step(self, effects: StepEffects) -> None:
        """Stop the alarms of ended clocks, start those of new ones, write the read model and queue the step's
        notices."""
        with _heartbeating():
            self._settle(effects)

    def _settle(self, effects: StepEffects) -> None:
        if effects.stop or effects.start:
            task_queue, now = activity.info().task_queue, server_clock()

            async def alarms() -> None:
                await stop_alarms(self._client, effects.record_id, effects.stop)
                await start_alarms(self._client, task_queue, effects.start, now)

            asyncio.run_coroutine_threadsafe(alarms(), self._loop).result(timeout=_ALARMS_TIMEOUT_S)
            log_armed(effects.record_id, effects.start, effects.stop)
        if effects.snapshot is not None:
            self._records.write_snapshot(effects.snapshot)
            if not effects.notices_decided:
                self._records.notify_steps(effects.snapshot.state, effects.snapshot.new_events)
        if effects.change is not None:
            try:
                state = self._records.write_change(effects.change)
            except ReadModelBehind:
                # The step before this one is not stored yet (its write waits for a retry, or died with a
                # worker): write the record whole, as its workflow answers now, rather than wait for that write.
                state = self._write_whole(effects.record_id)
            if not effects.notices_decided:
                self._records.notify_steps(state, effects.change.new_events)
        for notice in effects.notices:
            self._notifications.send_notice(notice)

    def _write_whole(self, record_id: str) -> CapaState:
        """Write the record's whole state and timeline as its workflow answers them (idempotent, like every
        write of the read model); a query that fails fails this attempt, and Temporal retries it."""

        async def query() -> CapaState:
            handle = self._client.get_workflow_handle(record_id)
            state: CapaState = await handle.query("state", result_type=CapaState, rpc_timeout=_QUERY_TIMEOUT)
            return state

        state = asyncio.run_coroutine_threadsafe(query(), self._loop).result(timeout=_QUERY_TIMEOUT.total_seconds())
        self._records.write_snapshot(RecordSnapshot.of(state))
        return state
