"""Working-day calendars: windows in working days/hours, reminders before a due, working time between, imports."""

from datetime import UTC, date, datetime, timedelta
from importlib import resources

import pytest

from core.sites import SiteError, calendar_from_text
from models import rules
from models.calendars import (
    CalendarError,
    WorkCalendar,
    WorkingWindow,
    calendar_from_ical,
    calendar_from_toml,
    deadlines_counted,
    parse_working_window,
    window_end,
    working_between,
)
from models.durations import WorkingSpan, parse_window
from models.enums import Role, Severity, Stage
from models.payloads import Actor, PlanInput, PlannedAction
from models.policy import SeverityPolicy, parse_policy
from models.refusals import Rejection
from tests import builders

# Friday 2026-12-04; Monday 2026-12-07 is a holiday.
FRIDAY = datetime(2026, 12, 4, 10, 30, tzinfo=UTC)
CAL = WorkCalendar(holidays=(date(2026, 12, 7),))


def test_five_working_days_from_a_friday_before_a_monday_holiday() -> None:
    # Tue 8, Wed 9, Thu 10, Fri 11, Mon 14: the end of Monday 14th.
    assert CAL.add(FRIDAY, WorkingWindow(5, "wd")) == datetime(2026, 12, 14, 16, 0, tzinfo=UTC)


def test_working_hours_skip_nights_weekends_and_holidays() -> None:
    # 5.5h left on Friday, then Tuesday 08:00 + 10.5h -> Tuesday full (8h) -> Wednesday 10:30.
    assert CAL.add(FRIDAY, WorkingWindow(16, "wh")) == datetime(2026, 12, 9, 10, 30, tzinfo=UTC)


def test_reminder_one_working_day_before_the_due_is_the_previous_working_days_end() -> None:
    due = datetime(2026, 12, 8, 16, 0, tzinfo=UTC)  # end of Tuesday after the Monday holiday
    assert CAL.subtract(due, WorkingWindow(1, "wd")) == datetime(2026, 12, 4, 16, 0, tzinfo=UTC)
    assert CAL.subtract(due, WorkingWindow(4, "wh")) == datetime(2026, 12, 8, 12, 0, tzinfo=UTC)


def test_escalation_after_the_due_counts_working_hours() -> None:
    due = datetime(2026, 12, 4, 16, 0, tzinfo=UTC)
    assert CAL.shift(due, WorkingWindow(8, "wh")) == datetime(2026, 12, 8, 16, 0, tzinfo=UTC)


def test_working_between_and_calendar_time_without_a_calendar() -> None:
    a, b = FRIDAY, datetime(2026, 12, 8, 9, 0, tzinfo=UTC)
    assert CAL.working_between(a, b) == timedelta(hours=6, minutes=30)
    assert working_between(None, a, b) == b - a
    assert CAL.working_between(b, a) == timedelta(0)


def test_time_zone_of_the_site() -> None:
    berlin = WorkCalendar(timezone="Europe/Berlin")
    # 16:00 Berlin in December is 15:00 UTC.
    assert berlin.add(FRIDAY, WorkingWindow(1, "wd")) == datetime(2026, 12, 7, 15, 0, tzinfo=UTC)


def test_parse_working_window() -> None:
    assert parse_working_window("5wd") == WorkingWindow(5, "wd")
    assert parse_working_window(" 16WH ") == WorkingWindow(16, "wh")
    assert parse_working_window("5d") is None
    with pytest.raises(ValueError, match="at least 1wd"):
        parse_working_window("0wd")


def test_calendar_from_toml_round_trips() -> None:
    cal = calendar_from_toml(
        'timezone = "Europe/Berlin"\nweekdays = ["mon", "tue", "wed", "thu"]\nhours = "07:00-15:30"\n'
        "holidays = [2026-12-24, 2026-12-25]\n"
    )
    assert cal.weekdays == (0, 1, 2, 3)
    assert cal.day_length == timedelta(hours=8, minutes=30)
    assert cal.holidays == (date(2026, 12, 24), date(2026, 12, 25))
    assert calendar_from_toml(cal.to_toml()) == cal


ICS = b"""BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//site//holidays//EN\r
BEGIN:VEVENT\r
UID:1\r
DTSTART;VALUE=DATE:20261224\r
DTEND;VALUE=DATE:20261227\r
SUMMARY:Christmas shutdown\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:2\r
DTSTART;VALUE=DATE:20270101\r
SUMMARY:New Year\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:3\r
DTSTART:20261210T090000Z\r
DTEND:20261210T100000Z\r
SUMMARY:A meeting, not a holiday\r
END:VEVENT\r
END:VCALENDAR\r
"""


def test_calendar_from_ical_all_day_events_are_holidays() -> None:
    base = WorkCalendar(timezone="Europe/Berlin")
    cal = calendar_from_ical(ICS, base)
    assert cal.holidays == (date(2026, 12, 24), date(2026, 12, 25), date(2026, 12, 26), date(2027, 1, 1))
    assert cal.timezone == "Europe/Berlin"


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('hours = "16:00-08:00"', "hours"),
        ('hours = "8 to 4"', "hours"),
        ('holidays = ["2026-02-30"]', "holidays"),
        ('holidays = ["tomorrow"]', "holidays"),
        ('weekdays = ["funday"]', "weekdays"),
        ("weekdays = []", "weekdays"),
        ('timezone = "Mars/Olympus"', "timezone"),
        ('colour = "blue"', "colour"),
        ("hours = ", "calendar"),
    ],
)
def test_hostile_calendars_are_refused_naming_the_field(text: str, field: str) -> None:
    with pytest.raises(CalendarError) as refused:
        calendar_from_toml(text)
    assert refused.value.field == field


