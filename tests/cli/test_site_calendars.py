"""`capa sites calendar`: a site's working-day calendar set from a TOML file or an iCalendar file's holidays,
shown, pinned by records raised at the site afterwards; hostile files refused in one line naming the field."""

from pathlib import Path

from tests.cli.conftest import Capa, assert_one_line_error

TOML = (
    'timezone = "UTC"\nweekdays = ["mon", "tue", "wed", "thu", "fri"]\nhours = "07:00-15:00"\nholidays = [2026-12-07]\n'
)
ICS = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//site//holidays//EN\r\n"
    "BEGIN:VEVENT\r\nUID:1\r\nDTSTART;VALUE=DATE:20261224\r\nSUMMARY:Christmas Eve\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)


async def test_sites_calendar_from_toml_and_ical_pinned_at_the_raise(capa: Capa, tmp_path: Path) -> None:
    toml, ics = tmp_path / "cal.toml", tmp_path / "holidays.ics"
    toml.write_text(TOML)
    ics.write_text(ICS)
    set_ = await capa.ok("sites", "calendar", "Main site", "--file", str(toml), user="ada")
    assert "mon, tue, wed, thu, fri 07:00-15:00 (UTC), 1 holiday" in set_.out
    await capa.ok("sites", "calendar", "Main site", "--ical", str(ics), user="ada")
    shown = (await capa.ok("sites", "calendar", "Main site", "--json", user="otto")).json()
    assert shown["holidays"] == ["2026-12-07", "2026-12-24"]
    assert shown["hours"] == "07:00-15:00"
    record_id = await capa.raise_record(owner="olivia", user="otto")
    state = await capa.show(record_id)
    assert state["site"] == "Main site"
    assert state["calendar"]["holidays"] == ["2026-12-07", "2026-12-24"]


async def test_a_hostile_calendar_is_one_line_naming_the_field(capa: Capa, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('hours = "16:00-08:00"\n')
    run = await capa("sites", "calendar", "Main site", "--file", str(bad), user="ada")
    assert_one_line_error(run, 2, "hours", "reversed")
    bad.write_text('holidays = ["2026-02-30"]\n')
    run = await capa("sites", "calendar", "Main site", "--file", str(bad), user="ada")
    assert_one_line_error(run, 2, "holidays", "2026-02-30")


async def test_capa_show_says_how_the_deadlines_are_counted(capa: Capa, tmp_path: Path) -> None:
    before = await capa.raise_record(owner="olivia", user="otto")
    shown = (await capa.ok("show", before, user="maria")).out
    assert "in calendar time" in " ".join(shown.split()), shown
    toml = tmp_path / "cal.toml"
    toml.write_text(TOML)
    await capa.ok("sites", "calendar", "Main site", "--file", str(toml), user="ada")
    after = await capa.raise_record(owner="olivia", user="otto")
    shown = (await capa.ok("show", after, user="maria")).out
    # Pinned, but the default policy writes no window in working days: its deadlines still run in calendar time.
    assert (await capa.show(after))["calendar"] is not None
    assert "in calendar time" in " ".join(shown.split()), shown
