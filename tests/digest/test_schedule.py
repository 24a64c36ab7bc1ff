"""The digest's Temporal Schedule on a real dev server (the time-skipping server has no schedules).

The server itself computes when the schedule fires; these tests read its next action times, which shows the
configured local time holding across the EU's daylight-saving changes (01:00 UTC on the last Sunday of March
and of October), and trigger one run to see the schedule start the digest on the configured task queue.
"""

import dataclasses
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio
from sqlalchemy import Engine
from temporalio.client import (
    ScheduleActionExecutionStartWorkflow,
    ScheduleActionResult,
    ScheduleActionStartWorkflow,
    ScheduleHandle,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.testing import WorkflowEnvironment

from client.schedules import DIGEST_RUN_ID, DIGEST_SCHEDULE_ID, ensure_digest_schedule
from core.settings import Settings
from tests.builders import clock, event, publish, state
from tests.cli.conftest import eventually
from tests.digest.harness import digest_worker
from workflows.digest import DigestWorkflow

BERLIN = ZoneInfo("Europe/Berlin")


def _settings(digest_time: str = "07:30") -> Settings:
    return Settings(task_queue=f"digest-{uuid.uuid4()}", digest_time=digest_time, digest_timezone="Europe/Berlin")


def _next_change(month: int) -> datetime:
    """The next EU daylight-saving change in ``month`` (3 or 10) at least a week away."""
    soon = datetime.now(UTC) + timedelta(days=7)
    for year in (soon.year, soon.year + 1):
        last = date(year, month, 31)
        sunday = last - timedelta(days=(last.weekday() + 1) % 7)
        change = datetime.combine(sunday, time(1), tzinfo=UTC)
        if change > soon:
            return change
    raise AssertionError("unreachable: next year's change is always far enough away")


async def _schedule_from(handle: ScheduleHandle, start: datetime) -> list[datetime]:
    """The next action times if the schedule started at ``start`` (its spec otherwise as ensured)."""

    def from_start(current: ScheduleUpdateInput) -> ScheduleUpdate:
        schedule = current.description.schedule
        return ScheduleUpdate(dataclasses.replace(schedule, spec=dataclasses.replace(schedule.spec, start_at=start)))

    await handle.update(from_start)
    return list((await handle.describe()).info.next_action_times)


@pytest_asyncio.fixture
async def cleanup(dev_server: WorkflowEnvironment) -> AsyncIterator[None]:
    """Each test starts without the digest schedule and leaves none behind."""
    yield
    await dev_server.client.get_schedule_handle(DIGEST_SCHEDULE_ID).delete()


@pytest.mark.parametrize(
    ("month", "utc_before", "utc_after"),
    [pytest.param(3, time(6, 30), time(5, 30), id="spring"), pytest.param(10, time(5, 30), time(6, 30), id="autumn")],
)
@pytest.mark.usefixtures("cleanup")
async def test_the_digest_fires_at_the_local_time_across_a_dst_change(
    dev_server: WorkflowEnvironment, month: int, utc_before: time, utc_after: time
) -> None:
    """07:30 Europe/Berlin is 06:30Z in winter and 05:30Z in summer: the UTC time moves on the change day."""
    handle = await ensure_digest_schedule(dev_server.client, _settings("07:30"))
    change = _next_change(month)

    times = await _schedule_from(handle, change - timedelta(days=3))

    before = [t for t in times if t < change]
    after = [t for t in times if t > change]
    assert len(before) == 3
    assert len(after) == len(times) - 3 > 0
    assert {t.timetz() for t in before} == {utc_before.replace(tzinfo=UTC)}
    assert {t.timetz() for t in after} == {utc_after.replace(tzinfo=UTC)}
    assert {t.astimezone(BERLIN).strftime("%H:%M") for t in times} == {"07:30"}
    assert [t.date() for t in times] == [times[0].date() + timedelta(days=n) for n in range(len(times))]


@pytest.mark.usefixtures("cleanup")
async def test_ensuring_again_updates_the_one_schedule_and_keeps_a_pause(dev_server: WorkflowEnvironment) -> None:
    """A second ensure with another time changes the existing schedule (no second one), and a pause stays."""
    client = dev_server.client
    first = await ensure_digest_schedule(client, _settings("07:30"))
    await first.pause(note="paused by the plant manager")
    settings = _settings("06:45")

    handle = await ensure_digest_schedule(client, settings)

    description = await handle.describe()
    calendar = description.schedule.spec.calendars[0]
    assert (calendar.hour[0].start, calendar.minute[0].start) == (6, 45)
    assert description.schedule.spec.time_zone_name == "Europe/Berlin"
    assert description.schedule.state.paused
    action = description.schedule.action
    assert isinstance(action, ScheduleActionStartWorkflow)
    assert (action.workflow, action.id, action.task_queue) == ("DigestWorkflow", DIGEST_RUN_ID, settings.task_queue)

    async def listed() -> list[str] | None:
        ids = [schedule.id async for schedule in await client.list_schedules()]
        return ids if DIGEST_SCHEDULE_ID in ids else None

    assert (await eventually(listed, within=15)).count(DIGEST_SCHEDULE_ID) == 1


@pytest.mark.usefixtures("cleanup")
async def test_a_scheduled_run_sends_the_digest_from_the_configured_task_queue(
    dev_server: WorkflowEnvironment, engine: Engine
) -> None:
    """Triggering the schedule starts DigestWorkflow on CAPA_TASK_QUEUE; olivia's late step reaches mike and up."""
    overdue = state(stage_clock=clock("olivia", datetime.now(UTC) - timedelta(hours=5)))
    publish(engine, overdue, [event(1)])
    settings = _settings()
    async with digest_worker(dev_server.client, engine, settings, task_queue=settings.task_queue):
        handle = await ensure_digest_schedule(dev_server.client, settings)
        await handle.trigger()

        async def first_run() -> list[ScheduleActionResult] | None:
            return list((await handle.describe()).info.recent_actions) or None

        recent = await eventually(first_run)
        run = recent[0].action
        assert isinstance(run, ScheduleActionExecutionStartWorkflow)
        workflow_id = run.workflow_id
        result = await dev_server.client.get_workflow_handle_for(DigestWorkflow.run, workflow_id).result()

    assert workflow_id.startswith(f"{DIGEST_RUN_ID}-")
    assert result.recipients == {"ada": 1, "maria": 1, "mike": 1}
    assert result.day == f"DIGEST-{recent[0].scheduled_at.astimezone(BERLIN).date()}"
