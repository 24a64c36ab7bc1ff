"""Sites and local time through the API and the pages: sites with their zones, the site a record belongs to, a
date-alone due at the end of that day at the record's site, and times shown in the reader's zone."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from models import formatting
from tests.api.flow import Api, later
from tests.web.pages import browser

BERLIN = ZoneInfo("Europe/Berlin")


async def _berlin(api: Api) -> None:
    """The Berlin plant, added once per module."""
    if "Berlin plant" not in {site["name"] for site in await api.get("ada", "/sites")}:
        await api.ok("ada", "POST", "/sites", {"name": "Berlin plant", "time_zone": "Europe/Berlin"})


def _next_winter_day() -> date:
    """A 15 January still to come: a day Berlin keeps in CET (UTC+1) whenever the test runs."""
    today = datetime.now(UTC).date()
    return date(today.year + 1, 1, 15)


async def test_the_default_site_is_there_and_an_admin_adds_another(api: Api) -> None:
    """A fresh installation has its default site (CAPA_SITE_NAME, in UTC); an admin adds one with its zone, and
    everyone signed in sees both."""
    sites = {site["name"]: site for site in await api.get("otto", "/sites")}
    assert sites["Main site"] | {"created_at": None} == {
        "name": "Main site",
        "time_zone": "UTC",
        "default": True,
        "created_at": None,
    }
    refused = await api.call("maria", "POST", "/sites", {"name": "Lyon", "time_zone": "Europe/Paris"})
    assert refused.status_code == 403
    await _berlin(api)
    listed = {site["name"]: (site["time_zone"], site["default"]) for site in await api.get("otto", "/sites")}
    assert listed["Berlin plant"] == ("Europe/Berlin", False)
    assert "Lyon" not in listed


async def test_an_unknown_zone_is_refused_naming_the_field(api: Api) -> None:
    """A zone the IANA database does not know: 422 on ``time_zone`` for a site and for a person; nothing made."""
    response = await api.call("ada", "POST", "/sites", {"name": "Atlantis", "time_zone": "Atlantis/Capital"})
    assert response.status_code == 422, response.text
    [problem] = response.json()["errors"]
    assert problem["field"] == "time_zone"
    assert "'Atlantis/Capital' is not a known time zone" in problem["message"]
    assert "Atlantis" not in {site["name"] for site in await api.get("ada", "/sites")}

    response = await api.call("ada", "PATCH", "/users/paul", {"time_zone": "CET+1"})
    assert response.status_code == 422, response.text
    assert [problem["field"] for problem in response.json()["errors"]] == ["time_zone"]
    response = await api.call("ada", "PATCH", "/users/paul", {"site": "Atlantis"})
    assert response.status_code == 422, response.text
    assert [problem["field"] for problem in response.json()["errors"]] == ["site"]
    assert (await api.get("paul", "/me"))["shown_time_zone"] == "UTC"


async def test_a_record_belongs_to_the_raisers_home_site_unless_another_is_named(api: Api) -> None:
    """Otto works in Berlin: what he raises belongs to the Berlin plant, unless he names another site; a site
    that does not exist is refused naming ``site``."""
    await _berlin(api)
    await api.ok("ada", "PATCH", "/users/otto", {"site": "Berlin plant"})
    assert (await api.get("otto", "/me"))["shown_time_zone"] == "Europe/Berlin"

    at_home = await api.raise_record("otto")
    elsewhere = await api.raise_record("otto", site="Main site")
    assert (await api.record(at_home))["site"] == "Berlin plant"
    assert (await api.record(elsewhere))["site"] == "Main site"

    response = await api.call("otto", "POST", "/records", {**_raise_body(), "site": "Atlantis"})
    assert response.status_code == 422, response.text
    assert [problem["field"] for problem in response.json()["errors"]] == ["site"]


async def test_a_date_alone_due_is_the_end_of_that_day_at_the_records_site(api: Api) -> None:
    """An action due "2027-01-15" on a Berlin record is due at 23:59:59 Berlin time, 22:59:59Z in winter; the same
    date on a record of the default (UTC) site is due at 23:59:59Z. A due with its time stays as given."""
    await _berlin(api)
    day = _next_winter_day()
    berlin = await api.raise_record("maria", site="Berlin plant")
    main = await api.raise_record("maria", site="Main site")
    exact = {}
    for record_id in (berlin, main):
        for step in ("containment", "root-cause"):
            assert (await api.step("olivia", record_id, step)).status_code == 200
        exact[record_id] = later(days=3)
        plan = {
            "actions": [
                {"owner": "olivia", "due_at": day.isoformat(), "description": "Replace deburring tool"},
                {"owner": "oscar", "due_at": exact[record_id], "description": "Add a tool-life counter"},
            ]
        }
        response = await api.step("olivia", record_id, "plan", plan)
        assert response.status_code == 200, response.text

    dues = {
        record_id: [
            datetime.fromisoformat(action["clock"]["due_at"]) for action in (await api.record(record_id))["actions"]
        ]
        for record_id in (berlin, main)
    }
    assert dues[berlin][0] == datetime.combine(day, time(22, 59, 59), tzinfo=UTC)
    assert dues[berlin][0] == datetime.combine(day, time(23, 59, 59), tzinfo=BERLIN)
    assert dues[main][0] == datetime.combine(day, time(23, 59, 59), tzinfo=UTC)
    for record_id in (berlin, main):
        assert dues[record_id][1] == datetime.fromisoformat(exact[record_id])


async def test_pages_show_times_in_the_readers_zone(api: Api) -> None:
    """Olivia, in Berlin by her own zone, reads a record's times in CET; Paul, with no site or zone of his own,
    in the default site's UTC."""
    await api.ok("ada", "PATCH", "/users/olivia", {"time_zone": "Europe/Berlin"})
    record_id = await api.raise_record("otto", site="Main site")
    raised = datetime.fromisoformat((await api.record(record_id))["raised_at"])

    async with browser(api.stack, "olivia") as olivia:
        page = (await olivia.get(f"/records/{record_id}")).text
    assert formatting.moment(raised, BERLIN) in page
    assert formatting.moment(raised, BERLIN).endswith(("CET", "CEST"))
    assert formatting.moment(raised) not in page

    async with browser(api.stack, "paul") as paul:
        page = (await paul.get(f"/records/{record_id}")).text
    assert formatting.moment(raised) in page


