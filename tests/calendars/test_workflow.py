"""A record pinning its site's working-day calendar: a ``5wd`` containment raised on a Friday before a Monday
holiday falls due at the end of the right working day, and its reminder and escalations ring in working time
(time-skipping server)."""

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine
from temporalio.testing import WorkflowEnvironment

from models.calendars import WorkCalendar
from models.enums import EventKind, Severity, Source, Stage, VerificationResult
from models.payloads import RaiseInput, RecordInput, VerifyInput
from models.policy import Policy, parse_policy
from tests.builders import signed
from tests.policies import uniform_policy
from tests.workflows.harness import Capa, actor, close_to, new_record_id, running_worker
from tests.workflows.test_lifecycle import _to_verification
from workflows.record import RecordWorkflow

POLICY = parse_policy(
    uniform_policy("working days", containment="5wd", remind_before=["1wd"], escalate_after=["0s", "8wh"])
)


def _next_friday(now: datetime) -> datetime:
    days = (4 - now.weekday()) % 7 or 7
    return datetime.combine(now.date() + timedelta(days=days), datetime.min.time(), tzinfo=UTC) + timedelta(hours=10)


async def _raise(env: WorkflowEnvironment, queue: str, calendar: WorkCalendar | None) -> Capa:
    return await _raise_under(env, queue, POLICY, calendar)


async def _raise_under(env: WorkflowEnvironment, queue: str, policy: Policy, calendar: WorkCalendar | None) -> Capa:
    record_id = new_record_id()
    raised = RaiseInput(
        record_id=record_id,
        title="Burr on housing edge",
        description="Housings from line 3 show a burr on the mating edge.",
        severity=Severity.MAJOR,
        source=Source.INSPECTION,
        owner="olivia",
        raised_by=actor("otto"),
        product="H-200",
    )
    handle = await env.client.start_workflow(
        RecordWorkflow.run,
        RecordInput(raised=raised, policy=policy.for_severity(Severity.MAJOR), calendar=calendar),
        id=record_id,
        task_queue=queue,
    )
    capa = Capa(env.client, handle)
    await capa.wait_for(lambda s: s.clock is not None)
    return capa


async def test_five_working_days_from_a_friday_before_a_monday_holiday(
    env: WorkflowEnvironment, engine: Engine
) -> None:
    async with running_worker(env.client, engine, POLICY) as queue:
        now = (await env.get_current_time()).astimezone(UTC)
        friday = _next_friday(now)
        await env.sleep(friday - now)
        monday = friday.date() + timedelta(days=3)
        calendar = WorkCalendar(holidays=(monday,))
        capa = await _raise(env, queue, calendar)
        state = await capa.state()
        assert state.calendar == calendar
        assert state.clock is not None
        # Tue, Wed, Thu, Fri, then the Monday after: the end of that Monday's working day.
        due = datetime.combine(monday + timedelta(days=7), datetime.min.time(), tzinfo=UTC) + timedelta(hours=16)
        assert state.clock.due_at == due
        # The reminder one working day before: the end of the Friday before; escalations at the due, then
        # 8 working hours later (the end of the Tuesday after).
        reminder = due - timedelta(days=3)
        level2 = due + timedelta(days=1)
        await env.sleep(level2 - friday + timedelta(hours=1))
        state = await capa.wait_for(lambda s: sum(e.kind == EventKind.ESCALATED for e in s.events) >= 2)
        fired = [e for e in state.events if e.kind in (EventKind.REMINDER_SENT, EventKind.ESCALATED)]
        assert [(e.kind, datetime.fromisoformat(e.facts()["scheduled_at"])) for e in fired] == [
            (EventKind.REMINDER_SENT, reminder),
            (EventKind.ESCALATED, due),
            (EventKind.ESCALATED, level2),
        ]
        assert all(close_to(e.at, datetime.fromisoformat(e.facts()["scheduled_at"])) for e in fired)


async def test_without_a_calendar_working_windows_read_as_calendar_time(
    env: WorkflowEnvironment, engine: Engine
) -> None:
    async with running_worker(env.client, engine, POLICY) as queue:
        capa = await _raise(env, queue, None)
        state = await capa.state()
        assert state.calendar is None
        assert state.clock is not None
        assert state.clock.due_at == state.raised_at + timedelta(days=5)


def test_the_scenario_dates_are_right() -> None:
    # Friday 2026-12-04, holiday Monday 2026-12-07: due Monday 2026-12-14 16:00.
    friday = _next_friday(datetime(2026, 12, 1, tzinfo=UTC))
    assert friday == datetime(2026, 12, 4, 10, tzinfo=UTC)
    assert date(2026, 12, 7) == friday.date() + timedelta(days=3)


WINDOW_POLICY = parse_policy(
    uniform_policy("working effectiveness", remind_before=[], escalate_after=["0s"], effectiveness_after="3wd")
)


async def test_the_effectiveness_window_counts_working_days_across_a_holiday(
    env: WorkflowEnvironment, engine: Engine
) -> None:
    """Verified on a Friday before a Monday holiday, a ``3wd`` window ends at the end of the Thursday after (Tue,
    Wed, Thu), not on the Monday as three calendar days would."""
    async with running_worker(env.client, engine, WINDOW_POLICY) as queue:
        now = (await env.get_current_time()).astimezone(UTC)
        friday = _next_friday(now)
        await env.sleep(friday - now)
        monday = friday.date() + timedelta(days=3)
        capa = await _raise_under(env, queue, WINDOW_POLICY, WorkCalendar(holidays=(monday,)))
        await _to_verification(capa, env)
        result = await capa.handle.execute_update(
            RecordWorkflow.verify,
            signed(
                capa.handle.id,
                VerifyInput(actor=actor("maria"), result=VerificationResult.PASS, evidence="Checked 50 housings"),
            ),
        )
        assert result.stage is Stage.EFFECTIVENESS
        thursday_end = datetime.combine(monday + timedelta(days=3), datetime.min.time(), tzinfo=UTC) + timedelta(
            hours=16
        )
        state = await capa.state()
        assert state.effectiveness_due_at == thursday_end
        # Past the calendar-time reading (Monday) nothing is due yet; past the Thursday the review's clock starts.
        tuesday_noon = datetime.combine(monday + timedelta(days=1), datetime.min.time(), tzinfo=UTC) + timedelta(
            hours=12
        )
        await env.sleep(tuesday_noon - (await env.get_current_time()).astimezone(UTC))
        assert (await capa.state()).clock is None
        await env.sleep(thursday_end - (await env.get_current_time()).astimezone(UTC) + timedelta(hours=1))
        state = await capa.wait_for(lambda s: s.clock is not None)
        [due] = [e for e in state.events if e.kind is EventKind.EFFECTIVENESS_DUE]
        assert close_to(due.at, thursday_end)
        assert await capa.failed_workflow_tasks() == 0


async def test_without_a_calendar_the_effectiveness_window_reads_as_calendar_days(
    env: WorkflowEnvironment, engine: Engine
) -> None:
    async with running_worker(env.client, engine, WINDOW_POLICY) as queue:
        capa = await _raise_under(env, queue, WINDOW_POLICY, None)
        await _to_verification(capa, env)
        await capa.handle.execute_update(
            RecordWorkflow.verify,
            signed(
                capa.handle.id,
                VerifyInput(actor=actor("maria"), result=VerificationResult.PASS, evidence="Checked 50 housings"),
            ),
        )
        state = await capa.state()
        [verified] = [e for e in state.events if e.kind is EventKind.VERIFIED]
        assert state.effectiveness_due_at == verified.at + timedelta(days=3)
