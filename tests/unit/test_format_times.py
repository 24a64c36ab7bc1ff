"""One form of a moment and of a duration for every page, message, refusal and terminal."""

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from models.formatting import due_in, duration, minute, moment, stored_duration

T0 = datetime(2026, 3, 2, 9, 0, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("delta", "shown"),
    [
        (timedelta(0), "0s"),
        (timedelta(milliseconds=999), "0s"),
        (timedelta(seconds=1), "1s"),
        (timedelta(seconds=59, milliseconds=999), "59s"),
        (timedelta(seconds=60), "1m"),
        (timedelta(seconds=61), "1m 1s"),
        (timedelta(minutes=59, seconds=59), "59m 59s"),
        (timedelta(hours=1), "1h"),
        (timedelta(hours=1, seconds=1), "1h 1s"),
        (timedelta(hours=1, minutes=1, seconds=1), "1h 1m"),
        (timedelta(hours=23, minutes=59, seconds=59), "23h 59m"),
        (timedelta(days=1), "1d"),
        (timedelta(days=3, hours=4, minutes=59), "3d 4h"),
        (timedelta(days=400, hours=1), "400d 1h"),
        (timedelta(seconds=-45), "-45s"),
        (timedelta(days=-2, hours=-3), "-2d 3h"),
    ],
)
def test_a_duration_shows_its_two_largest_units(delta: timedelta, shown: str) -> None:
    """Cut, never rounded up: 59.999 s is 59s and 23h 59m 59s is not yet a day."""
    assert duration(delta) == shown


def test_a_moment_is_utc_to_the_second_whatever_zone_it_came_in() -> None:
    """An aware time in another zone is shown in UTC; a naive one is taken as UTC, never as the machine's zone."""
    assert moment(T0) == "2026-03-02 09:00:05 UTC"
    assert moment(T0.astimezone(ZoneInfo("Europe/Berlin"))) == "2026-03-02 09:00:05 UTC"
    assert moment(T0.astimezone(timezone(timedelta(hours=-5, minutes=-30)))) == "2026-03-02 09:00:05 UTC"
    assert moment(T0.replace(tzinfo=None)) == "2026-03-02 09:00:05 UTC"
    assert moment(T0.replace(microsecond=999_999)) == "2026-03-02 09:00:05 UTC"
    assert moment(None) == "-"


def test_a_table_cell_shows_the_minute_in_the_zone_it_is_asked_for() -> None:
    """UTC unless the table names another zone (the digest's); daylight saving moves the local time."""
    assert minute(T0) == "2026-03-02 09:00"
    assert minute(T0.replace(tzinfo=None)) == "2026-03-02 09:00"
    assert minute(T0, ZoneInfo("Europe/Berlin")) == "2026-03-02 10:00"
    assert minute(T0.replace(month=7), ZoneInfo("Europe/Berlin")) == "2026-07-02 11:00"


def test_due_in_before_the_deadline_and_late_by_after_it() -> None:
    """The same words on every front end; naive and aware times compare as UTC."""
    assert due_in(T0 + timedelta(days=3, hours=4), T0) == "due in 3d 4h"
    assert due_in(T0, T0) == "due in 0s"
    assert due_in(T0, T0 + timedelta(seconds=45)) == "late by 45s"
    assert due_in(T0.replace(tzinfo=None), T0 + timedelta(days=2, hours=3, minutes=14)) == "late by 2d 3h"
    assert due_in(T0, T0.astimezone(ZoneInfo("Asia/Tokyo")) + timedelta(hours=1)) == "late by 1h"


def test_a_stored_duration_reads_like_any_other() -> None:
    """Policy-file text kept on an entry (``2d3h14m9s``) reads as ``2d 3h``; anything else as written."""
    assert stored_duration("2d3h14m9s") == "2d 3h"
    assert stored_duration("45s") == "45s"
    assert stored_duration("-5m") == "-5m"
    assert stored_duration("a while") == "a while"
