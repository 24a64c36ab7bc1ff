"""Activities that keep the SQL read model in step with each record's workflow and read its directory.

They are synchronous (the worker runs them in a thread pool) and idempotent: Temporal may run an attempt
twice, and the workflow may publish snapshots whose order the database cannot see, so every write is keyed
by record and timeline sequence and a snapshot older than the stored row is ignored.
"""

import functools
import json
from datetime import UTC, datetime
from typing import Any, NamedTuple

import structlog
from sqlalchemy import Engine, Insert
from sqlalchemy import select as select_columns
from sqlmodel import Session, col, select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import errors
from activities.notifications import Notifier
from core import metrics, procedures, search, stagespans
from core.database import insert_for_dialect, table_of, write_transaction
from models import notices
from models.enums import Role
from models.payloads import (
    Action,
    CapaState,
    Event,
    RecipientsInput,
    RecordChange,
    RecordSnapshot,
)
from models.tables import ActionRow, Nonconformity, TimelineEvent, User

log = structlog.get_logger(__name__)

# How long an activity's write waits for a locked SQLite database before its attempt fails and Temporal retries
# it (a second later). Without a bound a write waits out the busy timeout (10 s) twice, for this process's
# writers and for SQLite, and outlives its attempt's 15 s when the database stays locked (an outage): its thread
# is then lost to the attempts that follow, and a write left waiting can fail just as the database returns,
# so the read model catches up only a retry and a heartbeat timeout later.
WRITE_PATIENCE_S = 4.0


class RecordActivities:
    def __init__(self, engine: Engine, notifier: Notifier | None = None) -> None:
        self._engine = engine
        # Without one (the read-model tests), steps notify nobody; the worker always passes one.
        self._notifier = notifier

    @property
    def engine(self) -> Engine:
        return self._engine

    @activity.defn(name="record_state")
    def record_state(self, snapshot: RecordSnapshot) -> None:
        """Records of the earlier shape: write the record's row, its actions and its new timeline entries; then
        queue the notices of its steps (``notices.for_step``), which such records do not decide themselves."""
        self.write_snapshot(snapshot)
        self.notify_steps(snapshot.state, snapshot.new_events)

    def write_snapshot(self, snapshot: RecordSnapshot) -> None:
        """Write a record's whole state and its new entries (a run's first step, through ``settle_step``)."""
        current = write_snapshot(self._engine, snapshot, WRITE_PATIENCE_S)
        self._written(snapshot.state, current, snapshot.new_events)

    def write_change(self, change: RecordChange) -> CapaState:
        """Write what one step changed (``settle_step``) and return the record as stored. While the change before
        it is not yet stored, this attempt fails and Temporal retries it."""
        state, current = write_change(self._engine, change, WRITE_PATIENCE_S)
        self._written(state, current, change.new_events)
        return state

    def notify_steps(self, state: CapaState, new_events: list[Event]) -> None:
        """Queue the notices of these steps, for records whose step did not decide them (``record_state``, and a
        ``settle_step`` scheduled by an earlier release). After the write: the messages' facts come from the
        row just written. The outbox key makes a retry queue nothing twice."""
        found = [n for e in new_events if (n := notices.for_step(state, e)) is not None]
        if found and self._notifier is not None:
            self._notifier.notify(found)

    def _written(self, state: CapaState, current: bool, new_events: list[Event]) -> None:
        newest = max(new_events, key=lambda e: e.seq, default=None)
        if newest is not None:
            metrics.step_latency(newest.kind.value, newest.at)
        log.info(
            "record state written" if current else "record state skipped: the stored row is newer",
            record_id=state.id,
            workflow_id=activity.info().workflow_id,
            actor=newest.actor if newest else None,
            seq=newest.seq if newest else None,
            new_events=len(new_events),
        )

    @activity.defn(name="escalation_recipients")
    def escalation_recipients(self, inp: RecipientsInput) -> list[str]:
        """Who hears of an escalation at ``inp.level`` (records of the earlier shape ask for them here)."""
        if inp.level < 1:
            raise ApplicationError(
                f"level: escalation levels start at 1, got {inp.level}",
                non_retryable=True,
                type=errors.INVALID_INPUT,
            )
        return escalation_recipients(self._engine, inp.holder, inp.level)


