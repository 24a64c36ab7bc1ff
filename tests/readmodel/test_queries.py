"""The read side: record lists and their filters, the overdue dashboard, and rebuilding a record."""

from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine

from core.readmodel import RecordFilter, list_records, load_record_state, overdue_items
from models.enums import ActionStatus, EventKind, Severity, Stage
from tests.builders import T0, action, clock, event, publish, state

NOW = T0 + timedelta(days=10)


def _day(n: int) -> datetime:
    return T0 + timedelta(days=n)


@pytest.fixture
def records(engine: Engine) -> Engine:
    """Six records covering late and on-time stage clocks, late and done actions, and finished records."""
    publish(engine, state("NC-2026-0001", stage_clock=clock("olivia", _day(3), level=1)), [event(1)])
    publish(
        engine,
        state(
            "NC-2026-0002",
            stage=Stage.ACTION,
            owner="oscar",
            severity=Severity.CRITICAL,
            actions=[
                action("A1", "olivia", _day(5), level=2),
                action("A2", "mike", _day(1), status=ActionStatus.COMPLETED),
            ],
        ),
        [event(1)],
    )
    publish(
        engine,
        state("NC-2026-0003", stage=Stage.ROOT_CAUSE, owner="oscar", stage_clock=clock("oscar", _day(20))),
        [event(1)],
    )
    publish(
        engine,
        state("NC-2026-0004", stage=Stage.CANCELLED, actions=[action("A1", "olivia", _day(1))]),
        [event(1)],
    )
    publish(
        engine,
        state(
            "NC-2026-0005",
            stage=Stage.VERIFICATION,
            owner="mike",
            stage_clock=clock("mike", _day(9), level=1),
        ),
        [event(1)],
    )
    publish(engine, state("NC-2026-0006", stage=Stage.CLOSED, owner="mike"), [event(1)])
    return engine


def _ids(engine: Engine, *, stage: Stage | None = None, owner: str | None = None, overdue: bool = False) -> list[str]:
    return [r.id for r in list_records(engine, RecordFilter(stage=stage, owner=owner, overdue=overdue), now=NOW)]


def test_list_records_soonest_due_first(records: Engine) -> None:
    """Unfiltered, every record is listed by due time, those with nothing due last."""
    assert _ids(records) == [
        "NC-2026-0004",
        "NC-2026-0001",
        "NC-2026-0002",
        "NC-2026-0005",
        "NC-2026-0003",
        "NC-2026-0006",
    ]


def test_list_records_by_stage(records: Engine) -> None:
    """The stage filter keeps only records in that stage."""
    assert _ids(records, stage=Stage.ROOT_CAUSE) == ["NC-2026-0003"]


def test_list_records_by_owner_includes_open_actions(records: Engine) -> None:
    """An owner sees records they own and records where they own an open action, not a completed one."""
    assert _ids(records, owner="olivia") == ["NC-2026-0004", "NC-2026-0001", "NC-2026-0002"]
    assert _ids(records, owner="mike") == ["NC-2026-0005", "NC-2026-0006"]


def test_list_records_overdue(records: Engine) -> None:
    """Overdue means an open record with a late stage clock or a late open action."""
    assert _ids(records, overdue=True) == ["NC-2026-0001", "NC-2026-0002", "NC-2026-0005"]
    assert _ids(records, overdue=True, owner="olivia") == ["NC-2026-0001", "NC-2026-0002"]


def test_overdue_items_most_urgent_first(records: Engine) -> None:
    """Late deadlines come highest escalation level first, then longest late, with who holds each."""
    items = overdue_items(records, NOW)
    assert [(i.record_id, i.target, i.holder, i.escalation_level, i.late_by) for i in items] == [
        ("NC-2026-0002", "A1", "olivia", 2, timedelta(days=5)),
        ("NC-2026-0001", "stage", "olivia", 1, timedelta(days=7)),
        ("NC-2026-0005", "stage", "mike", 1, timedelta(days=1)),
    ]
    assert (items[0].stage, items[0].severity, items[0].due_at) == (
        Stage.ACTION,
        Severity.CRITICAL,
        T0 + timedelta(days=5),
    )


def test_nothing_overdue_before_any_due_time(records: Engine) -> None:
    """Before the first due time the dashboard is empty."""
    assert overdue_items(records, T0) == []


def test_load_record_state_round_trip(engine: Engine) -> None:
    """The state rebuilt from the row and the timeline equals the workflow's state, events included."""
    capa = state(
        stage=Stage.ACTION,
        stage_clock=clock("olivia", T0 + timedelta(days=2), level=1),
        actions=[action("A1", "oscar", T0 + timedelta(days=4))],
    )
    events = [
        event(1),
        event(2, EventKind.CONTAINMENT_SUBMITTED, "olivia"),
        event(3, EventKind.ESCALATED, "system"),
    ]
    publish(engine, capa, events[:2])
    publish(engine, capa, events[2:])
    assert load_record_state(engine, capa.id) == capa.model_copy(update={"events": events})


def test_load_record_state_unknown_record(engine: Engine) -> None:
    """A record the read model has never seen loads as None."""
    assert load_record_state(engine, "NC-2026-9999") is None


def test_an_extended_step_stays_late_against_its_original_due(engine: Engine) -> None:
    """Lateness is honest: a stage step and an action extended past their original dues are still on the
    overdue board and in the overdue list, late from the original due, with the revised due beside it; one not
    yet due at all is not."""
    extended = clock("olivia", _day(12)).model_copy(update={"original_due_at": _day(4), "extensions": 1})
    late_action = action("A1", "oscar", _day(14))
    late_action.clock.original_due_at = _day(6)
    late_action.clock.extensions = 1
    publish(engine, state("NC-2026-0011", stage_clock=extended), [event(1)])
    publish(engine, state("NC-2026-0012", stage=Stage.ACTION, actions=[late_action]), [event(1)])
    publish(engine, state("NC-2026-0013", stage_clock=clock("olivia", _day(11))), [event(1)])

    items = overdue_items(engine, NOW)

    assert [(i.record_id, i.target, i.due_at, i.revised_due_at, i.late_by) for i in items] == [
        ("NC-2026-0011", "stage", _day(4), _day(12), timedelta(days=6)),
        ("NC-2026-0012", "A1", _day(6), _day(14), timedelta(days=4)),
    ]
    assert _ids(engine, overdue=True) == ["NC-2026-0011", "NC-2026-0012"]
