"""The reports page for management review (``/reports``): each figure's chart (SVG, drawn on the server), its
table and its CSV, over a period and filters chosen in a form (managers, quality, admins).

The charts are images of their own (``/reports/<figure>.svg``): the page's content security policy keeps inline
styles out, and matplotlib's SVG carries its own. Every figure is computed through the client layer
(``client.stats``), which also judges the form: a refused value is marked beside its input.
"""

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from api.deps import Client, WebUser
from api.errors import STATUS
from api.routes_stats import csv_response
from api.web.charts import chart_svg
from api.web.forms import Input, Refusal
from api.web.rendering import choices, problem_page, render
from client import stats as figures
from client.errors import CapaError
from core.stats import StatsFilter
from models.enums import Role, Severity, Source
from models.rules import may_see_reports
from models.tables import User

router = APIRouter(include_in_schema=False)

FILTER_FORM = {
    "since": Input("since", "From"),
    "until": Input("until", "To"),
    "severity": Input("severity", "Severity"),
    "source": Input("source", "Found by"),
    "product": Input("product", "Product"),
}


def _given(request: Request) -> dict[str, str]:
    """The form's values as sent (only its own inputs, stripped)."""
    return {name: request.query_params.get(name, "").strip() for name in FILTER_FORM}


def _filter(given: dict[str, str]) -> StatsFilter:
    return figures.stats_filter(given["since"], given["until"], given["severity"], given["source"], given["product"])


def _refused(request: Request, user: User) -> Response | None:
    if may_see_reports(Role(user.role)):
        return None
    return problem_page(
        request, user, 403, f"the reports are for managers, quality and admins; {user.name} is {user.role}"
    )


@router.get("/reports")
async def reports(request: Request, user: WebUser, client: Client) -> Response:
    refused = _refused(request, user)
    if refused is not None:
        return refused
    given = _given(request)
    try:
        flt = _filter(given)
        result = await figures.management_stats(client, user, flt)
    except CapaError as exc:
        refusal = Refusal.of(exc, FILTER_FORM, STATUS[exc.kind])
        return _page(request, user, given, errors=refusal.errors, summary=refusal.summary, status=refusal.status)
    query = urlencode({k: v for k, v in _query(flt).items() if v})
    return _page(request, user, _query(flt), tables=figures.figures(result), query=query, flt=flt)


def _query(flt: StatsFilter) -> dict[str, str]:
    """The filter as the form's values (and the charts' and downloads' query)."""
    return {
        "since": flt.since.isoformat(),
        "until": flt.until.isoformat(),
        "severity": flt.severity.value if flt.severity else "",
        "source": flt.source.value if flt.source else "",
        "product": flt.product or "",
    }


def _page(request: Request, user: User, values: dict[str, str], status: int = 200, **context: Any) -> HTMLResponse:
    context = {"errors": {}, "summary": [], "tables": [], "query": "", "flt": None} | context
    return render(
        request,
        "reports.html",
        user,
        status=status,
        values=values,
        severities=choices(Severity),
        sources=choices(Source),
        **context,
    )


async def _one_figure(
    request: Request, user: User, client: Client, name: str
) -> tuple[figures.Figure, StatsFilter] | Response:
    refused = _refused(request, user)
    if refused is not None:
        return refused
    try:
        names = figures.figure_names(name)
        flt = _filter(_given(request))
        result = await figures.management_stats(client, user, flt, names)
    except CapaError as exc:
        return problem_page(request, user, STATUS[exc.kind], exc.message)
    return figures.figure(result, name), flt


@router.get("/reports/{name}.svg")
async def chart(request: Request, name: str, user: WebUser, client: Client) -> Response:
    found = await _one_figure(request, user, client, name)
    if isinstance(found, Response):
        return found
    svg = await chart_svg(found[0])
    return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": "private, max-age=60"})


@router.get("/reports/{name}.csv")
async def table_csv(request: Request, name: str, user: WebUser, client: Client) -> Response:
    found = await _one_figure(request, user, client, name)
    if isinstance(found, Response):
        return found
    table, flt = found
    return csv_response(figures.csv_of(table), figures.csv_filename(table, flt))
