"""Reminders, escalations, extensions and reassignment: durable timers firing at the policy's exact offsets.

The default policy's major severity is used: containment 72h, reminders 2d and 12h before due, escalation
levels at 0s, 3d and 7d after due. The directory: olivia and oscar report to mike, mike to maria, maria to ada;
paul reports to nina.
"""

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities import steps
from activities.alarms import alarm_workflow_id
from core import readmodel
from models.enums import Disposition, EventKind
from models.payloads import (
    AlarmSchedule,
    ContainmentInput,
    EscalationEntry,
    Event,
    ExtensionDecisionInput,
    ExtensionRequestInput,
    PlanInput,
    PlannedAction,
    ReassignInput,
    RootCauseInput,
)
from models.tables import OutboxMessage
from models.timers import clock_schedule
from tests.builders import signed
from tests.policies import EARLIER
from tests.workflows.harness import Capa, actor, close_to, raise_record, running_worker, running_worker_on
from worker import WORKFLOWS, build_activities
from workflows.record import RecordWorkflow


def _fired(events: list[Event]) -> list[tuple[str, int | None, list[str]]]:
    """(kind, escalation level, recipients) of each reminder and escalation, in order."""
    return [
        (e.kind.value, e.facts().get("level"), e.facts()["recipients"])
        for e in events
        if e.kind in (EventKind.REMINDER_SENT, EventKind.ESCALATED)
    ]


def _assert_fired_at(events: list[Event], expected: list[datetime]) -> None:
    fired = [e for e in events if e.kind in (EventKind.REMINDER_SENT, EventKind.ESCALATED)]
    assert [datetime.fromisoformat(e.facts()["scheduled_at"]) for e in fired] == expected
    for event, when in zip(fired, expected, strict=True):
        assert close_to(event.at, when), f"{event.kind} fired at {event.at}, due {when}"


def _stored_events(engine: Engine, record_id: str) -> list[Event]:
    stored = readmodel.load_record_state(engine, record_id)
    return stored.events if stored is not None else []


async def _wait_fired(capa: Capa, count: int) -> list[Event]:
    state = await capa.wait_for(
        lambda s: sum(e.kind in (EventKind.REMINDER_SENT, EventKind.ESCALATED) for e in s.events) >= count
    )
    return state.events


async def test_stage_reminders_and_escalations_fire_at_the_policy_offsets(
    env: WorkflowEnvironment, engine: Engine
) -> None:
    """Containment not done: reminders 2d and 12h before due, then levels 1-3 up olivia's reporting line."""
    async with running_worker(env.client, engine) as queue:
        capa = await raise_record(env.client, queue)
        raised_at = (await capa.state()).raised_at
        due = raised_at + timedelta(hours=72)
        await env.sleep(timedelta(hours=72) + timedelta(days=7, hours=1))
        events = await _wait_fired(capa, 5)
        state = await capa.state()

    assert _fired(events) == [
        ("reminder_sent", None, ["olivia"]),
        ("reminder_sent", None, ["olivia"]),
        ("escalated", 1, ["mike"]),
        ("escalated", 2, ["maria"]),
        ("escalated", 3, ["ada"]),
    ]
    _assert_fired_at(
        events,
        [due - timedelta(days=2), due - timedelta(hours=12), due, due + timedelta(days=3), due + timedelta(days=7)],
    )
    assert state.escalation_level == 3
    with Session(engine) as session:
        outbox = session.exec(select(OutboxMessage).where(OutboxMessage.record_id == state.id)).all()
    assert sorted((m.seq, m.recipient, m.status) for m in outbox) == [
        (1, "olivia", "sent"),  # the raise tells the owner the record is hers
        (2, "olivia", "sent"),
        (3, "olivia", "sent"),
        (4, "mike", "sent"),
        (5, "maria", "sent"),
        (6, "ada", "sent"),
    ]


async def test_completing_the_step_stops_its_escalation(env: WorkflowEnvironment, engine: Engine) -> None:
    """Containment submitted after level 1: no level 2 fires for it, and the next stage's clock starts clean."""
    async with running_worker(env.client, engine) as queue:
        capa = await raise_record(env.client, queue)
        await env.sleep(timedelta(hours=73))
        await _wait_fired(capa, 3)
        await capa.handle.execute_update(
            RecordWorkflow.contain,
            ContainmentInput(actor=actor("olivia"), summary="Quarantined", disposition=Disposition.QUARANTINE),
        )
        await env.sleep(timedelta(days=5))
        state = await capa.state()
    assert [level for _, level, _ in _fired(state.events)] == [None, None, 1]
    assert state.escalation_level == 0
    assert state.clock is not None
    assert state.clock.reminders_sent == 0


