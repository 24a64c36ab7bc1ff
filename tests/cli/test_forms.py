"""How ``capa`` reads the forms of the current process's options: an action's ``key=value`` pairs, a criterion, a
criterion's result and ``LEFT=RIGHT`` assignments. No server: the commands' own parsing."""

import re
from datetime import UTC, datetime, timedelta

import pytest

from cli.parsing import (
    is_action_pairs,
    parse_action_pairs,
    parse_assignment,
    parse_criterion,
    parse_criterion_result,
)

NOW = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)


def test_action_pairs_keep_commas_in_values() -> None:
    """A description may hold commas: a new pair begins only at a known key; late_due_reason is passed on."""
    text = "owner=oscar, due=10d, description=Track tool life, per spindle, in the MES,late_due_reason=MES in Q3"
    assert is_action_pairs(text)
    assert not is_action_pairs("oscar:10d:Track tool life, owner=x")
    assert parse_action_pairs(text, NOW) == {
        "owner": "oscar",
        "due_at": NOW + timedelta(days=10),
        "description": "Track tool life, per spindle, in the MES",
        "late_due_reason": "MES in Q3",
    }


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("owner=oscar,due=10d", "description missing"),
        ("owner=oscar,due=10d,description=x,priority=high", "unknown key 'priority'"),
        ("owner=oscar,owner=otto,due=10d,description=x", "owner given twice"),
        ("owner=oscar,due=next week,description=x", "'next week' is not a date"),
    ],
)
def test_bad_action_pairs_say_what_is_wrong(text: str, said: str) -> None:
    """A missing, unknown or repeated key, or a bad due, is named."""
    with pytest.raises(ValueError, match=re.escape(said)):
        parse_action_pairs(text, NOW)


def test_criterion_with_each_window() -> None:
    """``source`` is the criterion's data source; the window is days, lots or units."""
    base = "measure=burr rejects, per lot,baseline=2.1 %,threshold=< 0.2 %,source=QC-DB"
    assert parse_criterion(f"{base},days=30") == {
        "measure": "burr rejects, per lot",
        "baseline": "2.1 %",
        "threshold": "< 0.2 %",
        "data_source": "QC-DB",
        "window_days": 30,
    }
    assert parse_criterion(f"{base},lots=5")["window_lots"] == 5
    assert parse_criterion(f"{base},units=500")["window_units"] == 500


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("measure=rejects", "baseline, threshold, source missing"),
        ("measure=r,baseline=1,threshold=0,source=QC", "one of days=N, lots=N or units=N"),
        ("measure=r,baseline=1,threshold=0,source=QC,days=30,lots=3", "one of days=N"),
        ("measure=r,baseline=1,threshold=0,source=QC,days=a month", "days must be a whole number"),
        ("rejects below 0.2 %", "KEY=VALUE pairs"),
    ],
)
def test_bad_criterion_says_what_is_wrong(text: str, said: str) -> None:
    """Missing parts, no window or two, a window that is not a count, or no pairs at all, are each named."""
    with pytest.raises(ValueError, match=re.escape(said)):
        parse_criterion(text)


def test_criterion_results() -> None:
    """``N=met:DATA`` and ``N=not-met:DATA``; the data may hold colons and commas."""
    assert parse_criterion_result("1=met:0.1 %, 4 lots, to 12:00") == {
        "criterion": 1,
        "met": True,
        "data": "0.1 %, 4 lots, to 12:00",
    }
    assert parse_criterion_result("2 = not-met: 0.5 %")["met"] is False
    for text in ("1=yes:x", "one=met:x", "1=met"):
        with pytest.raises(ValueError, match="N=met:DATA"):
            parse_criterion_result(text)
    with pytest.raises(ValueError, match="which data"):
        parse_criterion_result("1=met:  ")


def test_assignments() -> None:
    """``A1=new scope`` splits at the first ``=``; a side left blank is refused naming the form."""
    assert parse_assignment("A1=Scope = all lots", "ACTION_ID", "SCOPE") == ("A1", "Scope = all lots")
    for text in ("A1", "=x", "A1= "):
        with pytest.raises(ValueError, match="ACTION_ID=SCOPE"):
            parse_assignment(text, "ACTION_ID", "SCOPE")
