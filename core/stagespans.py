"""What the management-review figures need beyond a record's row: its stays in each stage, and a few facts of it.

The read-model writer calls ``write_spans`` in the transaction that writes the record's row: the stay in the
record's current stage (per cycle and round) is opened or updated from its stage clock, and any other stay still
open is ended at the time of the step. A stay's clock stopping (the plan is in, an inconclusive review) or the
stay ending marks when its step was taken and whether that was by the clock's original due. ``record_facts``
gives the row's cause category, escape point, recurrence and first conclusive review.

Migration 0011 fills both for the records already there (``backfill``): the facts from the stored state, the past
stays from the timeline entries, whose steps name what they ended.
"""

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_
from sqlalchemy import select as select_columns

from core.database import table_of
from models.enums import EffectivenessResult, EventKind, LinkKind, Stage, VerificationResult
from models.payloads import CapaState, Event
from models.tables import Nonconformity, StageSpan, TimelineEvent

_spans = table_of(StageSpan)


def record_facts(state: CapaState) -> dict[str, Any]:
    """The row's figures of ``state``: the latest root cause's category and escape point, the record it recurs
    (a ``recurrence-of`` link), and its first conclusive effectiveness review (an inconclusive one extends the
    window and decides nothing)."""
    cause = state.root_causes[-1] if state.root_causes else None
    recurs = next((link.record_id for link in state.links if link.kind is LinkKind.RECURRENCE_OF), None)
    review = next((r for r in state.reviews if r.result is not EffectivenessResult.INCONCLUSIVE), None)
    return {
        "cause_category": cause.category.value if cause and cause.category else None,
        "escape_point": cause.escape_point if cause else None,
        "recurrence_of": recurs,
        "first_review_at": review.at if review else None,
        "first_review_effective": review.result is EffectivenessResult.EFFECTIVE if review else None,
    }


def _on_time(done_at: datetime, original_due_at: datetime | None) -> bool | None:
    return None if original_due_at is None else done_at <= original_due_at


def write_spans(connection: Connection, state: CapaState, new_events: Sequence[Event]) -> None:
    """Bring the record's stays up to date with ``state`` after ``new_events``, in the caller's transaction."""
    if not new_events:
        return
    at = max(e.at for e in new_events)
    key = (state.cycle, state.round, state.stage.value) if state.stage.is_open else None
    open_rows = connection.execute(
        select_columns(_spans).where(_spans.c.record_id == state.id, _spans.c.ended_at.is_(None))
    ).all()
    current = None
    for row in open_rows:
        if (row.cycle, row.round, row.stage) == key:
            current = row
            continue
        ended: dict[str, Any] = {"ended_at": at, "seconds": (at - row.started_at).total_seconds()}
        if row.done_at is None and row.original_due_at is not None:
            ended |= {"done_at": at, "on_time": _on_time(at, row.original_due_at)}
        connection.execute(_spans.update().where(_span_key(state.id, row.cycle, row.round, row.stage)).values(ended))
    if key is None:
        return
    clock = state.clock
    values: dict[str, Any] = {}
    if clock is not None:
        values = {"original_due_at": clock.original_due_at, "due_at": clock.due_at, "extensions": clock.extensions}
        if current is not None and current.original_due_at != clock.original_due_at:
            # A new clock in the same stay (the review's, after an inconclusive one): its step is still to come.
            values |= {"done_at": None, "on_time": None}
    elif current is not None and current.original_due_at is not None and current.done_at is None:
        values = {"done_at": at, "on_time": _on_time(at, current.original_due_at)}
    if current is None and _reopened(connection, state.id, key, values):
        return
    if current is None:
        started = (clock.started_at or clock.armed_at) if clock is not None else at
        connection.execute(
            _spans.insert().values(
                record_id=state.id,
                cycle=state.cycle,
                round=state.round,
                stage=state.stage.value,
                started_at=started,
                **({"extensions": 0} | values),
            )
        )
    elif values:
        connection.execute(_spans.update().where(_span_key(state.id, *key)).values(values))


def _reopened(connection: Connection, record_id: str, key: tuple[int, int, str], values: dict[str, Any]) -> bool:
    """Reopen the stay of ``key`` if the record was in it before (an amended plan sends a record waiting for
    verification back to action in the same round): it lasts from its first start to its last end."""
    reopened = connection.execute(
        _spans.update()
        .where(_span_key(record_id, *key))
        .values({"ended_at": None, "seconds": None} | values)
        .returning(_spans.c.record_id)
    ).first()
    return reopened is not None


def _span_key(record_id: str, cycle: int, round_: int, stage: str) -> Any:
    return and_(
        _spans.c.record_id == record_id,
        _spans.c.cycle == cycle,
        _spans.c.round == round_,
        _spans.c.stage == stage,
    )


# --- the records there before migration 0011 -------------------------------------------------------------------


