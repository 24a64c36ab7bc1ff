"""Local time: a moment in a reader's zone with its abbreviation, a message's UTC moments rewritten for its
reader, and a date-alone due placed at the end of that day in the record's site zone."""

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from models import dues
from models.formatting import moment, moments_in, zone_name
from models.payloads import ExtensionRequestStep, PlannedAction

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize(
    ("at", "zone", "shown"),
    [
        (datetime(2026, 1, 15, 8, tzinfo=UTC), UTC, "2026-01-15 08:00:00 UTC"),
        (datetime(2026, 1, 15, 8, tzinfo=UTC), ZoneInfo("UTC"), "2026-01-15 08:00:00 UTC"),
        (datetime(2026, 1, 15, 8, tzinfo=UTC), BERLIN, "2026-01-15 09:00:00 CET"),
        (datetime(2026, 7, 15, 8, tzinfo=UTC), BERLIN, "2026-07-15 10:00:00 CEST"),
        (datetime(2026, 7, 15, 8, tzinfo=UTC), ZoneInfo("America/Chicago"), "2026-07-15 03:00:00 CDT"),
        (datetime(2026, 7, 15, 8, tzinfo=UTC), ZoneInfo("America/Sao_Paulo"), "2026-07-15 05:00:00 UTC-03"),
        (datetime(2026, 1, 15, 8), BERLIN, "2026-01-15 09:00:00 CET"),  # noqa: DTZ001 - naive on purpose
    ],
)
def test_a_moment_reads_in_the_readers_zone_with_its_abbreviation(at: datetime, zone: ZoneInfo, shown: str) -> None:
    """Local time with the zone's abbreviation (summer time included), ``UTC-03`` where the zone has none; a
    naive moment is UTC, as the read model keeps it."""
    assert moment(at, zone) == shown


def test_the_zone_abbreviation_follows_the_date() -> None:
    """The label of a time input says the zone as it is at that moment: CET in winter, CEST in summer."""
    assert zone_name(datetime(2026, 1, 1, tzinfo=UTC), BERLIN) == "CET"
    assert zone_name(datetime(2026, 6, 1, tzinfo=UTC), BERLIN) == "CEST"


def test_a_message_composed_in_utc_reads_in_its_readers_zone() -> None:
    """Every moment a message names in UTC reads in the reader's zone; the rest of the text stays as written."""
    text = "A1 due 2026-01-15 08:00:00 UTC (originally 2026-07-01 22:30:00 UTC); late by 2d 3h."
    assert moments_in(text, BERLIN) == (
        "A1 due 2026-01-15 09:00:00 CET (originally 2026-07-02 00:30:00 CEST); late by 2d 3h."
    )
    assert moments_in(text, UTC) == text


def test_a_date_alone_is_the_end_of_that_day_at_the_records_site() -> None:
    """ "2027-01-15" as a due is 23:59:59 that day, kept unplaced until the client layer knows the record's site;
    placed in Berlin it is 22:59:59Z in winter. A due with a time is as given."""
    action = PlannedAction(owner="olivia", due_at="2027-01-15", description="Replace the tool")
    assert dues.is_site_day(action.due_at)
    placed = dues.in_zone(action.model_dump(), BERLIN)
    assert placed["due_at"] == datetime(2027, 1, 15, 22, 59, 59, tzinfo=UTC)
    assert placed["due_at"] == datetime.combine(date(2027, 1, 15), time(23, 59, 59), tzinfo=BERLIN)
    assert placed["due_at"].isoformat() == "2027-01-15T22:59:59+00:00", "kept in UTC, as every stored time"

    request = ExtensionRequestStep(until=date(2027, 7, 1), reason="Supplier late")
    assert dues.in_zone(request.model_dump(), BERLIN)["until"] == datetime(2027, 7, 1, 21, 59, 59, tzinfo=UTC)

    exact = PlannedAction(owner="olivia", due_at="2027-01-15T10:00:00+01:00", description="x")
    assert not dues.has_site_days(exact.model_dump())
    assert dues.in_zone(exact.model_dump(), BERLIN)["due_at"] == datetime(2027, 1, 15, 9, tzinfo=UTC)


@pytest.mark.parametrize("text", ["2027-02-30", "2027-01-15T10:00", "15.01.2027"])
def test_a_due_that_is_no_date_and_no_moment_with_its_zone_is_refused(text: str) -> None:
    """Not a calendar date, a moment without its zone, or another form: refused on the due's field."""
    with pytest.raises(ValidationError) as refused:
        PlannedAction(owner="olivia", due_at=text, description="x")
    assert [error["loc"] for error in refused.value.errors()] == [("due_at",)]
