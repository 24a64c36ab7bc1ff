"""Recorded histories of real runs replay against today's workflow code: a change that would break a record in
flight fails here (use ``workflow.patched`` for such changes). Refresh with ``make histories``."""

import base64
import fnmatch
import json
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from worker import WORKFLOWS
from workflows.capa import CapaWorkflow

FOLDER = Path(__file__).parent / "histories"
HISTORIES = sorted(FOLDER.rglob("*.json"))
WORKFLOW_SOURCES = sorted((Path(__file__).parents[2] / "workflows").glob("*.py"))


def test_histories_are_committed() -> None:
    """The replay suite covers the lifecycle, timers, rejections, deliveries and the digest."""
    names = " ".join(path.name for path in HISTORIES)
    for scenario in ("raised_to_closed", "reminders_and_escalations", "extension", "segregation", "cancel"):
        assert scenario in names, scenario
    for workflow in ("CapaRecord", "CapaAlarm", "CapaWorkflow", "DeliveryWorkflow", "DigestWorkflow"):
        assert f"-{workflow}-" in names, workflow
    assert "-SentinelWorkflow-" in names  # recurrence sentinels


@pytest.mark.parametrize("path", HISTORIES, ids=[str(p.relative_to(FOLDER).with_suffix("")) for p in HISTORIES])
async def test_history_replays_without_nondeterminism(path: Path) -> None:
    """The workflow code reproduces every command of the recorded run."""
    history = WorkflowHistory.from_json(path.stem, json.loads(path.read_text()))
    replayer = Replayer(workflows=WORKFLOWS, data_converter=pydantic_data_converter)
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, result.replay_failure


def _patches(events: list[dict[str, Any]]) -> set[str]:
    """The ids of the ``workflow.patched`` markers a history holds."""
    found = set()
    for event in events:
        marker = event.get("markerRecordedEventAttributes", {})
        if marker.get("markerName") == "core_patch":
            for payload in marker["details"]["patch-data"]["payloads"]:
                found.add(json.loads(base64.b64decode(payload["data"]))["id"])
    return found


def source_patches(source: str) -> set[str]:
    """The ids a workflow module passes to ``workflow.patched``, written out or through a module constant; a
    family of ids numbered at run time (``f"{CONSTANT}-{n}"``) as the pattern ``CONSTANT's value-*``."""
    constants = dict(re.findall(r'^(_?[A-Z][A-Z0-9_]*) = "([^"]+)"', source, flags=re.MULTILINE))
    found = set()
    for argument in re.findall(r"workflow\.patched\(\s*([^)]+?)\s*\)", source):
        literal = re.fullmatch(r'"([^"]+)"', argument)
        family = re.match(r'f"\{(_?[A-Z][A-Z0-9_]*)\}-\{', argument)
        assert literal or family or argument in constants, f"workflow.patched({argument}): not a literal or a constant"
        if family:
            found.add(constants[family.group(1)] + "-*")
        else:
            found.add(literal.group(1) if literal else constants[argument])
    return found


def test_patches_are_found_in_the_source() -> None:
    """The patch ids below come from the workflow modules themselves, not from a list kept by hand."""
    patches = {patch for path in WORKFLOW_SOURCES for patch in source_patches(path.read_text())}
    assert {"sleep-before-every-alarm", "escalate-when-due", "index-changes-only"} <= patches


@pytest.mark.parametrize("path", WORKFLOW_SOURCES, ids=[path.stem for path in WORKFLOW_SOURCES])
def test_every_patch_is_recorded_both_ways(path: Path) -> None:
    """Each ``workflow.patched`` id of a workflow module is in some recorded history, and histories recorded
    before it are kept: records started under the patch and records in flight from before it both replay."""
    recorded = [_patches(json.loads(history.read_text())["events"]) for history in HISTORIES]
    for patch in source_patches(path.read_text()):
        assert any(fnmatch.filter(found, patch) for found in recorded), f"no history recorded under {patch}"
        assert any(not fnmatch.filter(found, patch) for found in recorded), f"no history recorded before {patch}"


