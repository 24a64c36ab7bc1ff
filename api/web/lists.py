"""The web app's lists: the records list (search box, filters, sortable columns, pages, export as CSV or XLSX) and
the overdue board (titles, filters, "my team").

Both read through the client layer; the filter is the one model every front end fills in (``RecordFilter``), so
the page refuses what the API refuses, naming the same field, and marks that field on the form.
"""

from collections import Counter
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from starlette.datastructures import QueryParams

from api.deps import Client, WebUser
from api.errors import STATUS
from api.routes_records import export_response
from api.web.charts import chart_svg
from api.web.rendering import problem_page, render
from client.errors import CapaError
from client.export import ExportFormat, export_records
from client.records import CapaClient
from client.stats import Figure
from core.readmodel import Direction, RecordFilter, RecordSort
from models.enums import Role, Severity, Source, Stage
from models.tables import User

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 25
_MANAGING = (Role.MANAGER, Role.ADMIN)
# The records list's columns: heading, and what a click on it sorts by (None: not sortable).
COLUMNS: tuple[tuple[str, RecordSort | None], ...] = (
    ("Record", RecordSort.ID),
    ("Title", RecordSort.TITLE),
    ("Stage", RecordSort.STAGE),
    ("Severity", RecordSort.SEVERITY),
    ("Owner", RecordSort.OWNER),
    ("Raised", RecordSort.RAISED_AT),
    ("Due", RecordSort.DUE_AT),
    ("Level", None),
)
# The filters the records form shows at once; the others are under "More filters and order".
_FIRST_FILTERS = {"q", "stage", "severity", "owner", "overdue"}
SORT_LABELS = {sort: heading.lower() for heading, sort in COLUMNS if sort is not None}
# The chart of open records by age: label and upper bound (None: no bound).
AGE_BUCKETS: tuple[tuple[str, timedelta | None], ...] = (
    ("< 1 d", timedelta(days=1)),
    ("1-7 d", timedelta(days=7)),
    ("7-30 d", timedelta(days=30)),
    ("30-90 d", timedelta(days=90)),
    ("> 90 d", None),
)


def _number(raw: str | None, *, default: int, most: int) -> int:
    """A page's whole-number parameter: plain digits from 1 to ``most`` (more is ``most``); anything else, such
    as ``²`` or five thousand digits, is ``default``."""
    if not raw or not raw.isascii() or not raw.isdigit() or len(raw) > len(str(most)) + 1:
        return default
    return min(int(raw), most) or default


def record_filter(query: QueryParams) -> tuple[RecordFilter, dict[str, str]]:
    """The filter a list's query asks for, and the message for each field at fault (then the filter is the empty
    one): what the form leaves blank filters nothing."""
    given = {key: value for key, value in query.items() if key in RecordFilter.model_fields and value.strip()}
    try:
        return RecordFilter.model_validate(given), {}
    except ValidationError as exc:
        refused = CapaError.from_validation(exc)
        return RecordFilter(), {str(p.field): p.message for p in refused.problems}


