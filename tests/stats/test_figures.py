"""Every management-review figure, computed in SQL, against a fixture whose answers are worked out by hand."""

import pytest
from sqlalchemy import Engine

from core.stats import Stats, StatsFilter, compute
from models.enums import Severity
from tests.stats.fixture import NOW, march_and_april, write_fixture


@pytest.fixture
def stats(engine: Engine) -> Stats:
    write_fixture(engine)
    return compute(engine, StatsFilter(**march_and_april()), now=NOW)


def test_records_opened_and_closed_per_month(stats: Stats) -> None:
    """Four raised and one closed in March; April, in the period too, shows none."""
    assert [(m.month, m.opened, m.closed) for m in stats.per_month] == [("2026-03", 4, 1), ("2026-04", 0, 0)]


def test_cycle_time_per_stage_counts_the_whole_stay_even_when_extended(stats: Stats) -> None:
    """Containment 0.5 and 0.25 days; root cause 15 days (extended) and 4 days; the median lies halfway, the 90th
    percentile 90 % of the way from the shorter to the longer; the open stays do not count."""
    assert [(c.stage.value, c.count, c.median_days, c.p90_days) for c in stats.cycle_times] == [
        ("containment", 2, 0.38, 0.47),
        ("root_cause", 2, 9.5, 13.9),
        ("action", 1, 14.75, 14.75),
    ]


def test_on_time_is_judged_against_the_original_due(stats: Stats) -> None:
    """The root cause done after its original due but before its extended one is late; so is the extended action:
    four of five stage steps and one of two actions were on time."""
    assert (stats.on_time.steps.count, stats.on_time.steps.of) == (4, 5)
    assert (stats.on_time.actions.count, stats.on_time.actions.of) == (1, 2)
    assert (stats.on_time.all.count, stats.on_time.all.of) == (5, 7)


def test_extension_rate_counts_records_with_a_stage_or_an_action_extended(stats: Stats) -> None:
    """NC-1 had its root cause extended, NC-2 an action: two of four records raised."""
    assert (stats.extensions.count, stats.extensions.of) == (2, 4)
    assert stats.extensions.rate == 0.5


def test_overdue_ageing_buckets_the_running_deadlines_by_days_past_the_original_due(stats: Stats) -> None:
    """At NOW: NC-1's action 10 days late, NC-4's plan 27 days, NC-3's containment 37 days."""
    assert [(b.label, b.count) for b in stats.ageing] == [
        ("up to 7 d", 0),
        ("8-30 d", 2),
        ("31-90 d", 1),
        ("over 90 d", 0),
    ]


def test_pareto_lists_the_most_frequent_first_and_ties_alphabetically(stats: Stats) -> None:
    """Cause: method twice, machine once; source and product tie two to two, so they go in alphabetical order."""
    table = {
        name: [(r.value, r.count, round(r.cumulative_share, 3)) for r in rows] for name, rows in stats.pareto.items()
    }
    assert table["cause"] == [("method", 2, 0.667), ("machine", 1, 1.0)]
    assert table["source"] == [("customer-complaint", 2, 0.5), ("inspection", 2, 1.0)]
    assert table["product"] == [("P1", 2, 0.5), ("P2", 2, 1.0)]
    assert table["escape"] == [("final inspection", 2, 0.667), ("incoming inspection", 1, 1.0)]


def test_recurrence_and_first_time_effective_rates(stats: Stats) -> None:
    """One of four records recurs an earlier one; NC-2's first conclusive review (after an inconclusive one) found
    the actions effective."""
    assert (stats.recurrence.count, stats.recurrence.of) == (1, 4)
    assert (stats.first_time_effective.count, stats.first_time_effective.of) == (1, 1)


def test_open_work_per_person(stats: Stats) -> None:
    """oscar holds NC-4's plan and NC-1's action, olivia NC-3's containment; the closed NC-2 counts for no one."""
    assert [(w.person, w.steps, w.actions, w.total) for w in stats.open_work] == [
        ("oscar", 1, 1, 2),
        ("olivia", 1, 0, 1),
    ]


def test_filters_and_the_period_narrow_every_figure(engine: Engine) -> None:
    """Major records only: NC-1 and NC-3; a period in April alone: nothing raised, nothing ended."""
    write_fixture(engine)
    major = compute(engine, StatsFilter(**march_and_april(severity=Severity.MAJOR)), now=NOW)
    assert [(m.opened, m.closed) for m in major.per_month] == [(2, 0), (0, 0)]
    assert (major.extensions.count, major.extensions.of) == (1, 2)
    assert [c.stage.value for c in major.cycle_times] == ["containment", "root_cause"]
    assert [(w.person, w.total) for w in major.open_work] == [("olivia", 1), ("oscar", 1)]
    april = compute(engine, StatsFilter(since=NOW.date().replace(day=1), until=NOW.date()), now=NOW)
    assert april.cycle_times == []
    assert (april.extensions.of, april.on_time.all.of) == (0, 0)
