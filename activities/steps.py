"""The one activity a record's step starts: it settles everything the step sets going outside the record.

One activity per step instead of one per side effect keeps a step's history and its workflow tasks close to
what Temporal's own update-and-activity costs. It is idempotent because each part is: alarm workflows are
started and stopped by fixed ids, the read model's write is keyed by record and timeline sequence, and the
outbox by record, sequence, recipient and channel. Alarms go first: they need only Temporal, so a database
outage delays the read model and the notices but not the record's deadlines.
"""

import asyncio
import contextvars
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import TypeVar

from temporalio import activity
from temporalio.client import Client

from activities.alarms import log_armed, server_clock, start_alarms, stop_alarms
from activities.notifications import NotificationActivities
from activities.records import ReadModelBehind, RecordActivities
from models.payloads import CapaState, RecordChange, RecordSnapshot, StepEffects

# How long a record may take to answer the query that writes it whole. A query waits while the record's
# workflow task is held by a worker that died (up to the task's 10 s timeout); failing sooner lets the retry
# find the missing earlier write landed instead, which is the usual reason the read model was behind.
_QUERY_TIMEOUT = timedelta(seconds=3)
# How long a step's change waits for the step before it to be stored before it asks its record for the whole
# state, and how often it looks. After an outage a record's missed writes land one after another, each a moment
# after the one it follows; a query instead waits on the record's workflow, which a busy or restarted worker may
# not answer for seconds (up to ``_QUERY_TIMEOUT`` a link, so a record with four steps missed took 12 s).
_PREDECESSOR_WAIT_S = 2.0
_PREDECESSOR_LOOK_EVERY_S = 0.1
# How often an attempt tells Temporal it is alive; well inside the workflow's heartbeat timeout (3 s).
_HEARTBEAT_EVERY_S = 1.0
# Threads for the read-model writes, enough that an attempt never queues for one behind attempts waiting on a
# locked database (each waits at most ``WRITE_PATIENCE_S`` for this process's turn and as long for SQLite), so
# every attempt fails or lands within seconds. SQLite takes one writer at a time and this process's writers
# take turns; on PostgreSQL a thread beyond the pool's 15 connections waits for one.
_WRITERS = 32

T = TypeVar("T")


class StepActivities:
    """Asynchronous, so it can heartbeat while it waits: the calls to Temporal run on the worker's event loop,
    the read-model writes (synchronous, like every database call here) on threads of its own, so steps waiting
    on a locked database hold none of the threads other activities run on."""

    def __init__(self, records: RecordActivities, notifications: NotificationActivities, client: Client) -> None:
        self._records = records
        self._notifications = notifications
        self._client = client
        self._threads = ThreadPoolExecutor(max_workers=_WRITERS, thread_name_prefix="settle-step")

    @activity.defn(name="settle_step")
    async def settle_step(self, effects: StepEffects) -> None:
        """Stop the alarms of ended clocks, start those of new ones, write the read model and queue the step's
        notices. It heartbeats throughout, even while it waits on the database, so Temporal notices an attempt
        whose worker died within the heartbeat timeout and retries it elsewhere."""
        beating = asyncio.create_task(_heartbeat())
        try:
            await self._settle(effects)
        finally:
            beating.cancel()

    async def _settle(self, effects: StepEffects) -> None:
        if effects.stop or effects.start:
            await stop_alarms(self._client, effects.record_id, effects.stop)
            await start_alarms(self._client, activity.info().task_queue, effects.start, server_clock())
            log_armed(effects.record_id, effects.start, effects.stop)
        if effects.snapshot is not None:
            snapshot = effects.snapshot
            await self._in_thread(self._records.write_snapshot, snapshot)
            if not effects.notices_decided:
                await self._in_thread(self._records.notify_steps, snapshot.state, snapshot.new_events)
        if effects.change is not None:
            try:
                state = await self._write_in_order(effects.change)
            except ReadModelBehind:
                # The step before this one is still not stored (its write died with a worker, say): write the
                # record whole, as its workflow answers now, rather than wait for that write's retry.
                state = await self._write_whole(effects.record_id)
            if not effects.notices_decided:
                await self._in_thread(self._records.notify_steps, state, effects.change.new_events)
        for notice in effects.notices:
            await self._in_thread(self._notifications.send_notice, notice)

    async def _in_thread(self, fn: Callable[..., T], *args: object) -> T:
        """Run a blocking call on this activity's threads, in its context (its logs name the workflow)."""
        call = functools.partial(contextvars.copy_context().run, fn, *args)
        return await asyncio.get_running_loop().run_in_executor(self._threads, call)

    async def _write_in_order(self, change: RecordChange) -> CapaState:
        """Write a step's change once the step before it is stored, looking for it for up to
        ``_PREDECESSOR_WAIT_S``: that write is usually landing a moment later (its own retry after an outage, or
        another worker's attempt). Raises ReadModelBehind when it has not landed by then."""
        waited = 0.0
        while True:
            try:
                return await self._in_thread(self._records.write_change, change)
            except ReadModelBehind:
                if waited >= _PREDECESSOR_WAIT_S:
                    raise
            await asyncio.sleep(_PREDECESSOR_LOOK_EVERY_S)
            waited += _PREDECESSOR_LOOK_EVERY_S

    async def _write_whole(self, record_id: str) -> CapaState:
        """Write the record's whole state and timeline as its workflow answers them (idempotent, like every
        write of the read model); a query that fails fails this attempt, and Temporal retries it."""
        handle = self._client.get_workflow_handle(record_id)
        state: CapaState = await handle.query("state", result_type=CapaState, rpc_timeout=_QUERY_TIMEOUT)
        await self._in_thread(self._records.write_snapshot, RecordSnapshot.of(state))
        return state


async def _heartbeat() -> None:
    while True:
        activity.heartbeat()
        await asyncio.sleep(_HEARTBEAT_EVERY_S)
