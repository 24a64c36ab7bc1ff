"""Recurrence sentinels (time-skipping server): three raises on one product and defect code open exactly one linked
CAPA raised by the system; a worker lost while the sentinel fires still opens exactly one; a fourth raise adds a
``recurrence_detected`` entry to it; occurrences older than the 90-day window do not count."""

import asyncio
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from activities.sentinels import SentinelActivities
from models.enums import (
    CauseCategory,
    Disposition,
    EffectivenessResult,
    EventKind,
    RootCauseMethod,
    Severity,
    Stage,
    VerificationResult,
)
from models.notices import SENTINEL_FIRED_SEQ
from models.payloads import (
    CancelInput,
    ContainmentInput,
    RaiseStep,
    RecurrenceEntry,
    RecurrenceSource,
    ReviewInput,
    RootCauseInput,
    VerifyInput,
)
from models.policy import Policy
from models.sentinels import SentinelRule, SentinelState, sentinel_id
from models.tables import OutboxMessage, RecordSequence, SentinelFiring, User
from tests.builders import signed
from tests.policies import EARLIER
from tests.workflows.harness import Capa, actor, raise_record, running_worker
from tests.workflows.test_lifecycle import _to_verification
from workflows.record import RecordWorkflow

RULE = SentinelRule.model_validate(
    {"name": "same-product-defect", "match": ["product", "defect_code"], "count": 3, "window": "90d", "owner": "olivia"}
)
POLICY: Policy = EARLIER.model_copy(update={"sentinels": [RULE]})
SENTINEL = sentinel_id(RULE.name, ["H-200", "BURR"])


async def _raised(env: WorkflowEnvironment, queue: str) -> Capa:
    capa = await raise_record(env.client, queue, severity=Severity.MINOR, product="H-200", defect_code="BURR")
    await capa.activities_done()
    return capa


async def _sentinel(
    client: Client, predicate: Callable[[SentinelState], bool], within: float = 15.0, workflow_id: str = SENTINEL
) -> SentinelState:
    handle = client.get_workflow_handle(workflow_id)
    deadline = asyncio.get_running_loop().time() + within
    while True:
        state: SentinelState | None = None
        try:
            state = await handle.query("state", result_type=SentinelState)
        except Exception:  # not started yet
            state = None
        if state is not None and predicate(state):
            return state
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"sentinel condition not met: {state}")
        await asyncio.sleep(0.05)


def _linked(client: Client, record_id: str) -> Capa:
    return Capa(client, client.get_workflow_handle_for(RecordWorkflow.run, record_id))


async def test_three_raises_open_one_linked_capa_and_a_fourth_is_a_recurrence(
    env: WorkflowEnvironment, engine: Engine
) -> None:
    async with running_worker(env.client, engine, POLICY) as queue:
        raised = [await _raised(env, queue) for _ in range(3)]
        ids = [capa.handle.id for capa in raised]
        state = await _sentinel(env.client, lambda s: s.linked is not None)
        linked = _linked(env.client, state.linked or "")
        opened = await linked.wait_for(lambda s: s.clock is not None)
        fourth = await _raised(env, queue)
        after = await linked.wait_for(lambda s: any(e.kind is EventKind.RECURRENCE_DETECTED for e in s.events))
        final = await _sentinel(env.client, lambda s: fourth.handle.id in s.fired)
    assert state.firings == 1
    assert final.firings == 1
    assert sorted(state.fired) == sorted(ids)
    raise_entry = next(e.details for e in opened.events if e.kind is EventKind.RAISED)
    assert isinstance(raise_entry, RaiseStep)
    assert raise_entry.raised_by_rule == RULE.name
    assert sorted(raise_entry.triggered_by or []) == sorted(ids)
    assert opened.owner == "olivia"
    assert opened.raised_by == "system"
    assert {link.record_id for link in opened.links} >= set(ids)
    [entry] = [e.details for e in after.events if e.kind is EventKind.RECURRENCE_DETECTED]
    assert isinstance(entry, RecurrenceEntry)
    assert entry.source is RecurrenceSource.SENTINEL
    assert entry.rule == RULE.name
    assert entry.record_ids == [fourth.handle.id]
    assert entry.level == 1


async def test_quality_is_told_when_a_rule_fires_with_the_rule_and_the_triggering_records(
    env: WorkflowEnvironment, engine: Engine
) -> None:
    async with running_worker(env.client, engine, POLICY) as queue:
        ids = [(await _raised(env, queue)).handle.id for _ in range(3)]
        state = await _sentinel(env.client, lambda s: s.linked is not None)
        await _linked(env.client, state.linked or "").activities_done()
    with Session(engine) as session:
        told = session.exec(
            select(OutboxMessage).where(
                col(OutboxMessage.record_id) == state.linked, col(OutboxMessage.seq) == SENTINEL_FIRED_SEQ
            )
        ).all()
        quality = session.exec(select(User.name).where(col(User.role) == "quality", col(User.active))).all()
    assert quality
    assert {row.recipient for row in told if row.channel == "log"} >= {*quality, RULE.owner}
    for row in told:
        assert RULE.name in row.subject
        assert all(record_id in row.subject for record_id in ids)


