"""`capa stats` prints the figures, one figure as CSV, and refuses bad options in one line naming the option."""

import csv
import io

from tests.cli.conftest import Capa, assert_one_line_error
from tests.stats.fixture import write_fixture

PERIOD = ("--since", "2026-03-01", "--until", "2026-04-30")


async def test_stats_prints_each_figure_and_one_as_csv(capa: Capa) -> None:
    """A manager sees every figure's table; --figure with --csv prints that table alone as CSV."""
    write_fixture(capa.engine)

    shown = await capa.ok("stats", *PERIOD, user="maria")
    assert "Cycle time per stage (days)" in shown.out
    assert "Pareto by cause category" in shown.out
    as_csv = await capa.ok("stats", *PERIOD, "--figure", "open-work", "--csv", user="maria")
    assert list(csv.reader(io.StringIO(as_csv.out))) == [
        ["Person", "Stage steps", "Actions", "Total"],
        ["oscar", "1", "1", "2"],
        ["olivia", "1", "0", "1"],
    ]


async def test_stats_refuses_a_period_ending_before_it_starts(capa: Capa) -> None:
    """The period's end before its start: a non-zero exit and one line naming --until."""
    run = await capa.run("--as", "maria", "stats", "--since", "2026-04-30", "--until", "2026-03-01")
    assert_one_line_error(run, 2, "--until")
