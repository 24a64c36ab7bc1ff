"""The management-review figures through the client layer: the one path the HTTP API, the web app and the CLI share.

``stats_filter`` checks a period and filters as given (strings from a query or the command line), naming the
field at fault; ``management_stats`` computes them (``core.stats``, in SQL) off the event loop for the roles
that may see them; ``figures`` lays each figure out as a table (headings and rows), which the web page shows
under its chart, the CSV download holds and the CLI prints.
"""

import csv
import io
import time
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any, NamedTuple

import structlog
from pydantic import ValidationError

from client.errors import CapaError, ErrorKind, FieldProblem
from client.records import CapaClient
from core.stats import PARETO_COLUMNS, Rate, Stats, StatsFilter
from models.enums import Role
from models.rules import may_see_reports
from models.tables import User

log = structlog.get_logger(__name__)

# The period a report covers when none is given: the last twelve months, today included.
DEFAULT_DAYS = 365
STAGE_LABELS = {
    "containment": "Containment",
    "root_cause": "Root cause",
    "action": "Action",
    "verification": "Verification",
    "effectiveness": "Effectiveness",
}

Cell = str | int | float | None


class Figure(NamedTuple):
    """One figure as a table: its name (for ``?figure=`` and file names), title, column headings and rows."""

    name: str
    title: str
    headings: list[str]
    rows: list[list[Cell]]


# Every figure, by name, with the parts of ``Stats`` it needs.
FIGURES: dict[str, tuple[str, tuple[str, ...]]] = {
    "opened-closed": ("Records opened and closed per month", ("per_month",)),
    "cycle-time": ("Cycle time per stage (days)", ("cycle_times",)),
    "rates": (
        "On time, extensions, recurrence, first-time effective",
        (
            "on_time",
            "extensions",
            "recurrence",
            "first_time_effective",
        ),
    ),
    "ageing": ("Overdue now, by days past the original due", ("ageing",)),
    **{
        f"pareto-{name}": (f"Pareto by {heading.lower()}", ("pareto",)) for name, (_, heading) in PARETO_COLUMNS.items()
    },
    "open-work": ("Open work per person now", ("open_work",)),
}


def stats_filter(
    since: str | date | None = None,
    until: str | date | None = None,
    severity: str | None = None,
    source: str | None = None,
    product: str | None = None,
    *,
    today: date | None = None,
) -> StatsFilter:
    """The period and filters as given (empty: not given), checked; CapaError naming each field at fault. The
    period defaults to the last twelve months up to today (UTC)."""
    today = today or datetime.now(UTC).date()
    given: dict[str, Any] = {
        "since": since or (today - timedelta(days=DEFAULT_DAYS - 1)),
        "until": until or today,
        "severity": severity or None,
        "source": source or None,
        "product": (product or "").strip() or None,
    }
    try:
        flt = StatsFilter.model_validate(given)
    except ValidationError as exc:
        raise CapaError.from_validation(exc) from None
    problem = flt.problem()
    if problem is not None:
        raise CapaError.invalid(problem)
    return flt


def figure_names(figure: str | None) -> list[str]:
    """The figures named (None: all of them); CapaError naming ``figure`` for an unknown one."""
    if figure is None:
        return list(FIGURES)
    if figure not in FIGURES:
        raise CapaError.invalid(FieldProblem("figure", f"{figure!r} is not one of {', '.join(FIGURES)}"))
    return [figure]


async def management_stats(client: CapaClient, user: User, flt: StatsFilter, names: Iterable[str] = FIGURES) -> Stats:
    """The figures ``names`` for ``flt``, for ``user`` if they may see them (managers, quality and admins)."""
    names = list(names)
    if not may_see_reports(Role(user.role)):
        raise CapaError(
            ErrorKind.NOT_ALLOWED, f"the reports are for managers, quality and admins; {user.name} is {user.role}"
        )
    parts = {part for name in names for part in FIGURES[name][1]}
    started = time.perf_counter()
    result = await client.management_stats(flt, parts)
    log.info(
        "stats computed",
        actor=user.name,
        figures=sorted(names),
        filter=flt.model_dump(mode="json", exclude_none=True),
        seconds=round(time.perf_counter() - started, 3),
    )
    return result


def _share(rate: float | None) -> float | None:
    return None if rate is None else round(100 * rate, 1)


def _rate_row(label: str, rate: Rate) -> list[Cell]:
    return [label, rate.count, rate.of, _share(rate.rate)]


def figure(result: Stats, name: str) -> Figure:
    """The figure ``name`` of ``result`` as a table."""
    title = FIGURES[name][0]
    if name == "opened-closed":
        rows: list[list[Cell]] = [[m.month, m.opened, m.closed] for m in result.per_month]
        return Figure(name, title, ["Month", "Opened", "Closed"], rows)
    if name == "cycle-time":
        rows = [[STAGE_LABELS[c.stage.value], c.count, c.median_days, c.p90_days] for c in result.cycle_times]
        return Figure(name, title, ["Stage", "Stays ended", "Median (days)", "90th percentile (days)"], rows)
    if name == "rates":
        on_time = result.on_time
        rows = [
            _rate_row("Stage steps on time", on_time.steps),
            _rate_row("Actions on time", on_time.actions),
            _rate_row("All steps on time", on_time.all),
            _rate_row("Records with an extension", result.extensions),
            _rate_row("Records recurring an earlier one", result.recurrence),
            _rate_row("First review found effective", result.first_time_effective),
        ]
        return Figure(name, title, ["Measure", "Count", "Of", "Rate (%)"], rows)
    if name == "ageing":
        return Figure(name, title, ["Days past due", "Deadlines"], [[b.label, b.count] for b in result.ageing])
    if name.startswith("pareto-"):
        key = name.removeprefix("pareto-")
        rows = [[r.value, r.count, _share(r.cumulative_share)] for r in result.pareto.get(key, [])]
        return Figure(name, title, [PARETO_COLUMNS[key][1], "Records", "Cumulative (%)"], rows)
    rows = [[w.person, w.steps, w.actions, w.total] for w in result.open_work]
    return Figure(name, title, ["Person", "Stage steps", "Actions", "Total"], rows)


def figures(result: Stats, names: Iterable[str] = FIGURES) -> list[Figure]:
    return [figure(result, name) for name in names]


def csv_of(table: Figure) -> str:
    """The figure's table as CSV (headings first); no cell begins with a formula character a spreadsheet runs."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(table.headings)
    for row in table.rows:
        writer.writerow([_inert(cell) for cell in row])
    return out.getvalue()


def _inert(cell: Cell) -> Cell:
    if isinstance(cell, str) and cell[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + cell
    return cell


def csv_filename(table: Figure, flt: StatsFilter) -> str:
    return f"capaflow-{table.name}-{flt.since}-{flt.until}.csv"
