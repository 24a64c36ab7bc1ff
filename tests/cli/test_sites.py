"""`capa sites` and local time on the command line: sites with their zones, people's home sites, a date-alone due
sent as the date and placed at the end of that day at the record's site, times shown in the user's zone."""

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from models import formatting
from tests.cli.conftest import Capa, assert_one_line_error

BERLIN = ZoneInfo("Europe/Berlin")


async def _berlin(capa: Capa) -> None:
    """The Berlin plant, added once per module; Otto and Olivia work there."""
    sites = (await capa.ok("sites", "list", "--json", user="ada")).json()
    if "Berlin plant" not in {site["name"] for site in sites}:
        added = await capa.ok("sites", "add", "Berlin plant", "--time-zone", "Europe/Berlin", user="ada")
        assert added.out.strip() == "added site Berlin plant (Europe/Berlin)"
        for name in ("otto", "olivia"):
            await capa.ok("users", "set", name, "--site", "Berlin plant", user="ada")


async def test_sites_add_and_list(capa: Capa) -> None:
    """An admin adds a site with its zone; the list shows it, the default site marked, and the time there now."""
    await _berlin(capa)
    table = (await capa.ok("sites", "list", user="otto")).out
    rows = {line.split("  ")[0].strip(): line for line in table.splitlines() if line.strip()}
    assert "Europe/Berlin" in rows["Berlin plant"]
    assert rows["Berlin plant"].rstrip().endswith(("CET", "CEST"))
    assert "UTC" in rows["Main site (default)"]


async def test_an_unknown_zone_is_one_line_naming_the_option(capa: Capa) -> None:
    """A zone the IANA database does not know is refused in one line naming --time-zone; no site is added, and a
    person's zone likewise."""
    run = await capa("sites", "add", "Atlantis", "--time-zone", "Atlantis/Capital", user="ada")
    assert_one_line_error(run, 2, "--time-zone", "'Atlantis/Capital' is not a known time zone")
    sites = (await capa.ok("sites", "list", "--json", user="ada")).json()
    assert "Atlantis" not in {site["name"] for site in sites}

    run = await capa("users", "set", "paul", "--time-zone", "Mars/Olympus", user="ada")
    assert_one_line_error(run, 2, "--time-zone", "'Mars/Olympus' is not a known time zone")
    run = await capa(
        "users", "add", "rhea", "--role", "owner", "--full-name", "Rhea K", "--site", "Atlantis", user="ada"
    )
    assert_one_line_error(run, 2, "--site", "no site named 'Atlantis'")


async def test_a_date_alone_due_is_the_end_of_that_day_at_the_records_site(capa: Capa) -> None:
    """Otto raises in Berlin; Olivia plans an action due 2027-01-15: it falls due at 23:59:59 CET, stored as
    22:59:59Z, and `capa show` shows it to her (in Berlin) in CET."""
    await _berlin(capa)
    record_id = await capa.raise_record(owner="olivia", user="otto")
    assert (await capa.show(record_id))["site"] == "Berlin plant"
    await capa.ok("contain", record_id, "--summary", "Lot quarantined", "--disposition", "quarantine", user="olivia")
    await capa.ok(
        "root-cause",
        record_id,
        "--method",
        "five-whys",
        "--cause",
        "Deburring tool worn",
        "--why",
        "Burr",
        "--why",
        "Tool worn",
        "--why",
        "No counter",
        user="olivia",
    )
    day = date(datetime.now(UTC).year + 1, 1, 15)
    await capa.ok("plan", record_id, "--action", f"olivia:{day.isoformat()}:Replace the tool", user="olivia")

    state = await capa.query(record_id)
    due = state.actions[0].clock.due_at
    assert due == datetime.combine(day, time(22, 59, 59), tzinfo=UTC)
    shown = (await capa.ok("show", record_id, user="olivia")).out
    assert formatting.moment(due, BERLIN) in shown
    assert f"{day.isoformat()} 23:59" in shown
    assert "DUE (CET)" in shown or "DUE (CEST)" in shown
    assert formatting.moment(state.raised_at, BERLIN) in shown
