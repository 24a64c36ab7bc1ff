"""record_state: the workflow's snapshots become rows, idempotently and never out of order."""

from datetime import UTC, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from structlog.testing import capture_logs

from activities.records import ReadModelBehind, write_change
from core.readmodel import load_record_state
from models.enums import ActionStatus, EventKind, Stage
from models.payloads import CapaState, Event, RecordChange
from models.tables import ActionRow, Nonconformity, TimelineEvent
from tests.builders import POLICY, T0, action, clock, event, publish, state


def _rows(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    with Session(engine) as session:
        return {
            "records": [r.model_dump(exclude={"updated_at"}) for r in session.exec(select(Nonconformity))],
            "actions": [r.model_dump() for r in session.exec(select(ActionRow).order_by(col(ActionRow.action_id)))],
            "events": [r.model_dump() for r in session.exec(select(TimelineEvent).order_by(col(TimelineEvent.seq)))],
        }


def test_publishing_twice_leaves_the_same_rows(engine: Engine) -> None:
    """A retried record_state writes nothing new: same row, same actions, no duplicate timeline entries."""
    capa = state(stage=Stage.ACTION, actions=[action("A1", "oscar", T0 + timedelta(days=3))])
    events = [event(1), event(2, EventKind.PLAN_SUBMITTED, "olivia")]
    publish(engine, capa, events)
    first = _rows(engine)
    publish(engine, capa, events)
    assert _rows(engine) == first
    assert [e["seq"] for e in first["events"]] == [1, 2]
    assert first["records"][0]["last_seq"] == 2


def test_record_row_mirrors_the_state(engine: Engine) -> None:
    """The row carries the stage, the earliest due, the stage clock's holder and the pinned policy."""
    due = T0 + timedelta(hours=72)
    publish(engine, state(stage_clock=clock("olivia", due, level=1)), [event(1)])
    with Session(engine) as session:
        row = session.exec(select(Nonconformity)).one()
    assert (row.stage, row.due_at, row.holder, row.escalation_level) == ("containment", due, "olivia", 1)
    assert (row.severity, row.source, row.cycle) == ("major", "inspection", 1)
    assert (row.policy_name, row.policy_digest) == (POLICY.name, POLICY.digest)


def test_older_snapshot_does_not_overwrite_newer_row(engine: Engine) -> None:
    """A snapshot behind the stored last_seq leaves the row and actions alone but still adds its events."""
    newer = state(stage=Stage.ACTION, actions=[action("A1", "oscar", T0, status=ActionStatus.COMPLETED)])
    publish(engine, newer, [event(3, EventKind.ACTION_COMPLETED, "oscar")])
    older = state(stage=Stage.ROOT_CAUSE, actions=[action("A1", "oscar", T0)])
    publish(engine, older, [event(1), event(2, EventKind.CONTAINMENT_SUBMITTED, "olivia")])
    rows = _rows(engine)
    assert rows["records"][0]["stage"] == "action"
    assert rows["records"][0]["last_seq"] == 3
    assert rows["actions"][0]["status"] == "completed"
    assert [e["seq"] for e in rows["events"]] == [1, 2, 3]


def test_actions_are_upserted(engine: Engine) -> None:
    """A later snapshot updates existing actions in place and adds new ones."""
    due = T0 + timedelta(days=5)
    publish(engine, state(stage=Stage.ACTION, actions=[action("A1", "oscar", due)]), [event(1)])
    done = action("A1", "oscar", due, status=ActionStatus.COMPLETED).model_copy(
        update={"evidence": "new fixture installed", "completed_by": "oscar", "completed_at": T0}
    )
    later = state(stage=Stage.ACTION, actions=[done, action("A2", "olivia", due, level=2)])
    publish(engine, later, [event(2, EventKind.ACTION_COMPLETED, "oscar")])
    rows = _rows(engine)["actions"]
    assert [(r["action_id"], r["status"], r["owner"]) for r in rows] == [
        ("A1", "completed", "oscar"),
        ("A2", "open", "olivia"),
    ]
    assert rows[0]["evidence"] == "new fixture installed"
    assert rows[0]["completed_at"] == T0
    assert rows[1]["escalation_level"] == 2


def test_datetimes_come_back_as_aware_utc(engine: Engine) -> None:
    """A due time given in another zone is stored and read back as the same instant, in UTC."""
    due = T0.astimezone(timezone(timedelta(hours=2))) + timedelta(days=1)
    publish(engine, state(stage_clock=clock("olivia", due)), [event(1)])
    with Session(engine) as session:
        row = session.exec(select(Nonconformity)).one()
    assert row.due_at == due
    assert row.due_at is not None
    assert row.due_at.tzinfo is UTC
    assert row.raised_at.tzinfo is UTC


def test_record_state_logs_record_workflow_and_actor(engine: Engine) -> None:
    """Each write logs the record id, the calling workflow's id and who took the newest step."""
    with capture_logs() as logs:
        publish(engine, state(), [event(1), event(2, EventKind.CONTAINMENT_SUBMITTED, "olivia")])
    [entry] = [e for e in logs if e.get("record_id") == "NC-2026-0001"]
    assert entry["workflow_id"] == "test"  # ActivityEnvironment's default workflow id
    assert entry["actor"] == "olivia"


def _change(capa: CapaState, after: int, events: list[Event], **fields: object) -> RecordChange:
    return RecordChange(record_id=capa.id, after=after, fields=fields, actions=list(capa.actions), new_events=events)


def test_a_change_applies_only_what_the_step_changed(engine: Engine) -> None:
    """After the first whole snapshot each step sends its changed fields and actions; the stored record is the
    state with them applied, the actions untouched stay as they were."""
    due = T0 + timedelta(days=5)
    capa = state(stage=Stage.ACTION, actions=[action("A1", "oscar", due), action("A2", "olivia", due)])
    publish(engine, capa, [event(1)])
    done = action("A1", "oscar", due, status=ActionStatus.COMPLETED)
    step = capa.model_copy(update={"actions": [done]})
    stored, written = write_change(engine, _change(step, 1, [event(2, EventKind.ACTION_COMPLETED, "oscar")], cycle=2))
    assert written
    assert stored == capa.model_copy(update={"cycle": 2, "actions": [done, capa.actions[1]]})
    assert load_record_state(engine, capa.id) == stored.model_copy(
        update={"events": [event(1), event(2, EventKind.ACTION_COMPLETED, "oscar")]}
    )
    rows = _rows(engine)
    assert [(r["action_id"], r["status"]) for r in rows["actions"]] == [("A1", "completed"), ("A2", "open")]
    assert rows["records"][0]["last_seq"] == 2
    assert rows["records"][0]["cycle"] == 2


def test_a_change_retried_writes_nothing_new(engine: Engine) -> None:
    capa = state()
    publish(engine, capa, [event(1)])
    change = _change(capa, 1, [event(2, EventKind.CONTAINMENT_SUBMITTED, "olivia")], stage="root_cause")
    assert write_change(engine, change)[1]
    first = _rows(engine)
    stored, written = write_change(engine, change)
    assert not written
    assert stored.stage is Stage.ROOT_CAUSE
    assert _rows(engine) == first


def test_a_change_that_arrives_before_the_one_it_follows_waits_for_it(engine: Engine) -> None:
    """Steps' writes may land out of order; a change applied on a row that misses the step before it would lose
    that step's fields, so it is refused (and retried) until its predecessor is stored."""
    capa = state()
    publish(engine, capa, [event(1)])
    second = _change(capa, 2, [event(3, EventKind.ROOT_CAUSE_SUBMITTED, "olivia")], stage="action")
    first = _change(capa, 1, [event(2, EventKind.CONTAINMENT_SUBMITTED, "olivia")], stage="root_cause")
    with pytest.raises(ReadModelBehind, match="holds 1 entries; the change follows 2"):
        write_change(engine, second)
    assert _rows(engine)["records"][0]["last_seq"] == 1
    write_change(engine, first)
    write_change(engine, second)
    stored = load_record_state(engine, capa.id)
    assert stored is not None
    assert (stored.stage, [e.seq for e in stored.events]) == (Stage.ACTION, [1, 2, 3])


def test_a_change_for_a_record_with_no_row_waits_for_its_first_snapshot(engine: Engine) -> None:
    with pytest.raises(ReadModelBehind, match="holds 0 entries"):
        write_change(engine, _change(state(), 1, [event(2, EventKind.CONTAINMENT_SUBMITTED, "olivia")]))
