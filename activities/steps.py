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
from activities.sentinels import (  # recurrence sentinels
    categorised,
    closed_by,
    feed_closed,
    feed_sentinels,
    stored_state,
)
from activities.watch import (
    raised_by,  # recurrence sentinels
    watch_raise,
)
from core.readmodel import policy_in_force  # recurrence sentinels
from models.payloads import CapaState, RecordChange, RecordSnapshot, StepEffects

# How long a step's change waits for the step before it to be stored before it also asks its record for the
# whole state, how often it looks meanwhile, and how long it waits for either at most. Usually the step before has
# landed or lands within the grace; after an outage it may have been lost with a killed worker, and then the
# record's answer (a query, which a worker answers within milliseconds when it holds the record) ends the wait
# rather than that write's retry. Whichever comes first is written: both are idempotent.
_PREDECESSOR_GRACE_S = 0.3
_PREDECESSOR_LOOK_EVERY_S = 0.1
_PREDECESSOR_WAIT_S = 3.0
# How often an attempt tells Temporal it is alive; the worker sends them on at least every 0.5 s, well inside
# the workflow's heartbeat timeout (2 s).
_HEARTBEAT_EVERY_S = 0.25
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
            state = await self._write_in_order(effects.change)
            if not effects.notices_decided:
                await self._in_thread(self._records.notify_steps, state, effects.change.new_events)
        for notice in effects.notices:
            await self._in_thread(self._notifications.send_notice, notice)
        # recurrence: a raise is recorded on every record whose effectiveness window it matches (idempotent)
        await watch_raise(self._client, self._records.engine, effects)
        # recurrence sentinels: a raise feeds every sentinel watching its key (idempotent: counted once per record)
        fed = raised_by(effects)
        if fed is None and categorised(effects):
            fed = await self._in_thread(stored_state, self._records.engine, effects.record_id)
        if fed is not None:
            policy = await self._in_thread(policy_in_force, self._records.engine)
            await feed_sentinels(
                self._client, policy, fed, activity.info().task_queue, at_root_cause=raised_by(effects) is None
            )
        # recurrence sentinels: a close arms the sentinels counting recurrences after a close (idempotent)
        if closed_by(effects):
            closed = await self._in_thread(stored_state, self._records.engine, effects.record_id)
            if closed is not None:
                policy = await self._in_thread(policy_in_force, self._records.engine)
                await feed_closed(self._client, policy, closed, activity.info().task_queue)

    async def _in_thread(self, fn: Callable[..., T], *args: object) -> T:
        """Run a blocking call on this activity's threads, in its context (its logs name the workflow)."""
        call = functools.partial(contextvars.copy_context().run, fn, *args)
        return await asyncio.get_running_loop().run_in_executor(self._threads, call)

    async def _write_in_order(self, change: RecordChange) -> CapaState:
        """Write a step's change once the step before it is stored; if it is not stored after
        ``_PREDECESSOR_GRACE_S``, also ask the record for its whole state, and write whichever comes first: the
        change once its predecessor lands, or the record whole, as its workflow answers. Raises ReadModelBehind
        when neither has come within ``_PREDECESSOR_WAIT_S`` (the attempt fails and Temporal retries it)."""
        loop = asyncio.get_running_loop()
        grace_ends = loop.time() + _PREDECESSOR_GRACE_S
        gives_up = loop.time() + _PREDECESSOR_WAIT_S
        asking: asyncio.Task[CapaState] | None = None
        try:
            while True:
                try:
                    return await self._in_thread(self._records.write_change, change)
                except ReadModelBehind:
                    if loop.time() >= gives_up:
                        raise
                if asking is None and loop.time() >= grace_ends:
                    asking = asyncio.create_task(self._ask(change.record_id))
                if asking is None or asking.done():
                    await asyncio.sleep(_PREDECESSOR_LOOK_EVERY_S)
                else:
                    await asyncio.wait({asking}, timeout=_PREDECESSOR_LOOK_EVERY_S)
                if asking is not None and asking.done() and not asking.cancelled() and asking.exception() is None:
                    state = asking.result()
                    await self._in_thread(self._records.write_snapshot, RecordSnapshot.of(state))
                    return state
        finally:
            if asking is not None and not asking.done():
                asking.cancel()

    async def _ask(self, record_id: str) -> CapaState:
        """The record's whole state and timeline as its workflow answers them; a query that fails or takes longer
        than ``_PREDECESSOR_WAIT_S`` leaves the write to its predecessor (or to the attempt's retry)."""
        handle = self._client.get_workflow_handle(record_id)
        rpc_timeout = timedelta(seconds=_PREDECESSOR_WAIT_S)
        state: CapaState = await handle.query("state", result_type=CapaState, rpc_timeout=rpc_timeout)
        return state


async def _heartbeat() -> None:
    while True:
        activity.heartbeat()
        await asyncio.sleep(_HEARTBEAT_EVERY_S)
