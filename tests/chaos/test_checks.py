"""The chaos report names the cause of a stopped record when the Temporal SDK, not capaflow, caused it, and tells a
record that stopped from one whose worker failed a task on a stale cached copy and went on.

The histories come from full chaos runs (``make chaos``): two of earlier code, each ending on a non-determinism
error; three of the current code, each with one task that failed right after the server restarted and a next
attempt that completed.
"""

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session
from temporalio.api.common.v1 import WorkflowType
from temporalio.api.enums.v1 import EventType, WorkflowTaskFailedCause
from temporalio.api.history.v1 import (
    HistoryEvent,
    WorkflowExecutionStartedEventAttributes,
    WorkflowTaskFailedEventAttributes,
)
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from activities.digest import digest_key
from chaos.checks import Evidence, escalations_once, workflow_tasks
from chaos.run import QUICK_TIMINGS
from models.tables import OutboxMessage
from worker import WORKFLOWS

HISTORIES = Path(__file__).parent / "histories"
HEALED = (("healed-stale-cache", "NC-2026-0099"), ("healed-stale-cache-other-worker", "NC-2026-0087"))
REPLAYER = Replayer(workflows=WORKFLOWS, data_converter=pydantic_data_converter)


def _stopped(name: str) -> WorkflowHistory:
    history = WorkflowHistory.from_json(name, (HISTORIES / f"{name}.json").read_text())
    assert history.events[-1].event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED
    return history


def _failures(history: WorkflowHistory) -> list[str]:
    evidence = Evidence(states={}, unreadable={}, histories=[history], temporal_ids=Counter(), stored_ids=set())
    check, tally = workflow_tasks(evidence)
    assert tally.failed["NON_DETERMINISTIC_ERROR"] == 1
    return check.failures


def test_a_step_and_an_activity_result_applied_out_of_order_is_named_as_the_sdks() -> None:
    """A step accepted in the same task as an activity result: replay applies the step first, live did not."""
    [failure] = _failures(_stopped("stopped-by-update-order"))
    assert "temporalio/sdk-python#1591" in failure
    assert "Update machine does not handle this event" in failure


def test_a_failure_of_the_workflows_own_making_is_not_blamed_on_the_sdk() -> None:
    """The timer loop branching on a stale clock (fixed since, behind a patch) is capaflow's own: no SDK issue named."""
    [failure] = _failures(_stopped("stopped-by-timer-branch"))
    assert "sdk-python" not in failure
    assert "Activity machine does not handle this event" in failure


def _task_refused(workflow_type: str, *, then_terminated: bool) -> WorkflowHistory:
    started = HistoryEvent(
        event_id=1,
        event_type=EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
        workflow_execution_started_event_attributes=WorkflowExecutionStartedEventAttributes(
            workflow_type=WorkflowType(name=workflow_type)
        ),
    )
    refused = HistoryEvent(
        event_id=1,
        event_type=EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED,
        workflow_task_failed_event_attributes=WorkflowTaskFailedEventAttributes(
            cause=WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_FORCE_CLOSE_COMMAND
        ),
    )
    events = [started, refused]
    if then_terminated:
        events.append(HistoryEvent(event_id=3, event_type=EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED))
    return WorkflowHistory("NC-2026-0006-alarm-2", events)


def test_a_task_refused_because_a_step_terminated_its_alarm_is_no_failure() -> None:
    """A step that ends a clock terminates its alarm workflow; a task a worker held meanwhile is refused. That is
    counted, not failed; the same refusal without a termination, or of a record, still fails the check."""
    for workflow_type, terminated, failures in (
        ("CapaAlarm", True, 0),
        ("CapaAlarm", False, 1),
        ("CapaRecord", True, 1),
    ):
        evidence = Evidence(
            states={},
            unreadable={},
            histories=[_task_refused(workflow_type, then_terminated=terminated)],
            temporal_ids=Counter(),
            stored_ids=set(),
        )
        check, tally = workflow_tasks(evidence)
        assert tally.failed["FORCE_CLOSE_COMMAND"] == 1
        assert len(check.failures) == failures


