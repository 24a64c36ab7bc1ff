"""The figures for management review (ISO 9001 9.3.2, 21 CFR 820.100(a)(1)), each computed in SQL.

Every figure is counted by aggregate queries over the read model (``nonconformities``, ``stage_spans``,
``actions``), never by a loop over records, for a period and the filters of ``StatsFilter``; Python only arranges
the few rows each returns (a Pareto's cumulative share, a percentile between its two nearest stays). The queries
read the covering indexes of migration 0011. What counts where:

- opened/closed per month: records raised / closed in the month (UTC);
- cycle time per stage: the stays in each stage that ended in the period, median and 90th percentile (linear
  between the two nearest, as PostgreSQL's ``percentile_cont``), in days;
- on time: the stage steps and actions done in the period, by their *original* due (an extension moves the due,
  not the judgement);
- extension rate, Pareto charts, recurrence rate: the records raised in the period;
- first-time-effective rate: the records whose first conclusive effectiveness review fell in the period;
- overdue ageing and open work per person: now, over the open records (the filters apply, the period does not).

A Pareto lists the most frequent first, ties in alphabetical order; records without the value (no cause category
recorded yet, no product) are left out of it.
"""

from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, Engine, Select, and_, case, exists, func, literal, or_, union_all
from sqlalchemy import select as select_columns

from core.database import session_scope, table_of
from models.enums import ActionStatus, Severity, Source, Stage
from models.refusals import FieldProblem
from models.tables import ActionRow, Nonconformity, StageSpan

_records = table_of(Nonconformity)
_spans = table_of(StageSpan)
_actions = table_of(ActionRow)

_OPEN_STAGES = [stage.value for stage in Stage if stage.is_open]
_STAGE_ORDER = [Stage.CONTAINMENT, Stage.ROOT_CAUSE, Stage.ACTION, Stage.VERIFICATION, Stage.EFFECTIVENESS]
_DAY_S = 86_400.0

# The first and last days a period may name (a date an arithmetic step past the calendar's end would break).
EARLIEST, LATEST = date(1970, 1, 1), date(9998, 12, 31)
# The longest period one report covers (ten years): the months of the chart stay readable.
MOST_DAYS = 3660
# Overdue ageing: label and the most days past the original due it holds (None: no bound).
AGEING_BUCKETS: tuple[tuple[str, int | None], ...] = (
    ("up to 7 d", 7),
    ("8-30 d", 30),
    ("31-90 d", 90),
    ("over 90 d", None),
)
# The Pareto charts: figure name, the column counted, how a table heads it.
PARETO_COLUMNS = {
    "cause": ("cause_category", "Cause category"),
    "source": ("source", "Source"),
    "product": ("product", "Product"),
    "escape": ("escape_point", "Escape point"),
}


