"""The effectiveness window that watches: when a nonconformity is raised, every record in its effectiveness window
that it matches (``models.recurrence``) receives the ``recurrence`` step with the new record's id.

Called from ``StepActivities.settle_step`` after the step that raised a record. Idempotent: each record records a
nonconformity once (its rule refuses it again, leaving nothing), and a record refuses it once its window has ended
(the new record's raise time is outside it), so a retried settle, or a carried-over run writing its record whole
again, records nothing twice.
"""

import json

import structlog
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from temporalio.client import Client

from client.errors import CapaError
from client.recurrence import record_recurrence
from models import recurrence
from models.enums import EventKind, Stage
from models.payloads import CapaState, RecurrenceInput, RecurrenceSource, StepEffects
from models.tables import Nonconformity

log = structlog.get_logger(__name__)


def raised_by(effects: StepEffects) -> CapaState | None:
    """The record a step's effects raised: a first publish whose new entries hold the raise."""
    snapshot = effects.snapshot
    if snapshot is None or not any(event.kind is EventKind.RAISED for event in snapshot.new_events):
        return None
    return snapshot.state


def watching(engine: Engine, raised: CapaState) -> list[tuple[str, RecurrenceInput]]:
    """The records whose effectiveness window ``raised`` falls in and matches, each with the step it receives."""
    with Session(engine) as session:
        rows = session.exec(
            select(Nonconformity.state_json).where(
                col(Nonconformity.stage) == Stage.EFFECTIVENESS.value, col(Nonconformity.id) != raised.id
            )
        ).all()
    found = []
    for row in rows:
        state = CapaState.model_validate({**json.loads(row), "events": []})
        if not recurrence.is_recurrence(state, raised.id, raised.raised_at, raised.product, raised.defect_code):
            continue
        criteria = recurrence.matched_criteria(state, raised.product, raised.defect_code)
        own = (state.product, state.defect_code) == (raised.product, raised.defect_code)
        forward = state.policy is not None and state.policy.rules.review_forward_on_recurrence
        inp = RecurrenceInput(
            source=RecurrenceSource.EFFECTIVENESS,
            record_ids=[raised.id],
            bring_review_forward=forward,
            criteria=None if own else criteria,
        )
        found.append((state.id, inp))
    return found


async def watch_raise(temporal: Client, engine: Engine, effects: StepEffects) -> int:
    """Record the raise in ``effects`` (if any) on every record whose window it matches; how many recorded it.
    A record that refuses it (already recorded, or ended meanwhile) is passed over; anything else fails the
    attempt, to be retried."""
    raised = raised_by(effects)
    if raised is None:
        return 0
    recorded = 0
    for record_id, inp in watching(engine, raised):
        try:
            await record_recurrence(temporal, record_id, inp)
        except CapaError as exc:
            log.info(
                "recurrence not recorded",
                record_id=record_id,
                workflow_id=record_id,
                actor="system",
                raised=raised.id,
                reason=exc.message,
            )
            continue
        recorded += 1
    return recorded
