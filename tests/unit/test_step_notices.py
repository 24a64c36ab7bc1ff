"""Who hears of a step: decided by one pure function of the record and its timeline entry (``notices.for_step``)."""

from datetime import timedelta

import pytest

from models import notices
from models.enums import EventKind, Stage
from models.payloads import (
    ClosedEntry,
    Event,
    ExtensionDecisionEntry,
    ExtensionRequestEntry,
    Payload,
    PlanEntry,
    PlannedAction,
    ReassignEntry,
)
from tests import builders
from tests.builders import T0

STATE = builders.state(stage=Stage.ACTION)


def _event(kind: EventKind, actor: str, details: Payload) -> Event:
    return Event(seq=5, at=T0, kind=kind, actor=actor, details=details)


def test_a_plan_tells_each_action_owner_but_not_the_planner() -> None:
    due = T0 + timedelta(days=10)
    plan = PlanEntry(
        actions=[
            PlannedAction(owner="olivia", due_at=due, description="Replace tool"),
            PlannedAction(owner="oscar", due_at=due, description="Add counter"),
        ],
        action_ids=["A1", "A2"],
    )
    notice = notices.for_step(STATE, _event(EventKind.PLAN_SUBMITTED, "olivia", plan))
    assert notice is not None
    assert (notice.recipients, notice.managers_of, notice.seq) == (["oscar"], [], 5)
    assert "A2 (oscar, due 2026-03-12 09:00:00 UTC)" in notice.subject


def test_an_extension_request_goes_to_the_requesters_manager_found_when_queued() -> None:
    """The record does not know the reporting line: the notice names whose manager it is for, by role."""
    ask = ExtensionRequestEntry(
        action_id="A2", until=T0 + timedelta(days=5), reason="Counter on back order", target="A2", current_due_at=T0
    )
    notice = notices.for_step(STATE, _event(EventKind.EXTENSION_REQUESTED, "oscar", ask))
    assert notice is not None
    assert (notice.recipients, notice.managers_of) == ([], ["oscar"])
    assert notice.subject == (
        "[NC-2026-0001] oscar asks to extend A2 from 2026-03-02 09:00:00 UTC to 2026-03-07 09:00:00 UTC (5d more): "
        "Counter on back order"
    )


@pytest.mark.parametrize(
    ("kind", "actor", "details", "told"),
    [
        (
            EventKind.EXTENSION_DECIDED,
            "maria",
            ExtensionDecisionEntry(approve=False, target="A2", requested_by="oscar"),
            ["oscar"],
        ),
        (
            EventKind.REASSIGNED,
            "maria",
            ReassignEntry(new_owner="paul", reason="leave", target="record", previous="olivia"),
            ["paul"],
        ),
        # Nobody is told of their own step.
        (
            EventKind.REASSIGNED,
            "paul",
            ReassignEntry(new_owner="paul", reason="taking it", target="A1", previous="oscar"),
            None,
        ),
        (EventKind.CLOSED, "maria", ClosedEntry(cycles=1), None),
    ],
)
def test_who_hears_of_a_step(kind: EventKind, actor: str, details: Payload, told: list[str] | None) -> None:
    """``None``: nobody must hear of it at once; the record's watchers still do (a notice for them alone)."""
    notice = notices.for_step(STATE, _event(kind, actor, details))
    assert notice is not None
    assert (None if notice.watchers_only else notice.recipients) == told
    if notice.watchers_only:
        assert notice.recipients == []
        assert notice.actor == actor, "the outbox leaves out the watcher whose step it is"


def test_the_systems_entries_have_no_notice_for_watchers_here() -> None:
    """A reminder or an escalation is told by its own notice (its watchers included), not by ``for_step``."""
    assert notices.for_step(STATE, _event(EventKind.CLOSED, "system", ClosedEntry(cycles=1))) is None