def test_a_task_failed_on_a_workers_stale_copy_and_then_completed_is_healed() -> None:
    """After the server restarted, a worker's cached record held a step whose task the server lost; the history
    took the same step from another worker's task. The cached worker failed one task; the next attempt completed,
    on the same worker (its copy dropped, the history replayed) or on the one that wrote the step: counted, not a
    failure. A failure no later attempt completes still fails the check."""
    for name, record_id in (
        ("healed-stale-cache", "NC-2026-0099"),
        ("healed-stale-cache-other-worker", "NC-2026-0087"),
    ):
        history = WorkflowHistory.from_json(record_id, (HISTORIES / f"{name}.json").read_text())
        evidence = Evidence(states={}, unreadable={}, histories=[history], temporal_ids=Counter(), stored_ids=set())
        check, tally = workflow_tasks(evidence)
        assert (tally.failed["NON_DETERMINISTIC_ERROR"], tally.healed, check.failures) == (1, 1, []), name
        assert "1 on a worker's stale cached copy" in check.detail

    stopped = _stopped("stopped-by-update-order")
    evidence = Evidence(states={}, unreadable={}, histories=[stopped], temporal_ids=Counter(), stored_ids=set())
    check, tally = workflow_tasks(evidence)
    assert (tally.healed, len(check.failures)) == (0, 1)


def test_a_task_refused_for_refusing_a_step_it_had_applied_is_healed() -> None:
    """Right after the server restarted, a ring already applied to NC-2026-0096 was delivered once more; the
    record refused the repeat and the server failed that task. The next attempt completed: counted, not a
    failure. The same refusal of a step the history never completed still fails the check."""
    history = WorkflowHistory.from_json("NC-2026-0096", (HISTORIES / "healed-repeated-update.json").read_text())
    evidence = Evidence(states={}, unreadable={}, histories=[history], temporal_ids=Counter(), stored_ids=set())
    check, tally = workflow_tasks(evidence)
    assert (tally.failed["BAD_UPDATE_WORKFLOW_EXECUTION_MESSAGE"], tally.healed, check.failures) == (1, 1, [])

    failed_at = next(e for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED)
    never_applied = WorkflowHistory(
        "NC-2026-0096",
        [
            e
            for e in history.events
            if e.event_type != EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED
            or e.event_id > failed_at.event_id
        ],
    )
    evidence = Evidence(states={}, unreadable={}, histories=[never_applied], temporal_ids=Counter(), stored_ids=set())
    check, tally = workflow_tasks(evidence)
    assert (tally.healed, len(check.failures)) == (0, 1)


async def test_the_healed_histories_replay_against_the_current_code() -> None:
    """What makes such a failure healed rather than a stopped record: the whole history replays from the start."""
    for name, record_id in (
        ("healed-stale-cache", "NC-2026-0099"),
        ("healed-stale-cache-other-worker", "NC-2026-0087"),
        ("healed-repeated-update", "NC-2026-0096"),
    ):
        history = WorkflowHistory.from_json(record_id, (HISTORIES / f"{name}.json").read_text())
        result = await REPLAYER.replay_workflow(history, raise_on_replay_failure=False)
        assert result.replay_failure is None, (name, result.replay_failure)


def test_the_days_digest_is_no_stray_outbox_row_but_a_notice_of_no_record_is(engine: Engine) -> None:
    """A run that spans the site's digest time queues the day's digest, a notice of no record: it is not counted
    as a stray row. A row for a record the run did not drive still is."""
    evidence = Evidence(states={}, unreadable={}, histories=[], temporal_ids=Counter(), stored_ids=set())
    with Session(engine) as session:
        for record_id in (digest_key(datetime.now(UTC), "UTC"), "NC-2026-9999"):
            session.add(
                OutboxMessage(
                    record_id=record_id, seq=0, recipient="mike", channel="log", kind="digest", subject="s", body="b"
                )
            )
        session.commit()
    _, outbox, _ = escalations_once([], evidence, engine, QUICK_TIMINGS)
    assert outbox.failures == ["outbox rows for NC-2026-9999 seq 0, which is in no timeline"]
