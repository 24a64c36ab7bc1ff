"""The management-review figures: ``GET /api/v1/stats`` (JSON, or one figure's table as CSV).

Managers, quality and admins may read them (``models.rules.may_see_reports``); the client layer computes them in
SQL (``core.stats``) and lays each out as a table (``client.stats``).
"""

from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from api.deps import ApiUser, AuthenticatedRoute, Client
from api.errors import REFUSALS
from client import stats as figures
from client.errors import CapaError, FieldProblem
from core.stats import StatsFilter
from models.enums import Severity, Source

router = APIRouter(tags=["reports"], route_class=AuthenticatedRoute)

CSV = "text/csv; charset=utf-8"


class FigurePublic(BaseModel):
    """One figure as a table: ``rows`` in the order of ``headings``."""

    name: str
    title: str
    headings: list[str]
    rows: list[list[str | int | float | None]]


class StatsPublic(BaseModel):
    """Every figure (or the one asked for) of the period and filters, as computed at ``at``."""

    filter: StatsFilter
    at: datetime
    figures: list[FigurePublic]


def csv_response(body: str, filename: str) -> Response:
    return Response(
        body,
        media_type=CSV,
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )


class StatsQuery(BaseModel):
    """The period, the filters, and which figure in which format."""

    since: date | None = Field(default=None, description="First day of the period (default: a year before until)")
    until: date | None = Field(default=None, description="Last day of the period (default: today, UTC)")
    severity: Severity | None = Field(default=None, description="Only records of this class")
    source: Source | None = Field(default=None, description="Only records found this way")
    product: str | None = Field(default=None, max_length=200, description="Only records of this product")
    figure: str | None = Field(default=None, description="One figure (`cycle-time`, `pareto-cause`, ...)")
    format: Literal["json", "csv"] = Field(default="json", description="csv: the figure's table (needs figure)")


@router.get(
    "/stats",
    response_model=StatsPublic,
    responses={
        **REFUSALS,
        200: {"description": "The figures as JSON, or one figure's table as CSV", "content": {CSV: {}}},
    },
)
async def stats(user: ApiUser, client: Client, query: Annotated[StatsQuery, Query()]) -> Any:
    """Records opened and closed per month, cycle time per stage (median, 90th percentile), on-time rate against
    the original due, extension rate, overdue ageing, Pareto by cause category, source, product and escape point,
    recurrence rate, first-time-effective rate and open work per person (managers, quality, admins)."""
    flt = figures.stats_filter(query.since, query.until, query.severity, query.source, query.product)
    if query.format == "csv" and query.figure is None:
        raise CapaError.invalid(FieldProblem("figure", f"name the figure for CSV: one of {', '.join(figures.FIGURES)}"))
    names = figures.figure_names(query.figure)
    result = await figures.management_stats(client, user, flt, names)
    tables = figures.figures(result, names)
    if query.format == "csv":
        return csv_response(figures.csv_of(tables[0]), figures.csv_filename(tables[0], flt))
    return StatsPublic(filter=flt, at=result.at, figures=[FigurePublic(**table._asdict()) for table in tables])
