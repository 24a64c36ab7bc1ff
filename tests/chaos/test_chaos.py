"""A small chaos run on every ``make test``: 10 lifecycles, two worker kills, a dev-server restart and a short
database outage, then every check ``make chaos`` makes, the replay of every history included."""

from pathlib import Path

import pytest

from chaos.run import QUICK_TIMINGS, ChaosConfig, ChaosReport, run_chaos


@pytest.fixture(scope="module")
async def report(tmp_path_factory: pytest.TempPathFactory) -> ChaosReport:
    config = ChaosConfig(
        records=10,
        rate=5,
        workers=2,
        kill_every=3,
        max_kills=2,
        outage_seconds=8,
        timings=QUICK_TIMINGS,
        workdir=Path(tmp_path_factory.mktemp("chaos")),
    )
    return await run_chaos(config)


def _check(report: ChaosReport, name: str, *, must_see_some: bool = True) -> None:
    check = next(c for c in report.checks if c.name.startswith(name))
    assert check.checked > 0 or not must_see_some, f"{check.name}: nothing was checked"
    assert check.passed, f"{check.name}: {check.failures}"


def test_the_faults_were_injected(report: ChaosReport) -> None:
    """Two workers were SIGKILLed, the server restarted and the database was locked while records were open."""
    faults = [fault.what for fault in report.faults]
    assert faults.count("worker killed") == 2
    assert faults.count("dev server restarted") == 1
    assert faults.count("database unavailable") == 1
    assert report.unexpected_worker_exits == []


def test_every_record_reached_its_stage_and_none_was_lost_or_doubled(report: ChaosReport) -> None:
    """Each lifecycle closed (or was cancelled) exactly as planned; driver, Temporal and read model agree."""
    _check(report, "every record reached its expected stage")
    _check(report, "no record lost or doubled")
    _check(report, "every step in the timeline exactly once")


def test_every_due_escalation_fired_exactly_once(report: ChaosReport) -> None:
    """Late clocks escalated once per level, never after their step; the outbox has one sent row per recipient."""
    assert report.escalations.due > 0
    _check(report, "every due escalation fired exactly once")
    _check(report, "every escalation in the outbox once per recipient")


def test_the_read_model_caught_up_and_equals_the_workflows(report: ChaosReport) -> None:
    """Steps taken while the database was locked were accepted then, and the read model caught up after."""
    _check(report, "read model equals each workflow's query state")
    _check(report, "read model caught up after the outage")
    # Ten records may all be between steps for a short outage; when steps were sent, they must have landed.
    _check(report, "steps accepted by the workflow while the database was down", must_see_some=False)


def test_no_workflow_task_failed_and_every_history_replays(report: ChaosReport) -> None:
    """Kills only time workflow tasks out; every history the run produced replays against the current code."""
    _check(report, "no workflow task failed")
    _check(report, "every history replays")
