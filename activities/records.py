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
from core import metrics
from core.database import insert_for_dialect, table_of, write_transaction
from models import notices
from models.durations import format_duration
from models.enums import EventKind, Role
from models.payloads import (
    Action,
    CapaState,
    Event,
    ExtensionDecisionEntry,
    ExtensionRequestEntry,
    Notice,
    PlanEntry,
    ReassignEntry,
    RecipientsInput,
    RecordChange,
    RecordSnapshot,
)
from models.tables import ActionRow, Nonconformity, TimelineEvent, User

log = structlog.get_logger(__name__)


class RecordActivities:
    def __init__(self, engine: Engine, notifier: Notifier | None = None) -> None:
        self._engine = engine
        # Without one (the read-model tests), steps notify nobody; the worker always passes one.
        self._notifier = notifier

    @activity.defn(name="record_state")
    def record_state(self, snapshot: RecordSnapshot) -> None:
        """Write the record's row, its actions and its new timeline entries; then queue the step's notices."""
        current = write_snapshot(self._engine, snapshot)
        self._written(snapshot.state, current, snapshot.new_events)

    def record_change(self, change: RecordChange) -> None:
        """``record_state`` for what one step changed (``settle_step``). While the change before it is not yet
        stored, this attempt fails and Temporal retries it."""
        state, current = write_change(self._engine, change)
        self._written(state, current, change.new_events)

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
        if self._notifier is not None and new_events:
            # After the commit: the messages' facts come from the row just written. The outbox key makes a
            # retry of this activity queue nothing twice.
            with Session(self._engine) as session:
                notices = [n for e in new_events if (n := _step_notice(session, state, e)) is not None]
            if notices:
                self._notifier.notify(notices)

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
    """Write a record's row, its actions and its new timeline entries in one transaction.

    Idempotent and order-proof: the row is replaced only by a snapshot that reflects as many entries or more,
    entries are written once. Returns whether the row was written (False: the stored row is newer). The
    client layer calls it with the snapshot a step returned, waiting at most ``patience`` seconds for a locked
    database; ``record_state`` calls it with the same snapshot and waits as long as any writer.
    """
    state = snapshot.state
    write = _statements(engine.dialect.name)
    with write_transaction(engine, patience) as connection:
        values = _record_values(state, _last_seq(snapshot), datetime.now(UTC))
        current = connection.execute(write.record, values).first() is not None
        if current and state.actions:
            connection.execute(write.actions, [_action_values(state.id, a) for a in state.actions])
        if snapshot.new_events:
            connection.execute(write.events, [_event_values(state.id, e) for e in snapshot.new_events])
    return current


class ReadModelBehind(RuntimeError):
    """The stored row does not yet hold the entries a change follows: the change before it is still on its way."""


def write_change(engine: Engine, change: RecordChange, patience: float | None = None) -> tuple[CapaState, bool]:
    """Apply what one step changed to the stored row, in one transaction: the row's changed fields, the actions
    the step added or changed and its new timeline entries.

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


def _step_notice(session: Session, state: CapaState, event: Event) -> Notice | None:
    """Who must hear of a step at once: the new holder of work, or the one who must decide or was decided for.

    Reminders, escalations and the effectiveness review come from the workflow's timers (``send_notice``).
    Nobody is told of their own step.
    """
    d = event.details
    if event.kind is EventKind.RAISED:
        recipients = [state.owner]
        what = f"you own a new {state.severity.value} nonconformity raised by {event.actor}: {state.title}"
        if state.clock is not None:
            what += f"; containment due {_at(state.clock.due_at)}"
    elif event.kind is EventKind.PLAN_SUBMITTED:
        planned = _planned(event)
        recipients = [owner for _, owner, _ in planned]
        for_whom = ", ".join(f"{action_id} ({owner}, due {_at(due)})" for action_id, owner, due in planned)
        what = f"action plan submitted by {event.actor}: {for_whom}"
    elif isinstance(d, ReassignEntry):
        recipients = [d.new_owner]
        target = "the record" if d.target == "record" else f"action {d.target}"
        what = f"{target} reassigned to you from {d.previous} by {event.actor}: {d.reason}"
    elif isinstance(d, ExtensionRequestEntry):
        requester = session.get(User, event.actor)
        recipients = [requester.manager] if requester is not None and requester.manager else []
        what = (
            f"{event.actor} asks to extend {d.target} from {_at(d.current_due_at)} to {_at(d.until)}"
            f" ({format_duration(d.until - d.current_due_at)} more): {d.reason}"
        )
    elif isinstance(d, ExtensionDecisionEntry):
        recipients = [d.requested_by]
        verdict = "approved" if d.approve else "rejected"
        what = f"your extension of {d.target} was {verdict} by {event.actor}"
        if d.due_at is not None:
            what += f"; due {_at(d.due_at)}"
    else:
        return None
    recipients = [r for r in dict.fromkeys(recipients) if r != event.actor]
    if not recipients:
        return None
    return notices.notice(state, event, recipients, what)


def _planned(event: Event) -> list[tuple[str, str, datetime]]:
    """Each planned action's id, owner and due time, from a plan entry of either shape."""
    if isinstance(event.details, PlanEntry):
        return [(i, a.owner, a.due_at) for i, a in zip(event.details.action_ids, event.details.actions, strict=True)]
    # Written before entries were typed: each action with its id, owner and due time as text.
    return [(a["id"], a["owner"], datetime.fromisoformat(a["due_at"])) for a in event.facts().get("actions", [])]


def _at(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


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
        "owner": state.owner,
        "raised_by": state.raised_by,
        "raised_at": state.raised_at,
        "stage": state.stage.value,
        "cycle": state.cycle,
        "due_at": state.due_at,
        "escalation_level": state.escalation_level,
        "holder": state.clock.holder if state.clock else None,
        "effectiveness_due_at": state.effectiveness_due_at,
        "cancel_reason": state.cancel_reason,
        "closed_at": state.closed_at,
        "policy_name": state.policy.name if state.policy else None,
        "policy_digest": state.policy.digest if state.policy else None,
        "last_seq": last_seq,
        "updated_at": now,
        "state_json": state.model_dump_json(exclude={"events"}),
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
    }
