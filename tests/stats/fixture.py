"""Four records written through the read-model writer, step by step, whose figures are worked out by hand.

All in March 2026 (T0 = Monday 2 March, 09:00 UTC); ``NOW`` is 40 days later.

- NC-2026-0001 (major, inspection, P1; cause method, escaped at final inspection): containment in 12 h (due 1 d:
  on time); root cause from +12 h, due +10 d 12 h, extended to +20 d 12 h, done at +15 d 12 h: 15 days, late
  against its original due; the plan due +20 d 12 h is in at +16 d (on time); action A1 (oscar, due +30 d) open.
- NC-2026-0002 (minor, customer complaint, P2; cause machine, escaped at incoming inspection): containment in 6 h
  (on time); root cause 4 days (on time); action stage from +5 d 6 h without a plan clock: A1 done at +8 d (due
  +10 d), A2 due +9 d extended to +12 d, done at +11 d (late); a first review inconclusive, the second effective:
  closed at +20 d.
- NC-2026-0003 (major, inspection, P1): containment due +3 d, still open (olivia's).
- NC-2026-0004 (minor, customer complaint, P2; cause method, final inspection; a recurrence of NC-2026-0002):
  raised at +3 d in the action stage, its plan due +13 d still to come (oscar's).
"""

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from models.enums import (
    ActionKind,
    ActionStatus,
    CauseCategory,
    EffectivenessResult,
    EventKind,
    LinkKind,
    RootCauseMethod,
    Severity,
    Source,
    Stage,
)
from models.payloads import Action, Clock, Event, Link, Review, RootCause
from tests.builders import T0, publish, state

NOW = T0 + timedelta(days=40)
DAY, HOUR = timedelta(days=1), timedelta(hours=1)


def clock(holder: str, start: datetime, due: datetime, due_now: datetime | None = None, extensions: int = 0) -> Clock:
    return Clock(
        holder=holder,
        due_at=due_now or due,
        original_due_at=due,
        armed_at=start,
        started_at=start,
        extensions=extensions,
    )


def _action(action_id: str, owner: str, due: datetime, **changes: Any) -> Action:
    running = clock(owner, T0, due, changes.pop("due_now", None))
    return Action(
        id=action_id,
        cycle=1,
        round=1,
        kind=ActionKind.CORRECTIVE,
        owner=owner,
        description=f"do {action_id}",
        clock=running,
        **changes,
    )


def cause(category: CauseCategory, escape: str, at: datetime) -> RootCause:
    return RootCause(
        cycle=1,
        method=RootCauseMethod.FIVE_WHYS,
        cause="worn tool",
        whys=[],
        category=category,
        escape_point=escape,
        similar_checked=None,
        by="olivia",
        at=at,
    )


class Record:
    """Publishes one record's states in turn, each with the one entry that led to it."""

    def __init__(self, engine: Engine, record_id: str, raised_at: datetime, **facts: Any) -> None:
        self.engine, self.seq = engine, 0
        self.state = state(record_id).model_copy(update={"raised_at": raised_at, **facts})

    def step(self, at: datetime, **changes: Any) -> None:
        self.seq += 1
        self.state = self.state.model_copy(update=changes)
        entry = Event(seq=self.seq, at=at, kind=EventKind.RAISED, actor="olivia", details={"n": self.seq})
        publish(self.engine, self.state, [entry])


def write_fixture(engine: Engine) -> None:
    first = Record(engine, "NC-2026-0001", T0, product="P1")
    first.step(T0, stage=Stage.CONTAINMENT, clock=clock("olivia", T0, T0 + DAY))
    start = T0 + 12 * HOUR
    first.step(start, stage=Stage.ROOT_CAUSE, clock=clock("olivia", start, start + 10 * DAY))
    first.step(T0 + 2 * DAY, clock=clock("olivia", start, start + 10 * DAY, due_now=start + 20 * DAY, extensions=1))
    done = start + 15 * DAY
    first.step(
        done,
        stage=Stage.ACTION,
        clock=clock("olivia", done, start + 20 * DAY),
        root_causes=[cause(CauseCategory.METHOD, "final inspection", done)],
    )
    first.step(T0 + 16 * DAY, clock=None, actions=[_action("A1", "oscar", T0 + 30 * DAY)])

    second_start = T0 + DAY
    second = Record(engine, "NC-2026-0002", second_start, severity=Severity.MINOR, source=Source.CUSTOMER_COMPLAINT)
    second.state = second.state.model_copy(update={"product": "P2"})
    second.step(second_start, stage=Stage.CONTAINMENT, clock=clock("olivia", second_start, second_start + DAY))
    rc = second_start + 6 * HOUR
    second.step(rc, stage=Stage.ROOT_CAUSE, clock=clock("olivia", rc, rc + 10 * DAY))
    second.step(
        rc + 4 * DAY,
        stage=Stage.ACTION,
        clock=None,
        root_causes=[cause(CauseCategory.MACHINE, "incoming inspection", rc + 4 * DAY)],
        actions=[
            _action("A1", "oscar", T0 + 10 * DAY, status=ActionStatus.COMPLETED, completed_at=T0 + 8 * DAY),
            _action(
                "A2",
                "oscar",
                T0 + 9 * DAY,
                due_now=T0 + 12 * DAY,
                status=ActionStatus.COMPLETED,
                completed_at=T0 + 11 * DAY,
            ),
        ],
    )
    reviews = [
        Review(cycle=1, result=result, evidence="data", by="quinn", at=T0 + days * DAY)
        for result, days in ((EffectivenessResult.INCONCLUSIVE, 18), (EffectivenessResult.EFFECTIVE, 20))
    ]
    second.step(T0 + 20 * DAY, stage=Stage.CLOSED, closed_at=T0 + 20 * DAY, reviews=reviews)

    third = Record(engine, "NC-2026-0003", T0 + 2 * DAY, product="P1")
    third.step(T0 + 2 * DAY, stage=Stage.CONTAINMENT, clock=clock("olivia", T0 + 2 * DAY, T0 + 3 * DAY))

    raised = T0 + 3 * DAY
    fourth = Record(
        engine,
        "NC-2026-0004",
        raised,
        severity=Severity.MINOR,
        source=Source.CUSTOMER_COMPLAINT,
        product="P2",
        root_causes=[cause(CauseCategory.METHOD, "final inspection", raised)],
        links=[Link(kind=LinkKind.RECURRENCE_OF, record_id="NC-2026-0002", by="olivia", at=raised)],
    )
    fourth.step(raised, stage=Stage.ACTION, clock=clock("oscar", raised, T0 + 13 * DAY))


def march_and_april(**filters: Any) -> dict[str, Any]:
    return {
        "since": datetime(2026, 3, 1, tzinfo=UTC).date(),
        "until": datetime(2026, 4, 30, tzinfo=UTC).date(),
    } | filters
