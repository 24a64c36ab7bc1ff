"""escalation_recipients: each level climbs one step of the reporting line, then falls back to the admins."""

import pytest
from sqlalchemy import Engine
from sqlmodel import Session
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities import errors
from activities.records import RecordActivities
from core.readmodel import add_user, seed_demo_users
from models.payloads import RecipientsInput
from models.tables import User


def _recipients(engine: Engine, holder: str, level: int) -> list[str]:
    activity = RecordActivities(engine).escalation_recipients
    result: list[str] = ActivityEnvironment().run(activity, RecipientsInput(holder=holder, level=level))
    return result


@pytest.mark.parametrize(
    ("level", "expected"),
    [(1, ["mike"]), (2, ["maria"]), (3, ["ada"]), (4, ["ada"]), (9, ["ada"])],
)
def test_each_level_climbs_one_step(engine: Engine, level: int, expected: list[str]) -> None:
    """Level 1 is the holder's manager, level N the Nth manager up, and past the top the admins."""
    seed_demo_users(engine)
    assert _recipients(engine, "olivia", level) == expected


def test_past_the_top_every_admin_is_told_sorted(engine: Engine) -> None:
    """When the line runs out, all admins (sorted) receive the escalation, not just the one at the top."""
    seed_demo_users(engine)
    add_user(engine, "abe", "admin")
    assert _recipients(engine, "olivia", 4) == ["abe", "ada"]


def test_unknown_holder_goes_to_admins(engine: Engine) -> None:
    """A holder missing from the directory still escalates, to the admins."""
    seed_demo_users(engine)
    assert _recipients(engine, "ghost", 1) == ["ada"]


def test_cycle_in_reporting_line_goes_to_admins(engine: Engine) -> None:
    """A reporting line that loops back on itself ends at the admins instead of circling."""
    seed_demo_users(engine)
    add_user(engine, "abe", "admin")
    with Session(engine) as session:
        ada = session.get_one(User, "ada")
        ada.manager = "mike"  # mike -> maria -> ada -> mike
        session.add(ada)
        session.commit()
    assert _recipients(engine, "olivia", 3) == ["ada"]
    assert _recipients(engine, "olivia", 4) == ["abe", "ada"]


def test_no_admin_means_no_recipient(engine: Engine) -> None:
    """Only a directory without any admin yields an empty list (the workflow then notifies nobody)."""
    add_user(engine, "mona", "manager")
    add_user(engine, "owen", "owner", manager="mona")
    assert _recipients(engine, "owen", 1) == ["mona"]
    assert _recipients(engine, "owen", 2) == []


def test_level_below_one_is_a_non_retryable_failure(engine: Engine) -> None:
    """Level 0 is a caller bug: it fails at once with the invalid-input type instead of being retried."""
    with pytest.raises(ApplicationError) as failure:
        _recipients(engine, "olivia", 0)
    assert failure.value.non_retryable
    assert failure.value.type == errors.INVALID_INPUT
