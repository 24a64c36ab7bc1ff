"""The effectiveness window that watches: which new nonconformity is a recurrence of a record in its window, and
what the window's data shows at the review, beside each effectiveness criterion.

Pure functions of the record's state. A record's window runs from its passed verification to its
``effectiveness_due_at`` (brought forward to the moment of a recurrence when its policy says
``review_forward_on_recurrence``). A nonconformity raised in it matches when it names the record's product and
defect code (it bears on every criterion), or a product or part one of its criteria watches (it bears on those).
"""

from datetime import datetime

from pydantic import BaseModel, Field, computed_field

from models.enums import EventKind, Stage, VerificationResult
from models.payloads import CapaState, RecurrenceEntry, RecurrenceSource

# What a record without criteria, or a recurrence of its own product and defect code, is shown against.
OWN_KEY = "same product and defect code"


def window_start(state: CapaState) -> datetime | None:
    """When the current effectiveness window began: the latest passed verification (None: none has passed)."""
    passed = [v.at for v in state.verifications if v.result is VerificationResult.PASS]
    return max(passed) if passed else None


def in_window(state: CapaState, at: datetime) -> bool:
    """Whether ``at`` falls in the record's effectiveness window, while the record is in it."""
    start, end = window_start(state), state.effectiveness_due_at
    return state.stage is Stage.EFFECTIVENESS and start is not None and end is not None and start <= at <= end


def matched_criteria(state: CapaState, product: str | None, defect_code: str | None) -> list[int] | None:
    """The criteria (numbers from 1) a new nonconformity on ``product`` with ``defect_code`` bears on: None when it
    does not match the record; every criterion (or none, for a record without criteria) when it has the record's
    product and defect code; else the criteria that watch its product."""
    numbers = list(range(1, len(state.criteria) + 1))
    if product is not None and defect_code is not None and (state.product, state.defect_code) == (product, defect_code):
        return numbers
    if product is None:
        return None
    watching = [
        n for n, criterion in zip(numbers, state.criteria, strict=True) if product in (criterion.products or [])
    ]
    return watching or None


def is_recurrence(
    state: CapaState, record_id: str, raised_at: datetime, product: str | None, defect: str | None
) -> bool:
    """Whether a nonconformity raised at ``raised_at`` is a recurrence the record's window records."""
    if record_id == state.id or not in_window(state, raised_at):
        return False
    return matched_criteria(state, product, defect) is not None


class Seen(BaseModel):
    """One matching nonconformity the window recorded: its id and when it was recorded (at its raise)."""

    record_id: str
    at: datetime


class CriterionWindow(BaseModel):
    """One effectiveness criterion (``number`` None: the record's own product and defect code, for a record with no
    criteria) and the matching nonconformities raised in its window."""

    number: int | None
    measure: str
    seen: list[Seen] = Field(default_factory=list)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def count(self) -> int:
        return len(self.seen)

    def said(self) -> str:
        """``2 matching nonconformities raised in the window: NC-2026-0012 (2026-03-02), NC-2026-0015 (...)``."""
        if not self.seen:
            return "no matching nonconformity raised in the window"
        noun = "nonconformity" if self.count == 1 else "nonconformities"
        listed = ", ".join(f"{s.record_id} ({s.at:%Y-%m-%d})" for s in self.seen)
        return f"{self.count} matching {noun} raised in the window: {listed}"


def window_data(state: CapaState) -> list[CriterionWindow]:
    """Beside each criterion of the current cycle, the matching nonconformities its window recorded (a record with
    no criteria: one line, for its own product and defect code). Empty before the window begins."""
    start = window_start(state)
    if start is None or state.stage not in (Stage.EFFECTIVENESS, Stage.CLOSED):
        return []
    recorded = [
        (event.at, event.details)
        for event in state.events
        if event.kind is EventKind.RECURRENCE_DETECTED
        and isinstance(event.details, RecurrenceEntry)
        and event.details.source is RecurrenceSource.EFFECTIVENESS
        and event.at >= start
    ]
    if not state.criteria:
        seen = [Seen(record_id=record_id, at=at) for at, entry in recorded for record_id in entry.record_ids]
        return [CriterionWindow(number=None, measure=OWN_KEY, seen=seen)]
    rows = []
    for number, criterion in enumerate(state.criteria, start=1):
        seen = [
            Seen(record_id=record_id, at=at)
            for at, entry in recorded
            if entry.criteria is None or number in entry.criteria
            for record_id in entry.record_ids
        ]
        rows.append(CriterionWindow(number=number, measure=criterion.measure, seen=seen))
    return rows


class EffectivenessWindow(BaseModel):
    """A record's effectiveness window (None: not begun) and, beside each criterion, the matching nonconformities
    raised in it."""

    record_id: str
    start: datetime | None
    end: datetime | None
    criteria: list[CriterionWindow]


def effectiveness_window(state: CapaState) -> EffectivenessWindow:
    rows = window_data(state)
    start = window_start(state) if rows else None
    return EffectivenessWindow(
        record_id=state.id, start=start, end=state.effectiveness_due_at if rows else None, criteria=rows
    )
