"""How ``capa show`` and the record page write a timeline entry: typed values, never text taken for a time."""

from datetime import UTC, datetime, timedelta

from api.web.rendering import detail
from models.enums import ActionKind, EventKind, RootCauseMethod
from models.payloads import CompletionEntry, Event, PlanEntry, PlannedAction, RootCauseEntry
from models.sentences import sentence

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def test_evidence_that_starts_like_a_time_is_shown_as_typed() -> None:
    """Free text that begins with a date is the person's words, not a time to reformat (or to fail on)."""
    evidence = "2026-12-02T10:00 retest at 2 bar passed, 48/48 pumps tight"
    entry = CompletionEntry(action_id="A1", evidence=evidence, on_time=True)
    event = Event(seq=7, at=T0, kind=EventKind.ACTION_COMPLETED, actor="oscar", details=entry)
    assert sentence(event) == f"A1 completed by oscar, on time: {evidence}"
    assert detail(event.shown()["evidence"]) == evidence


def test_a_plan_lists_each_action_with_its_id_on_its_own_line() -> None:
    due = T0 + timedelta(days=10)
    plan = PlanEntry(
        actions=[
            PlannedAction(owner="olivia", due_at=due, description="Replace tool"),
            PlannedAction(owner="oscar", due_at=due, description="Add counter", kind=ActionKind.PREVENTIVE),
        ],
        action_ids=["A1", "A2"],
    )
    event = Event(seq=4, at=T0, kind=EventKind.PLAN_SUBMITTED, actor="olivia", details=plan)
    assert sentence(event) == (
        "Action plan by olivia: A1 corrective for olivia, due 2026-03-12 08:00:00 UTC: Replace tool;"
        " A2 preventive for oscar, due 2026-03-12 08:00:00 UTC: Add counter"
    )
    assert detail(event.shown()["actions"]).splitlines() == [
        "id A1, owner olivia, due at 2026-03-12 08:00:00 UTC, description Replace tool, kind corrective",
        "id A2, owner oscar, due at 2026-03-12 08:00:00 UTC, description Add counter, kind preventive",
    ]


def test_a_field_left_empty_is_left_out_rather_than_shown_blank() -> None:
    """A fishbone root cause without whys reads as the cause and its method, with no bare ``whys:`` line."""
    entry = RootCauseEntry(method=RootCauseMethod.FISHBONE, cause="Worn deburring tool", cycle=1)
    event = Event(seq=5, at=T0, kind=EventKind.ROOT_CAUSE_SUBMITTED, actor="olivia", details=entry)
    assert "whys" not in event.shown()
    assert sentence(event) == "Root cause by olivia (fishbone, cycle 1): Worn deburring tool"