def _raise_body() -> dict[str, object]:
    return {
        "title": "Burr on housing edge",
        "description": "Line 3 housings show a burr",
        "severity": "major",
        "source": "inspection",
        "owner": "olivia",
    }


async def test_the_raise_form_offers_the_sites_and_a_plan_form_reads_its_dues_in_the_readers_zone(api: Api) -> None:
    """On the raise page the site defaults to the raiser's home site; the record page names the record's site.
    Olivia (in Berlin) types a due of 10:00 on the plan form: it is kept as 09:00Z in winter, and a date alone
    is the end of that day at the record's site."""
    await _berlin(api)
    await api.ok("ada", "PATCH", "/users/olivia", {"time_zone": "Europe/Berlin"})
    await api.ok("ada", "PATCH", "/users/maria", {"site": "Berlin plant"})
    day = _next_winter_day()
    async with browser(api.stack, "maria") as maria:
        form = (await maria.get("/raise")).text
        assert '<option value="Berlin plant" selected>Berlin plant (Europe/Berlin)</option>' in form
        raised = await maria.raise_record(site="Main site")
        record_id = raised.headers["location"].rsplit("/", 1)[1]
        assert "<dt>Site</dt><dd>Main site</dd>" in (await maria.get(f"/records/{record_id}")).text
    for step in ("containment", "root-cause"):
        assert (await api.step("olivia", record_id, step)).status_code == 200
    async with browser(api.stack, "olivia") as olivia:
        page = (await olivia.get(f"/records/{record_id}")).text
        assert "Due (CET)" in page or "Due (CEST)" in page
        fields = {
            "description-1": "Replace deburring tool",
            "owner-1": "olivia",
            "due-1": f"{day.isoformat()}T10:00",
            "description-2": "Add a tool-life counter",
            "owner-2": "oscar",
            "due-2": day.isoformat(),
        }
        planned = await olivia.step(record_id, "plan", **fields)
        assert planned.status_code == 303, planned.text
    actions = (await api.record(record_id))["actions"]
    dues = [datetime.fromisoformat(action["clock"]["due_at"]) for action in actions]
    assert dues == [
        datetime.combine(day, time(9, 0), tzinfo=UTC),
        datetime.combine(day, time(23, 59, 59), tzinfo=UTC),
    ]
    async with browser(api.stack, "olivia") as olivia:
        page = (await olivia.get(f"/records/{record_id}")).text
    assert f"due {day.isoformat()} 10:00:00 CET" in page
    assert f"due {(day + timedelta(days=1)).isoformat()} 00:59:59 CET" in page