async def test_action_reminders_and_escalations_follow_the_action_owner(
    env: WorkflowEnvironment, engine: Engine
) -> None:
    """An action has its own clock: oscar is reminded, then mike and maria are escalated to, at its due."""
    async with running_worker(env.client, engine) as queue:
        capa = await raise_record(env.client, queue)
        h = capa.handle
        await h.execute_update(
            RecordWorkflow.contain,
            ContainmentInput(actor=actor("olivia"), summary="Quarantined", disposition=Disposition.SCRAP),
        )
        await h.execute_update(
            RecordWorkflow.root_cause,
            RootCauseInput(actor=actor("olivia"), method="fishbone", cause="Fixture misaligned"),
        )
        action_due = (await env.get_current_time()).replace(microsecond=0) + timedelta(days=10)
        await h.execute_update(
            RecordWorkflow.plan,
            PlanInput(
                actor=actor("olivia"),
                actions=[PlannedAction(owner="oscar", due_at=action_due, description="Realign fixture")],
            ),
        )
        await env.sleep(timedelta(days=13, hours=1))
        events = await _wait_fired(capa, 4)
        state = await capa.state()

    action_events = [e for e in events if e.facts().get("target") == "A1"]
    assert _fired(action_events) == [
        ("reminder_sent", None, ["oscar"]),
        ("reminder_sent", None, ["oscar"]),
        ("escalated", 1, ["mike"]),
        ("escalated", 2, ["maria"]),
    ]
    _assert_fired_at(
        action_events,
        [
            action_due - timedelta(days=2),
            action_due - timedelta(hours=12),
            action_due,
            action_due + timedelta(days=3),
        ],
    )
    assert state.actions[0].clock.escalation_level == 2


async def _request_extension(capa: Capa, until: datetime) -> None:
    await capa.handle.execute_update(
        RecordWorkflow.request_extension,
        ExtensionRequestInput(actor=actor("olivia"), until=until, reason="Lab results due Friday"),
    )


async def test_an_approved_extension_moves_every_timer(env: WorkflowEnvironment, engine: Engine) -> None:
    """Approval re-arms the step: reminders and level 1 move to the new due; the original due stays on record."""
    async with running_worker(env.client, engine) as queue:
        capa = await raise_record(env.client, queue)
        first = await capa.state()
        assert first.clock is not None
        original_due = first.clock.due_at
        new_due = original_due + timedelta(days=2)
        await _request_extension(capa, new_due)
        await capa.handle.execute_update(
            RecordWorkflow.decide_extension,
            signed(capa.handle.id, ExtensionDecisionInput(actor=actor("mike"), approve=True)),
        )
        await env.sleep(timedelta(days=5, hours=1))
        events = await _wait_fired(capa, 3)
        state = await capa.state()

    assert _fired(events) == [
        ("reminder_sent", None, ["olivia"]),
        ("reminder_sent", None, ["olivia"]),
        ("escalated", 1, ["mike"]),
    ]
    _assert_fired_at(events, [new_due - timedelta(days=2), new_due - timedelta(hours=12), new_due])
    assert state.clock is not None
    assert state.clock.due_at == new_due
    assert state.clock.original_due_at == original_due
    decided = [e for e in events if e.kind is EventKind.EXTENSION_DECIDED]
    assert decided[0].facts()["approve"] is True


async def test_a_rejected_extension_leaves_the_timers_alone(env: WorkflowEnvironment, engine: Engine) -> None:
    """Rejection keeps the original due: level 1 still fires at it."""
    async with running_worker(env.client, engine) as queue:
        capa = await raise_record(env.client, queue)
        first = await capa.state()
        assert first.clock is not None
        due = first.clock.due_at
        await _request_extension(capa, due + timedelta(days=2))
        await capa.handle.execute_update(
            RecordWorkflow.decide_extension,
            signed(
                capa.handle.id,
                ExtensionDecisionInput(actor=actor("maria"), approve=False, reason="Containment cannot wait"),
            ),
        )
        await env.sleep(timedelta(hours=73))
        events = await _wait_fired(capa, 3)
        state = await capa.state()

    _assert_fired_at(events, [due - timedelta(days=2), due - timedelta(hours=12), due])
    assert state.clock is not None
    assert state.clock.due_at == due
    assert state.pending_extension is None


