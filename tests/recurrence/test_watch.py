"""The effectiveness window that watches (time-skipping server): a record in its 60-day effectiveness window receives
a matching raise as a ``recurrence_detected`` entry and its review shows the count beside each criterion; a
non-matching raise adds nothing; with ``review_forward_on_recurrence`` the review is brought forward; a raise after
the window adds nothing."""

from datetime import timedelta

from sqlalchemy import Engine
from temporalio.testing import WorkflowEnvironment

from models import recurrence
from models.enums import EventKind, Severity, Stage, VerificationResult
from models.payloads import RecurrenceEntry, RecurrenceSource, VerifyInput
from models.policy import Policy
from tests.builders import signed
from tests.policies import EARLIER
from tests.workflows.harness import Capa, actor, close_to, raise_record, running_worker
from tests.workflows.test_lifecycle import _to_verification
from workflows.record import RecordWorkflow


async def _in_window(env: WorkflowEnvironment, queue: str) -> Capa:
    """A major record on H-200 / BURR, verified: its 60-day effectiveness window runs."""
    capa = await raise_record(env.client, queue, severity=Severity.MAJOR, product="H-200", defect_code="BURR")
    await _to_verification(capa, env)
    await capa.handle.execute_update(
        RecordWorkflow.verify,
        signed(capa.handle.id, VerifyInput(actor=actor("maria"), result=VerificationResult.PASS, evidence="ok")),
    )
    await capa.activities_done()
    return capa


async def _raised_and_watched(
    env: WorkflowEnvironment, queue: str, product: str = "H-200", defect_code: str = "BURR"
) -> Capa:
    """A new nonconformity, once its raise has been settled (and so watched)."""
    new = await raise_record(env.client, queue, severity=Severity.MINOR, product=product, defect_code=defect_code)
    await new.activities_done()
    return new


def _recurrences(state: object) -> list[RecurrenceEntry]:
    events = getattr(state, "events", [])
    return [e.details for e in events if e.kind is EventKind.RECURRENCE_DETECTED]


async def test_a_matching_raise_in_the_window_is_recorded_and_counted_at_the_review(
    env: WorkflowEnvironment, engine: Engine
) -> None:
    async with running_worker(env.client, engine) as queue:
        capa = await _in_window(env, queue)
        await env.sleep(timedelta(days=20))
        other = await _raised_and_watched(env, queue, product="H-300", defect_code="BURR")
        same = await _raised_and_watched(env, queue)
        state = await capa.wait_for(lambda s: bool(_recurrences(s)))
        await env.sleep(timedelta(days=41))
        reviewed = await capa.wait_for(lambda s: s.clock is not None)
    [entry] = _recurrences(reviewed)
    assert entry.source is RecurrenceSource.EFFECTIVENESS
    assert entry.record_ids == [same.handle.id]
    assert other.handle.id not in entry.record_ids
    assert state.stage is Stage.EFFECTIVENESS
    assert state.clock is None  # recorded only: the window runs on
    [row] = recurrence.window_data(reviewed)
    assert row.count == 1
    assert row.seen[0].record_id == same.handle.id
    assert f"1 matching nonconformity raised in the window: {same.handle.id}" in row.said()


async def test_with_the_policy_key_the_review_is_brought_forward(env: WorkflowEnvironment, engine: Engine) -> None:
    major = EARLIER.severity[Severity.MAJOR].model_copy(update={"review_forward_on_recurrence": True})
    forward = Policy.model_validate(
        {**EARLIER.model_dump(), "severity": {**EARLIER.model_dump()["severity"], "major": major.model_dump()}}
    )
    async with running_worker(env.client, engine, forward) as queue:
        capa = await _in_window(env, queue)
        await env.sleep(timedelta(days=10))
        same = await _raised_and_watched(env, queue)
        state = await capa.wait_for(lambda s: s.clock is not None)
    [entry] = _recurrences(state)
    assert entry.record_ids == [same.handle.id]
    assert entry.review_due_at is not None
    assert state.clock is not None
    assert state.effectiveness_due_at is not None
    assert close_to(state.effectiveness_due_at, state.events[-1].at)
    assert state.clock.due_at == entry.review_due_at


async def test_a_raise_after_the_window_adds_nothing(env: WorkflowEnvironment, engine: Engine) -> None:
    async with running_worker(env.client, engine) as queue:
        capa = await _in_window(env, queue)
        await env.sleep(timedelta(days=61))
        await capa.wait_for(lambda s: s.clock is not None)
        await capa.activities_done()
        await _raised_and_watched(env, queue)
        state = await capa.state()
    assert _recurrences(state) == []
