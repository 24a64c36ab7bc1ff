"""The read-model writer keeps each record's stays in its stages, one per stage, cycle and round."""

from sqlalchemy import Engine, select

from core.database import session_scope
from models.enums import Stage
from models.tables import StageSpan
from tests.builders import T0
from tests.stats.fixture import DAY, Record, clock


def _stays(engine: Engine) -> list[tuple[str, int, float | None]]:
    with session_scope(engine) as session:
        rows = session.execute(select(StageSpan).order_by(StageSpan.started_at)).scalars().all()  # type: ignore[arg-type]
        return [(row.stage, row.round, row.seconds) for row in rows]


def test_a_record_sent_back_to_action_in_the_same_round_reopens_its_stay(engine: Engine) -> None:
    """An amended plan sends a record waiting for verification back to action: the action stay reopens (no second
    one, no failed write) and, once verification follows again, lasts from its first start to its last end."""
    record = Record(engine, "NC-2026-0001", T0)
    record.step(T0, stage=Stage.ACTION, clock=clock("olivia", T0, T0 + 5 * DAY))
    record.step(T0 + DAY, stage=Stage.VERIFICATION, clock=clock("maria", T0 + DAY, T0 + 6 * DAY))
    record.step(T0 + 2 * DAY, stage=Stage.ACTION, clock=None)
    record.step(T0 + 4 * DAY, stage=Stage.VERIFICATION, clock=clock("maria", T0 + 4 * DAY, T0 + 9 * DAY))

    assert _stays(engine) == [("action", 1, 4 * DAY.total_seconds()), ("verification", 1, None)]