def test_hostile_ical_refused() -> None:
    with pytest.raises(CalendarError) as refused:
        calendar_from_ical(b"this is not a calendar")
    assert refused.value.field == "ical"


def test_policy_windows_keep_their_working_kind_and_plain_ones_serialise_as_before() -> None:
    rules = SeverityPolicy(
        containment="5wd",
        root_cause="16wh",
        action_plan="7d",
        verification="1d12h",
        effectiveness_after="30d",
        effectiveness_review="5d",
        remind_before=["1wd"],
        escalate_after=["0s", "8wh"],
    )
    assert isinstance(rules.containment, WorkingSpan)
    assert rules.containment == timedelta(days=5)  # without a calendar: calendar time
    dumped = rules.model_dump(mode="json")
    assert (dumped["containment"], dumped["root_cause"], dumped["verification"]) == ("5wd", "16wh", "1d12h")
    assert dumped["remind_before"] == ["1wd"]
    assert dumped["escalate_after"] == ["0s", "8wh"]
    assert SeverityPolicy.model_validate(dumped) == rules


def test_an_ical_event_with_an_impossible_date_is_refused_naming_the_file_field() -> None:
    """A 13th month is the file's fault: refused on ``ical`` with the event named, not a server error."""
    bad = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:1\r\n"
        "DTSTART;VALUE=DATE:20261399\r\nSUMMARY:Plant shutdown\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    with pytest.raises(CalendarError) as refused:
        calendar_from_ical(bad)
    assert refused.value.field == "ical"
    assert "Plant shutdown" in str(refused.value)


@pytest.mark.parametrize(
    ("text", "field"), [("\n", "calendar"), ('weekdays = ["mon", "tue"]\nhours = "08:00-16:00"\n', "timezone")]
)
def test_a_site_calendar_that_says_nothing_or_leaves_out_its_zone_is_refused(text: str, field: str) -> None:
    """A calendar replaces the site's: an empty file, or one whose zone would default, would move every deadline."""
    with pytest.raises(SiteError) as refused:
        calendar_from_text(text, None, None)
    assert refused.value.problem.field == field


def test_window_end_counts_working_windows_under_a_calendar_only() -> None:
    friday = datetime(2026, 12, 4, 10, tzinfo=UTC)
    calendar = WorkCalendar(holidays=(date(2026, 12, 7),))
    # The latest due / effectiveness window of 5wd from a Friday before a Monday holiday: the Monday after, 16:00.
    assert window_end(calendar, friday, parse_window("5wd")) == datetime(2026, 12, 14, 16, tzinfo=UTC)
    assert window_end(None, friday, parse_window("5wd")) == friday + timedelta(days=5)
    assert window_end(calendar, friday, parse_window("5d")) == friday + timedelta(days=5)


def test_a_working_due_is_a_utc_instant_for_the_board_and_my_work() -> None:
    """The read model stores dues as UTC instants: a working due under a site zone is one (16:00 Berlin = 15:00Z)."""
    due = window_end(WorkCalendar(timezone="Europe/Berlin"), datetime(2026, 12, 4, 10, tzinfo=UTC), parse_window("2wd"))
    assert due == datetime(2026, 12, 8, 15, tzinfo=UTC)
    assert due.utcoffset() == timedelta(0)


def test_the_latest_action_due_counts_working_days_under_the_records_calendar() -> None:
    """``latest_action_due = "5wd"`` from a Friday before a Monday holiday allows dues up to the Monday after,
    16:00; without a calendar, five days (the Wednesday)."""
    text = resources.files("models").joinpath("default_policy.toml").read_text(encoding="utf-8")
    policy = parse_policy(text.replace('latest_action_due = "60d"', 'latest_action_due = "5wd"'))
    friday = datetime(2026, 12, 4, 10, tzinfo=UTC)
    base = builders.state(stage=Stage.ACTION).model_copy(
        update={"policy": policy.for_severity(Severity.MAJOR), "awaiting_plan": True}
    )
    saturday = PlanInput(
        actor=Actor(name="olivia", roles=[Role.OWNER]),
        actions=[PlannedAction(owner="oscar", due_at=datetime(2026, 12, 12, 12, tzinfo=UTC), description="Tool")],
    )
    rules.check_plan(
        base.model_copy(update={"calendar": WorkCalendar(holidays=(date(2026, 12, 7),))}), saturday, friday
    )
    with pytest.raises(Rejection, match="after the latest due"):
        rules.check_plan(base, saturday, friday)


def test_a_record_says_working_days_only_when_its_policy_counts_in_them() -> None:
    """A pinned calendar matters only to windows written in working days or hours: the record says which it is."""
    calendar = WorkCalendar(holidays=(date(2026, 12, 7),))
    plain = builders.state().model_copy(update={"calendar": calendar})
    assert deadlines_counted(plain, "Plant 1") == "calendar time"
    assert plain.policy is not None
    working = plain.policy.model_copy(
        update={"rules": plain.policy.rules.model_copy(update={"containment": parse_window("5wd")})}
    )
    counted = deadlines_counted(plain.model_copy(update={"policy": working}), "Plant 1")
    assert counted == "working days of site Plant 1: Mon\u2013Fri 08:00\u201316:00 (UTC), 1 holiday"