async def test_reassignment_moves_reminders_and_escalations_to_the_new_holder(
    env: WorkflowEnvironment, engine: Engine
) -> None:
    """After mike hands the record to paul, paul is reminded and paul's manager nina is escalated to."""
    async with running_worker(env.client, engine) as queue:
        capa = await raise_record(env.client, queue)
        await capa.handle.execute_update(
            RecordWorkflow.reassign,
            ReassignInput(actor=actor("mike"), new_owner="paul", reason="Olivia on leave"),
        )
        await env.sleep(timedelta(hours=73))
        events = await _wait_fired(capa, 3)
        state = await capa.state()

    assert state.owner == "paul"
    assert _fired(events) == [
        ("reminder_sent", None, ["paul"]),
        ("reminder_sent", None, ["paul"]),
        ("escalated", 1, ["nina"]),
    ]


async def _start_nothing(client: Client, task_queue: str, schedules: list[AlarmSchedule], now: object) -> None:
    """An alarm start that does not get through (its worker lost, say): the record's clock has no alarm running."""


async def test_an_escalation_a_step_overtook_is_still_recorded(
    env: WorkflowEnvironment, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Containment was due and its level-1 escalation had not gone out (its alarm was not running) when olivia's
    containment landed: when the alarm rings after all, the escalation is still recorded, after her step but
    scheduled before it, saying the step was done late, and mike hears of it once."""
    queue = f"capa-test-{uuid.uuid4()}"
    policy = EARLIER
    with ThreadPoolExecutor(max_workers=4) as executor:
        monkeypatch.setattr(steps, "start_alarms", _start_nothing)
        async with Worker(
            env.client,
            task_queue=queue,
            workflows=WORKFLOWS,
            activities=build_activities(env.client, engine=engine, policy=policy),
            activity_executor=executor,
            max_cached_workflows=0,
        ):
            capa = await raise_record(env.client, queue)
            raised = await capa.state()
            await env.sleep(timedelta(hours=73))
            await capa.step(
                RecordWorkflow.contain,
                ContainmentInput(actor=actor("olivia"), summary="Quarantined", disposition=Disposition.QUARANTINE),
            )
            # The step's read-model write lands on this worker: one handed over as it stops waits out its timeout.
            await capa.wait_for(lambda s: _stored_events(engine, s.id) == s.events)
    monkeypatch.undo()
    assert raised.clock is not None
    assert raised.policy is not None
    # The alarm's start gets through late: it finds every alarm of the ended clock due at once.
    schedule = AlarmSchedule(
        record_id=raised.id,
        alarm=raised.clock.alarm,
        holder="olivia",
        alarms=clock_schedule(raised.clock, raised.policy.rules),
    )
    async with running_worker_on(env.client, engine, queue):
        await env.client.start_workflow(
            "CapaAlarm", schedule, id=alarm_workflow_id(raised.id, raised.clock.alarm), task_queue=queue
        )
        state = await capa.wait_for(lambda s: any(e.kind is EventKind.ESCALATED for e in s.events))
        stored = await capa.wait_for(lambda s: _stored_events(engine, s.id) == s.events)

    kinds = [e.kind for e in state.events]
    assert kinds.index(EventKind.CONTAINMENT_SUBMITTED) < kinds.index(EventKind.ESCALATED)
    [escalated] = [e for e in state.events if e.kind is EventKind.ESCALATED]
    contained = next(e for e in state.events if e.kind is EventKind.CONTAINMENT_SUBMITTED)
    entry = escalated.details
    assert isinstance(entry, EscalationEntry)
    assert entry.target == "containment"
    assert entry.level == 1
    assert entry.scheduled_at == raised.clock.due_at < contained.at
    assert entry.step_done_at == contained.at
    assert entry.recipients == ["mike"]
    assert stored.clock is not None
    assert stored.clock.escalation_level == 0, "the root-cause clock starts afresh"
    with Session(engine) as session:
        told = session.exec(select(OutboxMessage).where(OutboxMessage.seq == escalated.seq)).all()
    assert [(m.recipient, "done" in m.subject) for m in told] == [("mike", True)]