def _last_seq(snapshot: RecordSnapshot) -> int:
    return max((e.seq for e in (*snapshot.state.events, *snapshot.new_events)), default=0)


def write_snapshot(engine: Engine, snapshot: RecordSnapshot, patience: float | None = None) -> bool:
    """Write a record's row, its search row, its actions and its new timeline entries in one transaction.

    Idempotent and order-proof: the row is replaced only by a snapshot that reflects as many entries or more,
    entries are written once. Returns whether the row was written (False: the stored row is newer). The
    client layer calls it with the snapshot a step returned, waiting at most ``patience`` seconds for a locked
    database; the activities wait at most ``WRITE_PATIENCE_S``, then fail for Temporal to retry them.
    """
    state = snapshot.state
    write = _statements(engine.dialect.name)
    with write_transaction(engine, patience) as connection:
        values = _record_values(state, _last_seq(snapshot), datetime.now(UTC))
        current = connection.execute(write.record, values).first() is not None
        if current:
            search.write_document(connection, state)
            stagespans.write_spans(connection, state, snapshot.new_events)
        if current and state.actions:
            connection.execute(write.actions, [_action_values(state.id, a) for a in state.actions])
        if snapshot.new_events:
            connection.execute(write.events, [_event_values(state.id, e) for e in snapshot.new_events])
    return current


class ReadModelBehind(RuntimeError):
    """The stored row does not yet hold the entries a change follows: the change before it is still on its way."""


def write_change(engine: Engine, change: RecordChange, patience: float | None = None) -> tuple[CapaState, bool]:
    """Apply what one step changed to the stored row, in one transaction: the row's changed fields (and its search
    row), the actions the step added or changed and its new timeline entries.

    Idempotent like ``write_snapshot``: a change the row already reflects writes nothing. One that follows
    entries the row does not yet hold raises ReadModelBehind (the worker retries it; the client layer leaves it
    to the worker). Returns the record as stored afterwards and whether this call wrote it.
    """
    write = _statements(engine.dialect.name)
    records = table_of(Nonconformity)
    with write_transaction(engine, patience) as connection:
        stored = connection.execute(
            select_columns(records.c.last_seq, records.c.state_json).where(records.c.id == change.record_id)
        ).first()
        if stored is None or stored.last_seq < change.after:
            held = 0 if stored is None else stored.last_seq
            raise ReadModelBehind(
                f"{change.record_id}: the read model holds {held} entries; the change follows {change.after}"
            )
        if stored.last_seq >= change.last_seq:
            return CapaState.model_validate_json(stored.state_json), False
        state = _applied(json.loads(stored.state_json), change)
        current = connection.execute(write.record, _record_values(state, change.last_seq, datetime.now(UTC))).first()
        if current is not None:
            search.write_document(connection, state)
            stagespans.write_spans(connection, state, change.new_events)
        if current is not None and change.actions:
            connection.execute(write.actions, [_action_values(state.id, a) for a in change.actions])
        connection.execute(write.events, [_event_values(state.id, e) for e in change.new_events])
    return state, current is not None


def _applied(stored: dict[str, Any], change: RecordChange) -> CapaState:
    """The stored state (as JSON) with ``change`` applied: its fields replaced, its actions replaced or added."""
    actions = {a["id"]: a for a in stored.get("actions", [])}
    actions.update((a.id, a.model_dump(mode="json")) for a in change.actions)
    return CapaState.model_validate({**stored, **change.fields, "actions": list(actions.values())})


def escalation_recipients(engine: Engine, holder: str, level: int) -> list[str]:
    """Who hears of an escalation at ``level``: that many steps up the holder's reporting line.

    When the line runs out, meets an unknown user or loops back on itself, every admin is told instead,
    so an escalation is never lost to a gap in the directory. Empty only when there is no admin at all.
    """
    with Session(engine) as session:
        seen = {holder}
        current = holder
        for _ in range(max(level, 1)):
            user = session.get(User, current)
            if user is None or user.manager is None or user.manager in seen:
                return _admins(session, holder, level)
            current = user.manager
            seen.add(current)
    return [current]


