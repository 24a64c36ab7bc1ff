"""Who gets which overdue items, and how a digest reads: pure functions, no server, no database."""

import re
from datetime import UTC, datetime, timedelta

from activities.digest import digest_body, digest_key, digest_lists
from core.readmodel import OverdueItem
from models.enums import Severity, Stage
from models.tables import User

NOW = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)

# The directory of tests/conftest.py: ada <- maria <- mike <- olivia, oscar, otto; maria <- nina <- paul.
DIRECTORY = [
    User(name="ada", role="admin"),
    User(name="maria", role="manager", manager="ada"),
    User(name="mike", role="manager", manager="maria"),
    User(name="nina", role="manager", manager="maria"),
    User(name="olivia", role="owner", manager="mike"),
    User(name="oscar", role="owner", manager="mike"),
    User(name="otto", role="operator", manager="mike"),
    User(name="paul", role="owner", manager="nina"),
]


def item(record_id: str, holder: str, late: timedelta = timedelta(hours=5), target: str = "stage") -> OverdueItem:
    return OverdueItem(
        record_id=record_id,
        stage=Stage.CONTAINMENT if target == "stage" else Stage.ACTION,
        severity=Severity.MAJOR,
        target=target,
        holder=holder,
        due_at=NOW - late,
        late_by=late,
        escalation_level=1,
    )


def test_each_manager_gets_the_items_of_everyone_below_them() -> None:
    """mike gets olivia's and oscar's, nina paul's, maria all three (indirectly), ada (admin) everything."""
    items = [item("NC-1", "olivia"), item("NC-2", "oscar", target="A1"), item("NC-3", "paul")]
    lists = {name: [i.record_id for i in share] for name, share in digest_lists(items, DIRECTORY).items()}
    assert lists == {
        "ada": ["NC-1", "NC-2", "NC-3"],
        "maria": ["NC-1", "NC-2", "NC-3"],
        "mike": ["NC-1", "NC-2"],
        "nina": ["NC-3"],
    }


def test_a_managers_own_late_step_goes_to_their_managers_not_to_them() -> None:
    """An item mike holds is listed for maria and ada; mike is not sent his own lateness."""
    lists = digest_lists([item("NC-1", "mike")], DIRECTORY)
    assert sorted(lists) == ["ada", "maria"]


def test_nothing_overdue_means_nobody_is_listed() -> None:
    """No items: no recipient at all, admins included."""
    assert digest_lists([], DIRECTORY) == {}


def test_a_reporting_loop_is_followed_once_and_unknown_holders_reach_the_admins() -> None:
    """x and y manage each other: each is listed once; a holder missing from the directory goes to admins only."""
    loop = [*DIRECTORY, User(name="x", role="manager", manager="y"), User(name="y", role="manager", manager="x")]
    lists = digest_lists([item("NC-1", "x"), item("NC-2", "ghost")], loop)
    assert {name: [i.record_id for i in share] for name, share in lists.items()} == {
        "ada": ["NC-1", "NC-2"],
        "y": ["NC-1"],
    }


def test_the_day_is_the_local_date_of_the_digest_zone() -> None:
    """00:30 in Berlin is still the previous day in UTC; the digest is keyed by the Berlin date."""
    at = datetime(2026, 11, 24, 23, 30, tzinfo=UTC)
    assert digest_key(at, "Europe/Berlin") == "DIGEST-2026-11-25"
    assert digest_key(at, "UTC") == "DIGEST-2026-11-24"


def test_the_body_is_a_table_in_local_time_on_both_sides_of_a_dst_change() -> None:
    """07:30 Berlin reads 07:30 CET before 28 March 2027 and 07:30 CEST after, with one row per item."""
    items = [item("NC-2026-0001", "olivia", late=timedelta(days=2, hours=3)), item("NC-2026-0002", "paul")]
    winter = digest_body(items, datetime(2027, 3, 27, 6, 30, tzinfo=UTC), "Europe/Berlin")
    summer = digest_body(items, datetime(2027, 3, 28, 5, 30, tzinfo=UTC), "Europe/Berlin")
    assert winter.splitlines()[0] == "2 items overdue as of 2027-03-27 07:30 CET (Europe/Berlin), most urgent first:"
    assert summer.splitlines()[0] == "2 items overdue as of 2027-03-28 07:30 CEST (Europe/Berlin), most urgent first:"
    header = next(line for line in winter.splitlines() if line.startswith("RECORD"))
    assert header.split() == ["RECORD", "STAGE", "STEP", "HOLDER", "DUE", "LATE", "BY", "LEVEL"]
    # Columns are two spaces apart or more; a due time and a duration hold one space.
    rows = [re.split(r"\s{2,}", line) for line in winter.splitlines() if line.startswith("NC-")]
    assert [(r[0], r[3], r[5], r[6]) for r in rows] == [
        ("NC-2026-0001", "olivia", "2d 3h", "L1"),
        ("NC-2026-0002", "paul", "5h", "L1"),
    ]
