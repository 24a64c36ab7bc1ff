"""Recorded histories of real runs replay against today's workflow code: a change that would break a record in
flight fails here (use ``workflow.patched`` for such changes). Refresh with ``make histories``."""

import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from workflows.capa import CapaWorkflow
from workflows.delivery import DeliveryWorkflow
from workflows.digest import DigestWorkflow

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


def test_histories_are_committed() -> None:
    """The replay suite covers the lifecycle, timers, rejections, deliveries and the digest."""
    names = " ".join(path.name for path in HISTORIES)
    for scenario in ("raised_to_closed", "reminders_and_escalations", "extension", "segregation", "cancel"):
        assert scenario in names, scenario
    for workflow in ("CapaWorkflow", "DeliveryWorkflow", "DigestWorkflow"):
        assert f"-{workflow}-" in names, workflow


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_history_replays_without_nondeterminism(path: Path) -> None:
    """The workflow code reproduces every command of the recorded run."""
    history = WorkflowHistory.from_json(path.stem, json.loads(path.read_text()))
    replayer = Replayer(
        workflows=[CapaWorkflow, DeliveryWorkflow, DigestWorkflow], data_converter=pydantic_data_converter
    )
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, result.replay_failure