@router.get("/records")
async def records(request: Request, user: WebUser, client: Client) -> HTMLResponse:
    where, errors = record_filter(request.query_params)
    page = _number(request.query_params.get("page"), default=1, most=100_000)
    rows, total = [], 0
    if not errors:
        try:
            rows = await client.list_records(where, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
        except CapaError as exc:
            errors = {str(p.field): p.message for p in exc.problems}
            if not errors:
                return problem_page(request, user, STATUS[exc.kind], exc.message)
        else:
            total = await client.count_records(where)
    # The values as typed, so a refused one is shown again beside its message.
    values = {key: value for key, value in request.query_params.items() if key in RecordFilter.model_fields}
    filters = where.filters() if not errors else values

    def link(**changes: object) -> str:
        return "?" + urlencode({**filters, **{k: str(v) for k, v in changes.items()}})

    def sort_link(sort: RecordSort) -> str:
        """The column's heading link: sorts by it, the other way round when it is the sort already."""
        again = where.sort is sort and where.direction is Direction.ASC
        return link(sort=sort.value, direction=(Direction.DESC if again else Direction.ASC).value)

    exports = {fmt.value: f"/records.{fmt.value}{'?' + urlencode(filters) if filters else ''}" for fmt in ExportFormat}
    return render(
        request,
        "records.html",
        user,
        status=422 if errors else 200,
        rows=rows,
        total=total,
        page=page,
        pages=max(1, -(-total // PAGE_SIZE)),
        page_link=lambda number: "/records" + link(page=number),
        where=where,
        values=values,
        errors=errors,
        summary=[f"{field.replace('_', ' ')}: {message}" for field, message in errors.items()],
        columns=COLUMNS,
        sort_link=sort_link,
        sort_labels=SORT_LABELS,
        exports=exports,
        filtered=bool(set(filters) - {"sort", "direction"}),
        # The form's second part opens when it holds anything: a filter set there, or a refusal.
        more_open=bool(errors) or bool(set(filters) - _FIRST_FILTERS),
        Stage=Stage,
        Severity=Severity,
        Source=Source,
        people=await client.list_users(),
        sites=await client.list_sites(),
    )


@router.get("/records.{fmt}")
async def records_export(request: Request, fmt: str, user: WebUser, client: Client) -> Response:
    """The records list as it is filtered and sorted, as a file (the same the API's export answers)."""
    chosen = next((f for f in ExportFormat if f.value == fmt), None)
    if chosen is None:
        return problem_page(request, user, 404, f"no export as {fmt[:10]!r}: csv or xlsx")
    where, errors = record_filter(request.query_params)
    if errors:
        said = "; ".join(f"{field}: {message}" for field, message in errors.items())
        return problem_page(request, user, 422, f"the filters are not valid ({said})")
    try:
        exported = await export_records(client, where, chosen, user.name)
    except CapaError as exc:
        return problem_page(request, user, STATUS[exc.kind], exc.message)
    return export_response(exported)


# --- the overdue board ----------------------------------------------------------------------------------------


def age_bucket(age: timedelta) -> str:
    return next(name for name, bound in AGE_BUCKETS if bound is None or age < bound)


async def _ages(client: CapaClient, now: datetime) -> Figure:
    """Every open record by how long ago it was raised, as a figure the charts draw."""
    # Only the two columns the chart needs, not every record's whole row.
    open_records = [
        r for r in await client.record_columns(RecordFilter(), ["stage", "raised_at"]) if Stage(r.stage).is_open
    ]
    ages = Counter(age_bucket(now - record.raised_at) for record in open_records)
    return Figure(
        name="ages",
        title="Open records by age",
        headings=["Age", "Open records"],
        rows=[[name, ages[name]] for name, _ in AGE_BUCKETS],
    )


def _not_managing(request: Request, user: User) -> HTMLResponse | None:
    """The board and its chart are for managers and admins: a refusal for anyone else."""
    if Role(user.role) in _MANAGING:
        return None
    return problem_page(request, user, 403, f"the overdue board is for managers; {user.name} is {user.role}")


@router.get("/board/ages.svg")
async def ages_chart(request: Request, user: WebUser, client: Client) -> Response:
    """The board's chart of open records by age, drawn on the server (``api.web.charts``)."""
    if (refused := _not_managing(request, user)) is not None:
        return refused
    svg = await chart_svg(await _ages(client, datetime.now(UTC)))
    return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": "private, max-age=30"})


@router.get("/board")
async def board(request: Request, user: WebUser, client: Client) -> HTMLResponse:
    if (refused := _not_managing(request, user)) is not None:
        return refused
    query = request.query_params
    severity = next((s for s in Severity if s.value == query.get("severity")), None)
    stage = next((s for s in Stage if s.value == query.get("stage") and s.is_open), None)
    people = await client.list_users()
    holder = next((p.name for p in people if p.name == query.get("holder")), None)
    # A value the form does not offer (a mistyped link) is named, not silently taken as "any".
    summary = [
        f"{label}: {message}"
        for param, label, chosen, message in (
            ("severity", "severity", severity, f"choose one of {', '.join(s.value for s in Severity)}"),
            ("stage", "stage", stage, f"choose an open stage: {', '.join(s.value for s in Stage if s.is_open)}"),
            ("holder", "held by", holder, f"no user named {query.get('holder')}"),
        )
        if query.get(param) and chosen is None
    ]
    mine = query.get("team") == "1"
    team = await client.team_of(user.name) if mine else None
    now = datetime.now(UTC)
    items = await client.overdue(severity=severity, stage=stage, holder=holder, team_of=user.name if mine else None)
    ages = await _ages(client, now)
    counts = Counter((item.stage, item.severity) for item in items)
    chosen = {"severity": severity, "stage": stage, "holder": holder}
    filters = {key: str(value) for key, value in chosen.items() if value is not None}
    return render(
        request,
        "board.html",
        user,
        status=422 if summary else 200,
        summary=summary,
        items=items,
        counts=counts,
        stages=[s for s in Stage if s.is_open],
        severities=list(Severity),
        ages=ages.rows,
        open_count=sum(count for _, count in ages.rows if isinstance(count, int)),
        severity=severity,
        stage=stage,
        holder=holder or "",
        team=team,
        people=people,
        filtered=bool(filters),
        everyone_link="/board" + ("?" + urlencode(filters) if filters else ""),
        team_link="/board?" + urlencode({**filters, "team": "1"}),
    )