class _Statements(NamedTuple):
    record: Insert
    actions: Insert
    events: Insert


@functools.cache
def _statements(dialect: str) -> _Statements:
    """The three upserts of ``record_state``, built and compiled once per dialect instead of at every step.

    The row is replaced only by a snapshot that reflects as many events or more (``RETURNING`` tells whether
    it was); actions are replaced by key; timeline entries are written once and never replaced.
    """
    records = table_of(Nonconformity)
    upsert_record = insert_for_dialect(dialect, records)
    record = upsert_record.on_conflict_do_update(
        index_elements=["id"],
        set_={c.name: upsert_record.excluded[c.name] for c in records.columns if c.name != "id"},
        where=records.c.last_seq <= upsert_record.excluded.last_seq,
    ).returning(records.c.id)
    actions = table_of(ActionRow)
    action_keys = {"record_id", "action_id"}
    upsert_actions = insert_for_dialect(dialect, actions)
    action = upsert_actions.on_conflict_do_update(
        index_elements=sorted(action_keys),
        set_={c.name: upsert_actions.excluded[c.name] for c in actions.columns if c.name not in action_keys},
    )
    events = insert_for_dialect(dialect, table_of(TimelineEvent)).on_conflict_do_nothing(
        index_elements=["record_id", "seq"]
    )
    return _Statements(record=record, actions=action, events=events)


def _admins(session: Session, holder: str, level: int) -> list[str]:
    names = list(
        session.exec(select(col(User.name)).where(col(User.role) == Role.ADMIN.value).order_by(col(User.name)))
    )
    if names:
        log.info("escalation goes to the admins", holder=holder, level=level, admins=names)
    else:
        log.warning("escalation has no recipient: no admin in the directory", holder=holder, level=level)
    return names


def _record_values(state: CapaState, last_seq: int, now: datetime) -> dict[str, Any]:
    return {
        "id": state.id,
        "title": state.title,
        "description": state.description,
        "severity": state.severity.value,
        "source": state.source.value,
        "product": state.product,
        "lot": state.lot,
        "quantity": state.quantity,
        "defect_code": state.defect_code,
        "supplier": state.supplier,
        "customer": state.customer,
        "site": state.site,
        "owner": state.owner,
        "raised_by": state.raised_by,
        "raised_at": state.raised_at,
        "stage": state.stage.value,
        "cycle": state.cycle,
        "due_at": state.due_at,
        "escalation_level": state.escalation_level,
        "holder": state.clock.holder if state.clock else None,
        "original_due_at": state.clock.original_due_at if state.clock else None,
        "effectiveness_due_at": state.effectiveness_due_at,
        "cancel_reason": state.cancel_reason,
        "closed_at": state.closed_at,
        "policy_name": state.policy.name if state.policy else None,
        "policy_digest": state.policy.digest if state.policy else None,
        "last_seq": last_seq,
        "updated_at": now,
        "state_json": state.model_dump_json(exclude={"events"}),
        **stagespans.record_facts(state),
        # Procedure-version pinning.
        **procedures.record_facts(state),
    }


def _action_values(record_id: str, action: Action) -> dict[str, Any]:
    return {
        "record_id": record_id,
        "action_id": action.id,
        "cycle": action.cycle,
        "round": action.round,
        "kind": action.kind.value,
        "owner": action.owner,
        "description": action.description,
        "status": action.status.value,
        "due_at": action.clock.due_at,
        "original_due_at": action.clock.original_due_at,
        "escalation_level": action.clock.escalation_level,
        "evidence": action.evidence,
        "completed_by": action.completed_by,
        "completed_at": action.completed_at,
    }


def _event_values(record_id: str, event: Event) -> dict[str, Any]:
    return {
        "record_id": record_id,
        "seq": event.seq,
        "at": event.at,
        "kind": event.kind.value,
        "actor": event.actor,
        "details": json.dumps(event.facts()),
        "hash": event.hash,
    }
