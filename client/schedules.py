"""The Temporal Schedule that sends the daily overdue digest at the configured local time.

Temporal computes each run's instant from the calendar and the IANA zone, so 07:00 Europe/Berlin stays 07:00
on both sides of a daylight-saving change. Every worker calls ``ensure_digest_schedule`` at start: the first
creates the schedule, later ones bring its time, zone and task queue in line with their settings.
"""

import dataclasses
from datetime import timedelta

import structlog
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleHandle,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)

from core.settings import Settings
from models.digest import DigestRequest
from workflows.digest import DigestWorkflow

log = structlog.get_logger(__name__)

DIGEST_SCHEDULE_ID = "capaflow-overdue-digest"
# Temporal appends each run's scheduled time to this id, so every day's run has its own.
DIGEST_RUN_ID = "capaflow-overdue-digest-run"
# A digest missed while Temporal was down is still sent within this window; an older one is stale news.
CATCHUP_WINDOW = timedelta(hours=12)


def digest_schedule(settings: Settings) -> Schedule:
    """The schedule as the settings describe it: daily at ``digest_time`` in ``digest_timezone``."""
    hour, minute = (int(part) for part in settings.digest_time.split(":"))
    return Schedule(
        action=ScheduleActionStartWorkflow(
            DigestWorkflow.run,
            DigestRequest(),
            id=DIGEST_RUN_ID,
            task_queue=settings.task_queue,
        ),
        spec=ScheduleSpec(
            calendars=[
                ScheduleCalendarSpec(
                    hour=[ScheduleRange(hour)],
                    minute=[ScheduleRange(minute)],
                    comment=f"overdue digest, daily at {settings.digest_time}",
                )
            ],
            time_zone_name=settings.digest_timezone,
        ),
        # A run still going at the next day's time (a long outage) makes that day's run pointless.
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=CATCHUP_WINDOW),
    )


async def ensure_digest_schedule(client: Client, settings: Settings) -> ScheduleHandle:
    """Create the digest schedule, or update the existing one to these settings; a pause set by hand stays."""
    wanted = digest_schedule(settings)
    try:
        handle = await client.create_schedule(DIGEST_SCHEDULE_ID, wanted)
    except ScheduleAlreadyRunningError:
        handle = client.get_schedule_handle(DIGEST_SCHEDULE_ID)

        def keep_state(current: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=dataclasses.replace(wanted, state=current.description.schedule.state))

        await handle.update(keep_state)
        log.info("digest schedule updated", time=settings.digest_time, time_zone=settings.digest_timezone)
    else:
        log.info("digest schedule created", time=settings.digest_time, time_zone=settings.digest_timezone)
    return handle
