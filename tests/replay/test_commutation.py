"""A step and whatever else reaches a record in the same workflow task give the same commands in either order.

Live, a worker hands the workflow an activity result (or the record's start, an alarm, a second step) and a
step in the order they reached it; a replay hands updates over first (temporalio/sdk-python#1591). Each history
under ``histories/commutation`` (recorded by ``make histories``, see ``commute.py``) holds such shared tasks.
It is replayed as recorded (the SDK's order) and rewritten so that every shared task is split in two: first
the other events alone, then the step in a task of its own. Both must replay: the record's commands may not
depend on which came first.
"""

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from worker import WORKFLOWS

FOLDER = Path(__file__).parent / "histories" / "commutation"
# One folder per recording (the newest last): records of every earlier shape must keep commuting too.
RECORDINGS = sorted(path for path in FOLDER.iterdir() if path.is_dir())
HISTORIES = sorted(FOLDER.rglob("*.json"))
STOPPED = Path(__file__).parents[1] / "chaos" / "histories" / "stopped-by-update-order.json"

_TASK_EVENTS = {
    "EVENT_TYPE_WORKFLOW_TASK_SCHEDULED",
    "EVENT_TYPE_WORKFLOW_TASK_STARTED",
    "EVENT_TYPE_WORKFLOW_TASK_COMPLETED",
    "EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT",
    "EVENT_TYPE_WORKFLOW_TASK_FAILED",
}
# Events a task hands the workflow as a job of its own: the things that can share a task with a step.
_DELIVERED = {
    "EVENT_TYPE_WORKFLOW_EXECUTION_STARTED",
    "EVENT_TYPE_ACTIVITY_TASK_COMPLETED",
    "EVENT_TYPE_ACTIVITY_TASK_FAILED",
    "EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT",
    "EVENT_TYPE_ACTIVITY_TASK_CANCELED",
    "EVENT_TYPE_TIMER_FIRED",
    "EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED",
    "EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED",
    "EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED",
    "EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_FAILED",
}
_ACCEPTED = "EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED"
_COMPLETED_TASK = "EVENT_TYPE_WORKFLOW_TASK_COMPLETED"


def shared_tasks(events: list[dict[str, Any]]) -> list[int]:
    """Indexes of the completed workflow tasks that accepted a step beside something else: an event delivered
    since the task before, or a second step."""
    shared = []
    delivered = 0
    for index, event in enumerate(events):
        kind = event["eventType"]
        if kind in _DELIVERED:
            delivered += 1
        elif kind == _COMPLETED_TASK:
            accepted = 0
            for later in events[index + 1 :]:
                if later["eventType"] in _TASK_EVENTS:
                    break
                accepted += later["eventType"] == _ACCEPTED
            if accepted and (delivered or accepted > 1):
                shared.append(index)
            delivered = 0
    return shared


def _renumber(node: Any, moved: dict[str, str]) -> None:
    """Rewrite every event id (``eventId`` and each ``...EventId``) in ``node`` through ``moved``."""
    if isinstance(node, dict):
        for key, value in node.items():
            if (key == "eventId" or key.endswith("EventId")) and isinstance(value, str) and value in moved:
                node[key] = moved[value]
            else:
                _renumber(value, moved)
    elif isinstance(node, list):
        for item in node:
            _renumber(item, moved)


def split_result_first(history: dict[str, Any]) -> dict[str, Any]:
    """The same history with every shared task split: the task keeps what it was handed besides its steps and
    the commands emitted before the first step was accepted; the steps, and every command after them, move to a
    new task right after it. That is what a worker sees when the other events reach it alone, first."""
    split = copy.deepcopy(history)
    events: list[dict[str, Any]] = split["events"]
    for completed_at in reversed(shared_tasks(events)):
        completed = events[completed_at]
        started = next(e for e in events if e["eventId"] == completed_attributes(completed)["startedEventId"])
        scheduled = next(e for e in events if e["eventId"] == completed_attributes(completed)["scheduledEventId"])
        accepted_at = next(i for i in range(completed_at + 1, len(events)) if events[i]["eventType"] == _ACCEPTED)
        first_new = int(events[accepted_at]["eventId"])
        moved = {str(n): str(n + 3) for n in range(first_new, int(events[-1]["eventId"]) + 1)}
        for event in events:
            _renumber(event, moved)
        ids = [str(first_new), str(first_new + 1), str(first_new + 2)]
        new_scheduled = copy.deepcopy(scheduled)
        new_started = copy.deepcopy(started)
        new_completed = copy.deepcopy(completed)
        for event, event_id in zip((new_scheduled, new_started, new_completed), ids, strict=True):
            event["eventId"] = event_id
            event["eventTime"] = completed["eventTime"]
        new_started["workflowTaskStartedEventAttributes"]["scheduledEventId"] = ids[0]
        completed_attributes(new_completed).update(scheduledEventId=ids[0], startedEventId=ids[1])
        old_completed_id = completed["eventId"]
        for event in events[accepted_at:]:
            if event["eventType"] in _TASK_EVENTS:
                break
            for attributes in _attributes(event):
                if attributes.get("workflowTaskCompletedEventId") == old_completed_id:
                    attributes["workflowTaskCompletedEventId"] = ids[2]
                if "acceptedRequestSequencingEventId" in attributes:
                    attributes["acceptedRequestSequencingEventId"] = ids[0]
        events[accepted_at:accepted_at] = [new_scheduled, new_started, new_completed]
    return split