class StatsFilter(BaseModel):
    """The period (``since`` to ``until``, both dates included, UTC) and the filters of every figure."""

    since: date = Field(ge=EARLIEST, le=LATEST)
    until: date = Field(ge=EARLIEST, le=LATEST)
    severity: Severity | None = None
    source: Source | None = None
    # One line of printable text, as a product is raised with.
    product: str | None = Field(default=None, max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$")

    def problem(self) -> FieldProblem | None:
        """What is wrong with the period, naming the field: it must not end before it starts, nor be too long."""
        if self.until < self.since:
            return FieldProblem("until", f"{self.until} is before the start of the period, {self.since}")
        if (self.until - self.since).days > MOST_DAYS:
            return FieldProblem("since", f"a period of at most {MOST_DAYS // 366} years")
        return None

    @property
    def start(self) -> datetime:
        return datetime.combine(self.since, time(), UTC)

    @property
    def end(self) -> datetime:
        """The first moment after the period."""
        return datetime.combine(self.until + timedelta(days=1), time(), UTC)

    def months(self) -> list[str]:
        """Every month the period touches, as ``YYYY-MM``."""
        found, year, month = [], self.since.year, self.since.month
        while (year, month) <= (self.until.year, self.until.month):
            found.append(f"{year:04d}-{month:02d}")
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return found


class MonthCount(BaseModel):
    month: str
    opened: int
    closed: int


class CycleTime(BaseModel):
    """The stays in ``stage`` that ended in the period: how many, median and 90th percentile in days."""

    stage: Stage
    count: int
    median_days: float
    p90_days: float


class Rate(BaseModel):
    """``count`` of ``of``, and the share (None when ``of`` is 0)."""

    of: int
    count: int

    @property
    def rate(self) -> float | None:
        return None if self.of == 0 else self.count / self.of


class OnTime(BaseModel):
    """Steps done by their original due: stage steps, actions, and both."""

    steps: Rate
    actions: Rate

    @property
    def all(self) -> Rate:
        return Rate(of=self.steps.of + self.actions.of, count=self.steps.count + self.actions.count)


class Bucket(BaseModel):
    label: str
    count: int


class ParetoRow(BaseModel):
    value: str
    count: int
    cumulative_share: float


class PersonWork(BaseModel):
    """What one person holds now: stage steps of open records, open actions."""

    person: str
    steps: int
    actions: int

    @property
    def total(self) -> int:
        return self.steps + self.actions


class Stats(BaseModel):
    """Every figure of ``filter`` as of ``at``."""

    filter: StatsFilter
    at: datetime
    per_month: list[MonthCount] = Field(default_factory=list)
    cycle_times: list[CycleTime] = Field(default_factory=list)
    on_time: OnTime = Field(default_factory=lambda: OnTime(steps=Rate(of=0, count=0), actions=Rate(of=0, count=0)))
    extensions: Rate = Field(default_factory=lambda: Rate(of=0, count=0))
    ageing: list[Bucket] = Field(default_factory=list)
    pareto: dict[str, list[ParetoRow]] = Field(default_factory=dict)
    recurrence: Rate = Field(default_factory=lambda: Rate(of=0, count=0))
    first_time_effective: Rate = Field(default_factory=lambda: Rate(of=0, count=0))
    open_work: list[PersonWork] = Field(default_factory=list)


def _month_of(dialect: str) -> Callable[[Any], Any]:
    """How the dialect names a timestamp's month, ``YYYY-MM`` in UTC."""
    if dialect == "postgresql":
        return lambda column: func.to_char(func.timezone("UTC", column), "YYYY-MM")
    # SQLite keeps UTC timestamps as text, ``YYYY-MM-DD HH:MM:SS.ffffff``.
    return lambda column: func.substr(column, 1, 7)


def _filtered(flt: StatsFilter) -> list[ColumnElement[bool]]:
    """The filters on the record's row."""
    found: list[ColumnElement[bool]] = []
    if flt.severity is not None:
        found.append(_records.c.severity == flt.severity.value)
    if flt.source is not None:
        found.append(_records.c.source == flt.source.value)
    if flt.product:
        found.append(_records.c.product == flt.product)
    return found


def _in_period(column: Any, flt: StatsFilter) -> ColumnElement[bool]:
    return and_(column >= flt.start, column < flt.end)


# The parts of ``Stats`` ``compute`` can be asked for alone (a chart needs one).
PARTS = (
    "per_month",
    "cycle_times",
    "on_time",
    "extensions",
    "ageing",
    "pareto",
    "recurrence",
    "first_time_effective",
    "open_work",
)


def compute(engine: Engine, flt: StatsFilter, now: datetime | None = None, only: Iterable[str] = PARTS) -> Stats:
    """Every figure for ``flt`` (``now``: the moment ageing and open work are judged at; default the clock's);
    ``only``: the parts to compute, the others left empty."""
    now = now or datetime.now(UTC)
    month = _month_of(engine.dialect.name)
    where = _filtered(flt)
    wanted = set(only)
    raised = [*where, _in_period(_records.c.raised_at, flt)]
    reviewed = [*where, _in_period(_records.c.first_review_at, flt)]
    with session_scope(engine) as session:
        connection = session.connection()

        def rows(statement: Select[Any]) -> list[Any]:
            return list(connection.execute(statement).all())

        figures: dict[str, Callable[[], Any]] = {
            "per_month": lambda: _per_month(rows, flt, where, month),
            "cycle_times": lambda: _cycle_times(rows, flt, where),
            "on_time": lambda: _on_time(rows, flt, where),
            "extensions": lambda: _extensions(rows, flt, where),
            "ageing": lambda: _ageing(rows, where, now),
            "pareto": lambda: {name: _pareto(rows, flt, where, col) for name, (col, _) in PARETO_COLUMNS.items()},
            "recurrence": lambda: _rate(rows, raised, _records.c.recurrence_of.is_not(None)),
            "first_time_effective": lambda: _rate(rows, reviewed, _records.c.first_review_effective.is_(True)),
            "open_work": lambda: _open_work(rows, where),
        }
        computed = {part: figures[part]() for part in PARTS if part in wanted}
    return Stats(filter=flt, at=now, **computed)


def _per_month(rows: Any, flt: StatsFilter, where: list[ColumnElement[bool]], month: Any) -> list[MonthCount]:
    opened_month = month(_records.c.raised_at).label("month")
    opened = (
        select_columns(opened_month, func.count().label("n"))
        .where(*where, _in_period(_records.c.raised_at, flt))
        .group_by(opened_month)
    )
    closed_month = month(_records.c.closed_at).label("month")
    # Counted, not filtered, by stage: the period's index then serves the query (a cancelled record has a
    # closing time too).
    closed = (
        select_columns(closed_month, _count_where(_records.c.stage == Stage.CLOSED.value).label("n"))
        .where(*where, _in_period(_records.c.closed_at, flt))
        .group_by(closed_month)
    )
    opened_by = {row.month: row.n for row in rows(opened)}
    closed_by = {row.month: row.n for row in rows(closed)}
    return [MonthCount(month=m, opened=opened_by.get(m, 0), closed=closed_by.get(m, 0)) for m in flt.months()]


def _percentile(nearest: list[float], fraction: float) -> float:
    """The value ``fraction`` of the way from the nearest rank below to the one above (the last when none is)."""
    low = nearest[0]
    high = nearest[1] if len(nearest) > 1 else low
    return low + fraction * (high - low)


def _joined(statement: Select[Any], table: Any, where: list[ColumnElement[bool]]) -> Select[Any]:
    """``statement`` over ``table`` narrowed by the record filters: joined to the records only when there are
    any, so an unfiltered figure reads its own covering index alone."""
    if not where:
        return statement
    return statement.join(_records, _records.c.id == table.c.record_id).where(*where)


def _cycle_times(rows: Any, flt: StatsFilter, where: list[ColumnElement[bool]]) -> list[CycleTime]:
    """Per stage: how many stays ended in the period, then the two stays nearest each percentile's rank, read in
    order of length from the covering index (``LIMIT 2 OFFSET rank``) rather than ranking every stay."""
    seconds = _spans.c.seconds
    ended = [seconds.is_not(None), _in_period(_spans.c.ended_at, flt)]
    counts = _joined(
        select_columns(_spans.c.stage, func.count().label("n")).where(*ended).group_by(_spans.c.stage), _spans, where
    )
    found = {row.stage: row.n for row in rows(counts)}
    figures = []
    for stage in _STAGE_ORDER:
        n = found.get(stage.value, 0)
        if n == 0:
            continue
        values = []
        for numerator, denominator in ((1, 2), (9, 10)):
            position = (n - 1) * numerator
            nearest = (
                _joined(select_columns(seconds).where(_spans.c.stage == stage.value, *ended), _spans, where)
                .order_by(seconds)
                .limit(2)
                .offset(position // denominator)
            )
            values.append(_percentile([row.seconds for row in rows(nearest)], position % denominator / denominator))
        figures.append(
            CycleTime(
                stage=stage,
                count=n,
                median_days=round(values[0] / _DAY_S, 2),
                p90_days=round(values[1] / _DAY_S, 2),
            )
        )
    return figures


def _count_where(condition: ColumnElement[bool]) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _on_time(rows: Any, flt: StatsFilter, where: list[ColumnElement[bool]]) -> OnTime:
    steps = _joined(
        select_columns(func.count().label("of"), _count_where(_spans.c.on_time.is_(True)).label("n")).where(
            _spans.c.on_time.is_not(None), _in_period(_spans.c.done_at, flt)
        ),
        _spans,
        where,
    )
    actions = _joined(
        select_columns(
            func.count().label("of"),
            _count_where(_actions.c.completed_at <= _actions.c.original_due_at).label("n"),
        ).where(_in_period(_actions.c.completed_at, flt), _actions.c.status == ActionStatus.COMPLETED.value),
        _actions,
        where,
    )
    (step_row,), (action_row,) = rows(steps), rows(actions)
    return OnTime(steps=Rate(of=step_row.of, count=step_row.n), actions=Rate(of=action_row.of, count=action_row.n))


def _rate(rows: Any, where: list[ColumnElement[bool]], condition: ColumnElement[bool]) -> Rate:
    (row,) = rows(select_columns(func.count().label("of"), _count_where(condition).label("n")).where(*where))
    return Rate(of=row.of, count=row.n)


def _extensions(rows: Any, flt: StatsFilter, where: list[ColumnElement[bool]]) -> Rate:
    """Records raised in the period that had a due extended: a stage's or an action's."""
    extended = or_(
        exists().where(_spans.c.record_id == _records.c.id, _spans.c.extensions > 0),
        exists().where(_actions.c.record_id == _records.c.id, _actions.c.due_at != _actions.c.original_due_at),
    )
    return _rate(rows, [*where, _in_period(_records.c.raised_at, flt)], extended)


def _ageing(rows: Any, where: list[ColumnElement[bool]], now: datetime) -> list[Bucket]:
    """Deadlines running now past their original due (stage steps and open actions), by how long past."""
    open_record = _records.c.stage.in_(_OPEN_STAGES)
    steps = select_columns(_records.c.original_due_at.label("due")).where(
        *where, open_record, _records.c.holder.is_not(None), _records.c.original_due_at < now
    )
    actions = (
        select_columns(_actions.c.original_due_at.label("due"))
        .join(_records, _records.c.id == _actions.c.record_id)
        .where(*where, open_record, _actions.c.status == ActionStatus.OPEN.value, _actions.c.original_due_at < now)
    )
    late = union_all(steps, actions).subquery()
    bucket = case(
        *((late.c.due >= now - timedelta(days=days), label) for label, days in AGEING_BUCKETS if days is not None),
        else_=AGEING_BUCKETS[-1][0],
    ).label("bucket")
    found = {row.bucket: row.n for row in rows(select_columns(bucket, func.count().label("n")).group_by(bucket))}
    return [Bucket(label=label, count=found.get(label, 0)) for label, _ in AGEING_BUCKETS]


def _pareto(rows: Any, flt: StatsFilter, where: list[ColumnElement[bool]], column_name: str) -> list[ParetoRow]:
    column = _records.c[column_name]
    count = func.count().label("n")
    statement = (
        select_columns(column.label("value"), count)
        .where(*where, _in_period(_records.c.raised_at, flt), column.is_not(None), column != "")
        .group_by(column)
        .order_by(count.desc(), column)
    )
    found = rows(statement)
    total, running, pareto = sum(row.n for row in found), 0, []
    for row in found:
        running += row.n
        pareto.append(ParetoRow(value=row.value, count=row.n, cumulative_share=running / total))
    return pareto


def _open_work(rows: Any, where: list[ColumnElement[bool]]) -> list[PersonWork]:
    open_record = _records.c.stage.in_(_OPEN_STAGES)
    steps = select_columns(
        _records.c.holder.label("person"), literal(1).label("step"), literal(0).label("action")
    ).where(*where, open_record, _records.c.holder.is_not(None))
    actions = (
        select_columns(_actions.c.owner.label("person"), literal(0).label("step"), literal(1).label("action"))
        .join(_records, _records.c.id == _actions.c.record_id)
        .where(*where, open_record, _actions.c.status == ActionStatus.OPEN.value)
    )
    work = union_all(steps, actions).subquery()
    total = func.count().label("total")
    statement = (
        select_columns(work.c.person, func.sum(work.c.step).label("steps"), func.sum(work.c.action).label("actions"))
        .group_by(work.c.person)
        .order_by(total.desc(), work.c.person)
        .add_columns(total)
    )
    return [PersonWork(person=row.person, steps=row.steps, actions=row.actions) for row in rows(statement)]
