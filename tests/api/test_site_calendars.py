"""Working-day calendars of sites through the API: an admin sets one from TOML or adds an iCalendar file's
holidays, everyone signed in reads it, and hostile calendars are refused naming the field."""

from tests.api.flow import Api

PATH = "/sites/Main%20site/calendar"
TOML = (
    'timezone = "UTC"\nweekdays = ["mon", "tue", "wed", "thu", "fri"]\nhours = "08:00-16:00"\nholidays = [2026-12-07]\n'
)
ICS = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//site//holidays//EN\r\n"
    "BEGIN:VEVENT\r\nUID:1\r\nDTSTART;VALUE=DATE:20261224\r\nDTEND;VALUE=DATE:20261226\r\nSUMMARY:Christmas\r\n"
    "END:VEVENT\r\nEND:VCALENDAR\r\n"
)


async def test_an_admin_sets_a_sites_calendar_and_adds_ical_holidays(api: Api) -> None:
    assert (await api.get("otto", PATH))["site"] == "Main site"
    refused = await api.call("maria", "PUT", PATH, {"toml": TOML})
    assert refused.status_code == 403
    shown = await api.ok("ada", "PUT", PATH, {"toml": TOML})
    assert shown["hours"] == "08:00-16:00"
    assert shown["holidays"] == ["2026-12-07"]
    shown = await api.ok("ada", "PUT", PATH, {"ical": ICS})
    assert shown["holidays"] == ["2026-12-07", "2026-12-24", "2026-12-25"]
    read = await api.get("otto", PATH)
    assert read["weekdays"] == [0, 1, 2, 3, 4]
    assert read["holidays"] == ["2026-12-07", "2026-12-24", "2026-12-25"]


async def test_hostile_calendars_are_refused_naming_the_field(api: Api) -> None:
    for body, field in (
        ({"toml": 'hours = "16:00-08:00"'}, "hours"),
        ({"toml": 'holidays = ["2026-13-01"]'}, "holidays"),
        ({"toml": 'timezone = "Mars/Olympus"'}, "timezone"),
        ({"ical": "not a calendar"}, "ical"),
        ({}, "calendar"),
    ):
        response = await api.call("ada", "PUT", PATH, body)
        assert response.status_code == 422, response.text
        assert [problem["field"] for problem in response.json()["errors"]] == [field], response.text
    response = await api.call("ada", "PUT", "/sites/Atlantis/calendar", {"toml": TOML})
    assert response.status_code == 422, response.text
    assert [problem["field"] for problem in response.json()["errors"]] == ["site"]
