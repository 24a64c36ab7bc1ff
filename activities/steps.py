"""The one activity a record's step starts: it settles everything the step sets going outside the record.

One activity per step instead of one per side effect keeps a step's history and its workflow tasks close to
what Temporal's own update-and-activity costs. It is idempotent because each part is: alarm workflows are
started and stopped by fixed ids, the read model's write is keyed by record and timeline sequence, and the
outbox by record, sequence, recipient and channel. Alarms go first: they need only Temporal, so a database
outage delays the read model and the notices but not the record's deadlines.
"""

import asyncio

import structlog
from temporalio import activity

from activities.alarms import start_alarms, stop_alarms
from activities.notifications import NotificationActivities
from activities.records import RecordActivities
from models.payloads import StepEffects

log = structlog.get_logger(__name__)


class StepActivities:
    def __init__(self, records: RecordActivities, notifications: NotificationActivities) -> None:
        self._records = records
        self._notifications = notifications

    @activity.defn(name="settle_step")
    async def settle_step(self, effects: StepEffects) -> None:
        """Stop the alarms of ended clocks, start those of new ones, write the read model and its step notices,
        and queue the step's reminders and escalations."""
        if effects.stop:
            await stop_alarms(effects.record_id, effects.stop)
        if effects.start:
            await start_alarms(effects.start)
            log.info(
                "alarms armed",
                record_id=effects.record_id,
                workflow_id=activity.info().workflow_id,
                actor="system",
                started=[s.alarm for s in effects.start],
                stopped=effects.stop,
            )
        # The database calls are synchronous; they run beside the event loop, which starts deliveries.
        if effects.snapshot is not None:
            await asyncio.to_thread(self._records.record_state, effects.snapshot)
        for notice in effects.notices:
            await asyncio.to_thread(self._notifications.send_notice, notice)