def completed_attributes(event: dict[str, Any]) -> dict[str, Any]:
    attributes: dict[str, Any] = event["workflowTaskCompletedEventAttributes"]
    return attributes


def _attributes(event: dict[str, Any]) -> list[dict[str, Any]]:
    return [value for key, value in event.items() if key.endswith("Attributes") and isinstance(value, dict)]


async def _replay(name: str, history: dict[str, Any]) -> BaseException | None:
    replayer = Replayer(workflows=WORKFLOWS, data_converter=pydantic_data_converter)
    result = await replayer.replay_workflow(WorkflowHistory.from_json(name, history), raise_on_replay_failure=False)
    return result.replay_failure


# What every recording holds, and what the newest adds: the steps that end a record or a clock beside a result,
# the start and an alarm, and two different steps in one task.
_RECORDED = {"after_each_result", "with_the_first_task", "two_steps", "alarm_and_step"}
_RECORDED_NOW = _RECORDED | {
    "cancel_after_result",
    "reassign_with_the_first_task",
    "cancel_with_the_first_task",
    "extension_and_completion",
    "alarm_and_ending_step",
    "ring_with_each_step",
}


def test_every_kind_of_shared_task_is_recorded() -> None:
    """A step shares a task with activity results after every step of a lifecycle and before a cancellation,
    with the record's start (a containment, a reassignment, a cancellation), with an alarm (beside a step that
    leaves its clock running, one that ends it, and, with the results, beside every step of a lifecycle) and with
    a second step; each history really holds such a task."""
    assert RECORDINGS
    for recording in RECORDINGS:
        assert {path.stem for path in recording.glob("*.json")} >= _RECORDED, recording.name
        lifecycle = json.loads((recording / "after_each_result.json").read_text())["events"]
        assert len(shared_tasks(lifecycle)) >= 10, f"{recording.name}: every step shares a task with a result"
    assert {path.stem for path in RECORDINGS[-1].glob("*.json")} >= _RECORDED_NOW
    ringing = json.loads((RECORDINGS[-1] / "ring_with_each_step.json").read_text())["events"]
    assert len(shared_tasks(ringing)) >= 10, "every step shares a task with a ring and results"
    for path in HISTORIES:
        assert shared_tasks(json.loads(path.read_text())["events"]), f"{path.name} has no shared task"


@pytest.mark.parametrize("path", HISTORIES, ids=[str(path.relative_to(FOLDER).with_suffix("")) for path in HISTORIES])
async def test_a_step_and_what_shares_its_task_commute(path: Path) -> None:
    """Replayed as the SDK orders the task and split result-first, the record gives the recorded commands."""
    history = json.loads(path.read_text())
    assert await _replay(path.stem, history) is None
    split = split_result_first(history)
    assert len(split["events"]) == len(history["events"]) + 3 * len(shared_tasks(history["events"]))
    assert await _replay(path.stem, split) is None


async def test_the_check_fails_a_record_whose_commands_follow_the_order() -> None:
    """A record of the earlier shape stopped under worker kills: its live worker took an activity result first,
    then a step. Split result-first, its history replays, so the split reproduces that live order; as the SDK
    orders the task, it fails. This check would have caught the earlier shape."""
    history = json.loads(STOPPED.read_text())
    assert await _replay(STOPPED.stem, split_result_first(history)) is None
    assert await _replay(STOPPED.stem, history) is not None