class _Stays:
    """The stays of one record as its timeline entries are read, oldest first."""

    def __init__(self) -> None:
        self.spans: list[dict[str, Any]] = []
        self.open: dict[str, Any] | None = None
        self.cycle, self.round = 1, 1
        self.last_completion: datetime | None = None

    def start(self, stage: Stage, at: datetime, cycle: int | None = None, round_: int | None = None) -> None:
        key = (cycle or self.cycle, round_ or self.round, stage.value)
        earlier = next((s for s in self.spans if (s["cycle"], s["round"], s["stage"]) == key), None)
        if earlier is not None:
            # Back in a stage of the same cycle and round: the stay reopens, as the writer reopens it.
            for column in ("ended_at", "seconds"):
                earlier.pop(column, None)
            self.open = earlier
            return
        self.open = {"cycle": key[0], "round": key[1], "stage": key[2], "started_at": at, "extensions": 0}
        self.spans.append(self.open)

    def end(self, at: datetime, details: dict[str, Any] | None = None) -> None:
        if self.open is None:
            return
        self.open |= {"ended_at": at, "seconds": (at - self.open["started_at"]).total_seconds()}
        on_time = (details or {}).get("on_time")
        if isinstance(on_time, bool):
            self.open |= {"done_at": at, "on_time": on_time}
        self.open = None

    def read(self, event: Event) -> None:
        details, kind, at = event.facts(), event.kind, event.at
        if kind is EventKind.RAISED:
            self.start(Stage.CONTAINMENT, at)
        elif kind in _NEXT_STAGE:
            self.end(at, details)
            self.start(_NEXT_STAGE[kind], at)
        elif kind is EventKind.ACTION_COMPLETED:
            self.last_completion = at
        elif kind is EventKind.VERIFIED:
            self.verified(at, details)
        elif kind is EventKind.EFFECTIVENESS_REVIEWED:
            self.reviewed(at, details)
        elif kind in (EventKind.CLOSED, EventKind.CANCELLED):
            if self.open is not None and self.open["started_at"] == at and self.spans[-1] is self.open:
                self.spans.pop()  # a stay the closing step began and ended at once (correction only)
                self.open = None
            self.end(at)
        elif kind is EventKind.EXTENSION_DECIDED and self.open is not None and details.get("action_id") is None:
            self.open["extensions"] += 1 if details.get("approve") else 0

    def verified(self, at: datetime, details: dict[str, Any]) -> None:
        if self.open is not None and self.open["stage"] == Stage.ACTION.value:
            done = self.last_completion
            moved = done if done is not None and done >= self.open["started_at"] else at
            self.end(moved)
            self.start(Stage.VERIFICATION, moved)
        self.end(at, details)
        if details.get("result") == VerificationResult.PASS.value:
            self.start(Stage.EFFECTIVENESS, at)
        else:
            self.round += 1
            self.start(Stage.ACTION, at)

    def reviewed(self, at: datetime, details: dict[str, Any]) -> None:
        result = details.get("result")
        if result == EffectivenessResult.NOT_EFFECTIVE.value:
            self.end(at, details)
            self.cycle, self.round = self.cycle + 1, 1
            self.start(Stage.ROOT_CAUSE, at)
        elif result == EffectivenessResult.EFFECTIVE.value:
            self.end(at, details)


# The stage steps that end one stay and begin the next.
_NEXT_STAGE = {EventKind.CONTAINMENT_SUBMITTED: Stage.ROOT_CAUSE, EventKind.ROOT_CAUSE_SUBMITTED: Stage.ACTION}


def spans_from_timeline(state: CapaState, events: Sequence[Event]) -> list[dict[str, Any]]:
    """The stays of a record as its timeline tells them: each stage step ends a stay and starts the next, taking
    the entry's own ``on_time`` where it has one; the stay still open takes its clock from ``state``.

    The action stage ends with the last action completed before the verification; an approved extension of the
    stage (no action named) counts for the stay it was granted in.
    """
    stays = _Stays()
    ordered = sorted(events, key=lambda e: e.seq)
    for event in ordered:
        stays.read(event)
    if state.stage.is_open and ordered:
        # The stored state has the last word on where the record is now.
        now_in = (state.cycle, state.round, state.stage.value)
        if stays.open is None or (stays.open["cycle"], stays.open["round"], stays.open["stage"]) != now_in:
            stays.end(ordered[-1].at)
            stays.start(state.stage, ordered[-1].at, state.cycle, state.round)
        assert stays.open is not None
        if state.clock is not None:
            stays.open |= {
                "original_due_at": state.clock.original_due_at,
                "due_at": state.clock.due_at,
                "extensions": state.clock.extensions,
            }
    return stays.spans


def backfill(connection: Connection) -> int:
    """Fill the facts and stays of every record from its stored state and timeline; how many records it read."""
    records = table_of(Nonconformity)
    rows = connection.execute(select_columns(records.c.id, records.c.state_json)).all()
    events_table = table_of(TimelineEvent)
    connection.execute(_spans.delete())
    for record_id, state_json in rows:
        found = connection.execute(
            select_columns(events_table).where(events_table.c.record_id == record_id).order_by(events_table.c.seq)
        ).all()
        events = [
            Event(seq=e.seq, at=e.at, kind=EventKind(e.kind), actor=e.actor, details=json.loads(e.details))
            for e in found
        ]
        state = CapaState.model_validate({**json.loads(state_json), "events": []})
        connection.execute(records.update().where(records.c.id == record_id).values(record_facts(state)))
        spans = spans_from_timeline(state, events)
        if spans:
            connection.execute(_spans.insert(), [{"record_id": record_id, **_full(span)} for span in spans])
    return len(rows)


def _full(span: dict[str, Any]) -> dict[str, Any]:
    """Every column of a stay (one executemany needs the same keys in each row)."""
    empty = {
        "ended_at": None,
        "seconds": None,
        "original_due_at": None,
        "due_at": None,
        "done_at": None,
        "on_time": None,
    }
    return empty | span