async def test_a_worker_lost_while_the_sentinel_fires_still_opens_one(
    env: WorkflowEnvironment, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The first attempt opens the CAPA and dies before it reports back, as a worker killed mid-fire would.
    opened: list[str] = []
    real = SentinelActivities._open

    async def dies_once(self: SentinelActivities, *args: Any) -> str:
        record_id = await real(self, *args)
        opened.append(record_id)
        if len(opened) == 1:
            raise RuntimeError("worker lost")
        return record_id

    monkeypatch.setattr(SentinelActivities, "_open", dies_once)
    async with running_worker(env.client, engine, POLICY) as queue:
        for _ in range(3):
            await _raised(env, queue)
        state = await _sentinel(env.client, lambda s: s.linked is not None, within=60)
    assert len(opened) == 2  # attempted twice
    assert opened[0] == opened[1] == state.linked  # one record id per firing: the retry opened nothing new
    assert state.firings == 1
    # An ordinary id from the record counter, stored once for the firing.
    with Session(engine) as session:
        firings = session.exec(select(SentinelFiring)).all()
        counter = session.exec(select(RecordSequence)).all()
    assert [(f.sentinel, f.firing, f.record_id) for f in firings] == [(SENTINEL, 1, state.linked)]
    year, number = re.fullmatch(r"NC-(\d{4})-(\d{4,})", state.linked or "").groups()  # type: ignore[union-attr]
    assert any(row.year == int(year) and row.last >= int(number) for row in counter)
    assert not (len(number) == 9 and number.startswith("9"))


async def test_occurrences_older_than_the_window_do_not_count(env: WorkflowEnvironment, engine: Engine) -> None:
    async with running_worker(env.client, engine, POLICY) as queue:
        await _raised(env, queue)
        await _raised(env, queue)
        await _sentinel(env.client, lambda s: len(s.occurrences) == 2)
        await env.sleep(timedelta(days=91))
        third = await _raised(env, queue)
        state = await _sentinel(env.client, lambda s: third.handle.id in [o.record_id for o in s.occurrences])
    assert [o.record_id for o in state.occurrences] == [third.handle.id]
    assert state.linked is None
    assert state.firings == 0


CAUSE_RULE = SentinelRule.model_validate(
    {"name": "same-cause", "match": ["product", "cause_category"], "count": 2, "window": "90d", "owner": "olivia"}
)


async def _with_cause(env: WorkflowEnvironment, queue: str, product: str) -> Capa:
    capa = await raise_record(env.client, queue, severity=Severity.MINOR, product=product)
    await capa.handle.execute_update(
        RecordWorkflow.contain,
        ContainmentInput(actor=actor("olivia"), summary="Lot quarantined", disposition=Disposition.QUARANTINE),
    )
    await capa.handle.execute_update(
        RecordWorkflow.root_cause,
        RootCauseInput(
            actor=actor("olivia"), method=RootCauseMethod.OTHER, cause="Tool worn", category=CauseCategory.MACHINE
        ),
    )
    await capa.activities_done()
    return capa


async def test_a_rule_on_the_cause_category_is_fed_at_root_cause(env: WorkflowEnvironment, engine: Engine) -> None:
    policy: Policy = EARLIER.model_copy(update={"sentinels": [CAUSE_RULE]})
    watched = sentinel_id(CAUSE_RULE.name, ["H-900", "machine"])
    async with running_worker(env.client, engine, policy) as queue:
        ids = [(await _with_cause(env, queue, "H-900")).handle.id for _ in range(2)]
        state = await _sentinel(env.client, lambda s: s.linked is not None, workflow_id=watched)
    assert sorted(state.fired) == sorted(ids)
    assert state.facts == {"product": "H-900", "cause_category": "machine"}


async def test_continue_as_new_keeps_the_window_and_the_fired_occurrences(
    env: WorkflowEnvironment, engine: Engine
) -> None:
    # A sentinel that continues as new every few occurrences: it still fires once, then records the fourth.
    start = SentinelState(rule=RULE, key=["H-200", "BURR"], facts={"product": "H-200", "defect_code": "BURR"})
    async with running_worker(env.client, engine, POLICY) as queue:
        first = await env.client.start_workflow(
            "SentinelWorkflow", start.model_copy(update={"max_history": 10}), id=SENTINEL, task_queue=queue
        )
        ids = [(await _raised(env, queue)).handle.id for _ in range(4)]
        state = await _sentinel(env.client, lambda s: ids[3] in s.fired)
        linked = await _linked(env.client, state.linked or "").wait_for(
            lambda s: any(e.kind is EventKind.RECURRENCE_DETECTED for e in s.events)
        )
        described = await env.client.get_workflow_handle(SENTINEL).describe()
    assert described.run_id != first.result_run_id  # it continued as new
    assert state.firings == 1
    assert sorted(state.fired) == sorted(ids)
    [entry] = [e.details for e in linked.events if e.kind is EventKind.RECURRENCE_DETECTED]
    assert isinstance(entry, RecurrenceEntry)
    assert entry.record_ids == [ids[3]]


# --- a rule armed by a close: any recurrence of a closed critical record's product and defect code within a year ---

AFTER_CLOSED = SentinelRule.model_validate(
    {
        "name": "closed-critical-recurs",
        "match": ["product", "defect_code"],
        "count": 1,
        "window": "365d",
        "owner": "olivia",
        "severity": "critical",
        "after_closed": True,
    }
)
ARMED = sentinel_id(AFTER_CLOSED.name, ["H-200", "BURR"])


async def _closed_critical(env: WorkflowEnvironment, queue: str) -> Capa:
    capa = await raise_record(env.client, queue, severity=Severity.CRITICAL, product="H-200", defect_code="BURR")
    await _to_verification(capa, env)
    await capa.handle.execute_update(
        RecordWorkflow.verify,
        signed(
            capa.handle.id,
            VerifyInput(actor=actor("maria"), result=VerificationResult.PASS, evidence="Checked 50 housings"),
        ),
    )
    await env.sleep(timedelta(days=61))
    await capa.wait_for(lambda s: s.clock is not None and s.stage is Stage.EFFECTIVENESS)
    await capa.handle.execute_update(
        RecordWorkflow.review,
        signed(
            capa.handle.id,
            ReviewInput(actor=actor("maria"), result=EffectivenessResult.EFFECTIVE, evidence="No recurrence in 60d"),
        ),
    )
    # Not awaiting the result: time would skip on to the sentinel's window while the client waits.
    await capa.wait_for(lambda s: s.stage is Stage.CLOSED)
    await capa.activities_done()
    return capa


async def test_a_recurrence_of_a_closed_critical_record_within_the_window_opens_one_linked_capa(
    env: WorkflowEnvironment, engine: Engine
) -> None:
    policy: Policy = EARLIER.model_copy(update={"sentinels": [AFTER_CLOSED]})
    async with running_worker(env.client, engine, policy) as queue:
        closed = await _closed_critical(env, queue)
        armed = await _sentinel(env.client, lambda s: s.armed is not None, workflow_id=ARMED)
        await env.sleep(timedelta(days=100))
        again = await _raised(env, queue)  # a minor one: any recurrence counts
        state = await _sentinel(env.client, lambda s: s.linked is not None, workflow_id=ARMED)
        opened = await _linked(env.client, state.linked or "").wait_for(lambda s: s.clock is not None)
    assert armed.armed is not None
    assert armed.armed.record_id == closed.handle.id
    assert state.firings == 1
    assert state.fired == [again.handle.id]
    raise_entry = next(e.details for e in opened.events if e.kind is EventKind.RAISED)
    assert isinstance(raise_entry, RaiseStep)
    assert raise_entry.raised_by_rule == AFTER_CLOSED.name
    assert raise_entry.triggered_by == [closed.handle.id, again.handle.id]


async def test_a_raise_after_the_window_of_a_close_opens_nothing(env: WorkflowEnvironment, engine: Engine) -> None:
    policy: Policy = EARLIER.model_copy(update={"sentinels": [AFTER_CLOSED]})
    async with running_worker(env.client, engine, policy) as queue:
        await _closed_critical(env, queue)
        await _sentinel(env.client, lambda s: s.armed is not None, workflow_id=ARMED)
        await env.sleep(timedelta(days=366))
        await _sentinel(env.client, lambda s: s.armed is None, workflow_id=ARMED)
        late = await _raised(env, queue)
        await asyncio.sleep(1.0)  # the raise's feed has reached the sentinel, if it were to count
        state = await _sentinel(env.client, lambda s: True, workflow_id=ARMED)
    assert late.handle.id not in [o.record_id for o in state.occurrences]
    assert state.linked is None
    assert state.firings == 0


async def test_an_idle_sentinel_completes_and_a_later_raise_starts_it_again(
    env: WorkflowEnvironment, engine: Engine
) -> None:
    async with running_worker(env.client, engine, POLICY) as queue:
        for _ in range(3):
            await _raised(env, queue)
        state = await _sentinel(env.client, lambda s: s.linked is not None)
        linked = _linked(env.client, state.linked or "")
        await linked.handle.execute_update(
            RecordWorkflow.cancel,
            signed(linked.handle.id, CancelInput(actor=actor("mike"), reason="Handled under another record")),
        )
        await linked.activities_done()
        first = await env.client.get_workflow_handle(SENTINEL).describe()
        await env.sleep(timedelta(days=91))
        ended = await env.client.get_workflow_handle(SENTINEL, run_id=first.run_id).describe()
        deadline = asyncio.get_running_loop().time() + 15
        while ended.status is not WorkflowExecutionStatus.COMPLETED and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
            ended = await env.client.get_workflow_handle(SENTINEL, run_id=first.run_id).describe()
        later = await _raised(env, queue)
        again = await _sentinel(env.client, lambda s: later.handle.id in [o.record_id for o in s.occurrences])
        described = await env.client.get_workflow_handle(SENTINEL).describe()
    assert ended.status is WorkflowExecutionStatus.COMPLETED
    assert described.status is WorkflowExecutionStatus.RUNNING
    assert described.run_id != first.run_id
    assert again.linked is None
    assert again.firings == 0