def _clock_at_the_alarm(events: list[dict[str, Any]]) -> int:
    """Give every workflow task that only put the record back to sleep the clock of the moment its timer fired.

    That is a clock at or past the alarm the loop slept for, as a worker sees when it takes a record over late or
    with a skewed clock. Tasks that take a step are left alone (a step's deadlines count from when it is accepted),
    and so are timers a step cancelled. Returns how many tasks were moved.
    """
    fired = {
        event["timerFiredEventAttributes"]["timerId"]: event["eventTime"]
        for event in events
        if event["eventType"] == "EVENT_TYPE_TIMER_FIRED"
    }
    moved = 0
    started: dict[str, Any] | None = None
    took_step = False
    for event in events:
        kind = event["eventType"]
        if kind == "EVENT_TYPE_WORKFLOW_TASK_STARTED":
            started, took_step = event, False
        elif kind == "EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED":
            took_step = True
        elif kind == "EVENT_TYPE_TIMER_STARTED" and started is not None and not took_step:
            timer = event["timerStartedEventAttributes"]["timerId"]
            if timer in fired:
                started["eventTime"] = fired[timer]
                moved += 1
    return moved


def _sleeps_until_alarms(path: Path) -> bool:
    events = json.loads(path.read_text())["events"]
    return "sleep-before-every-alarm" in _patches(events) and _clock_at_the_alarm(events) > 0


SLEEPING = [path for path in HISTORIES if _sleeps_until_alarms(path)]


def test_timer_scenarios_are_recorded_under_the_patch() -> None:
    """Reminders, escalations, extensions and reassignments are recorded with the patch the clock test
    below relies on, each with alarms that fell due."""
    names = " ".join(path.name for path in SLEEPING)
    for scenario in ("reminders_and_escalations", "extension_moves_every_timer", "reassignment"):
        assert scenario in names, scenario


@pytest.mark.parametrize("path", SLEEPING, ids=[str(p.relative_to(FOLDER).with_suffix("")) for p in SLEEPING])
async def test_replay_does_not_depend_on_the_clock_a_task_saw(path: Path) -> None:
    """A worker that takes a record over after a lost task can see a clock seconds away from the one a later
    replay sees. Here every task in which the timer loop went back to sleep replays with the clock of the moment
    its alarm fell due: the record gives the same commands all the same, so it never stops on a
    non-determinism error."""
    data = json.loads(path.read_text())
    _clock_at_the_alarm(data["events"])
    history = WorkflowHistory.from_json(path.stem, data)
    replayer = Replayer(workflows=[CapaWorkflow], data_converter=pydantic_data_converter)
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, result.replay_failure


CURRENT_SHAPE = [
    path
    for path in HISTORIES
    if ("-CapaRecord-" in path.name or "-CapaAlarm-" in path.name)
    and "EVENT_TYPE_WORKFLOW_TASK_STARTED" in path.read_text()  # an alarm recorded before it first ran has none
]


@pytest.mark.parametrize("skew", [-90, 90], ids=["clock-behind", "clock-ahead"])
@pytest.mark.parametrize("path", CURRENT_SHAPE, ids=[str(p.relative_to(FOLDER).with_suffix("")) for p in CURRENT_SHAPE])
async def test_a_record_replays_whatever_clock_its_tasks_saw(path: Path, skew: int) -> None:
    """Every workflow task of a record and of its alarms, steps included, replays with its clock moved 90 s either
    way, as a worker taking a record over after a lost task can see it: no command depends on the clock."""
    data = json.loads(path.read_text())
    moved = 0
    for event in data["events"]:
        if event["eventType"] == "EVENT_TYPE_WORKFLOW_TASK_STARTED":
            at = datetime.fromisoformat(event["eventTime"].replace("Z", "+00:00")) + timedelta(seconds=skew)
            event["eventTime"] = at.isoformat().replace("+00:00", "Z")
            moved += 1
    assert moved
    history = WorkflowHistory.from_json(path.stem, data)
    replayer = Replayer(workflows=WORKFLOWS, data_converter=pydantic_data_converter)
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, result.replay_failure
