"""How the CLI reads due dates and ``--action OWNER:DUE:DESCRIPTION``."""

import re
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from cli.parsing import parse_action, parse_due

NOW = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-31", date(2026, 3, 31)),
        ("2026-03-31T14:00", datetime(2026, 3, 31, 14, 0, tzinfo=UTC)),
        ("2026-03-31T14:00:30Z", datetime(2026, 3, 31, 14, 0, 30, tzinfo=UTC)),
        ("2026-03-31T16:00+02:00", datetime(2026, 3, 31, 14, 0, tzinfo=UTC)),
        ("10d", NOW + timedelta(days=10)),
        ("1d12h", NOW + timedelta(days=1, hours=12)),
        (" 30s ", NOW + timedelta(seconds=30)),
    ],
)
def test_due_forms(text: str, expected: datetime | date) -> None:
    """A date stays a date (the server places it at the end of that day at the record's site), a date-time
    without offset is UTC, a duration counts from now."""
    assert parse_due(text, NOW) == expected


def test_due_is_always_utc() -> None:
    """An offset date-time is converted, so every due time the workflow sees is in UTC."""
    assert isinstance(due := parse_due("2026-03-31T16:00+02:00", NOW), datetime)
    assert due.tzinfo == UTC
    assert parse_due("2026-03-31T16:00+02:00", NOW) == datetime(2026, 3, 31, 16, tzinfo=timezone(timedelta(hours=2)))


@pytest.mark.parametrize("text", ["tomorrow", "10", "2026-02-30", "31/03/2026", ""])
def test_bad_due_says_what_is_accepted(text: str) -> None:
    """Anything else is refused with a message quoting it."""
    with pytest.raises(ValueError, match=re.escape(repr(text))):
        parse_due(text, NOW)


def test_action_with_duration() -> None:
    """OWNER:DUE:DESCRIPTION splits at the first two colons; the description keeps any further ones."""
    assert parse_action("olivia:10d:Replace jig: both sides", NOW) == {
        "owner": "olivia",
        "due_at": NOW + timedelta(days=10),
        "description": "Replace jig: both sides",
    }


def test_action_with_date_time_holding_colons() -> None:
    """A date-time's own colons are not mistaken for separators."""
    action = parse_action("oscar:2026-04-01T12:30:00+02:00:Add a go/no-go gauge", NOW)
    assert action["owner"] == "oscar"
    assert action["due_at"] == datetime(2026, 4, 1, 10, 30, tzinfo=UTC)
    assert action["description"] == "Add a go/no-go gauge"


def test_action_with_date() -> None:
    """A plain date stays a date: the server makes it the end of that day at the record's site."""
    assert parse_action("oscar:2026-04-01:Gauge", NOW)["due_at"] == date(2026, 4, 1)


@pytest.mark.parametrize("text", ["olivia", "olivia:10d", ":10d:Fix", "olivia::Fix", "olivia:10d:"])
def test_malformed_action_shows_the_form(text: str) -> None:
    """A missing part is refused with the expected form and an example."""
    with pytest.raises(ValueError, match="OWNER:DUE:DESCRIPTION"):
        parse_action(text, NOW)


def test_action_with_bad_due_names_the_due() -> None:
    """A well-formed action whose due cannot be read says which due."""
    with pytest.raises(ValueError, match="'soon' is not a date"):
        parse_action("olivia:soon:Fix", NOW)
