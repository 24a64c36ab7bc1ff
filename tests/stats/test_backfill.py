"""Migration 0011 gives the records already there their stays and facts, from their stored state and timeline."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from activities.records import write_snapshot
from core import migrations
from core.stats import StatsFilter, compute
from models.enums import CauseCategory, EventKind, Stage
from models.payloads import Event, RecordSnapshot
from tests.builders import T0, state
from tests.databases import BACKENDS, empty_database
from tests.stats.fixture import DAY, HOUR, NOW, cause, clock, march_and_april

BEFORE = "0010"


@pytest.fixture(params=BACKENDS)
def blank(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    with empty_database(request.param, tmp_path) as engine:
        yield engine


def _entry(seq: int, at: Any, kind: EventKind, **details: Any) -> Event:
    return Event(seq=seq, at=at, kind=kind, actor="olivia", details=details or {"n": seq})


def test_upgrading_gives_earlier_records_their_stays_and_facts(blank: Engine) -> None:
    """A record written before 0011 (containment on time in 12 h, its root cause extended once and done late after
    15 days, then its plan due) shows the same figures after the upgrade as the writer would have written."""
    migrations.upgrade(blank)
    plan_start = T0 + 15 * DAY + 12 * HOUR
    capa = state("NC-2026-0001").model_copy(
        update={
            "stage": Stage.ACTION,
            "clock": clock("olivia", plan_start, plan_start + 5 * DAY),
            "root_causes": [cause(CauseCategory.METHOD, "final inspection", plan_start)],
        }
    )
    events = [
        _entry(1, T0, EventKind.RAISED),
        _entry(2, T0 + 12 * HOUR, EventKind.CONTAINMENT_SUBMITTED, on_time=True),
        _entry(3, T0 + 2 * DAY, EventKind.EXTENSION_DECIDED, approve=True, target="root_cause"),
        _entry(4, plan_start, EventKind.ROOT_CAUSE_SUBMITTED, on_time=False),
    ]
    write_snapshot(blank, RecordSnapshot(state=capa, new_events=events))
    migrations.downgrade(blank, BEFORE)

    result = migrations.upgrade(blank)

    # 0011 and every revision after it, in order.
    assert [step.revision for step in result.steps] == [
        f"{number:04d}" for number in range(11, int(migrations.head_revision()) + 1)
    ]
    stats = compute(blank, StatsFilter(**march_and_april()), now=NOW)
    assert [(c.stage, c.count, c.median_days) for c in stats.cycle_times] == [
        (Stage.CONTAINMENT, 1, 0.5),
        (Stage.ROOT_CAUSE, 1, 15.0),
    ]
    assert (stats.on_time.steps.count, stats.on_time.steps.of) == (1, 2)
    assert (stats.extensions.count, stats.extensions.of) == (1, 1)
    assert [(row.value, row.count) for row in stats.pareto["cause"]] == [("method", 1)]
    assert [(w.person, w.steps) for w in stats.open_work] == [("olivia", 1)]
