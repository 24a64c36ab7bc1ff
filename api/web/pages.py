"""The web app's pages: sign-in, "My work", raising a record, and the record page with the step forms it offers
(``api.web.steps`` reads them); the lists (records, the overdue board) are ``api.web.lists``.

Every page reads and writes through the one client layer and decides nothing itself: the record page offers the
forms ``models.rules.available_steps`` names, and the workflow judges each submission. Sign-in swaps the session
for a new server-side one; a page asked for without one answers 401 with the sign-in form and nothing else.
"""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from api.deps import SESSION_KEY, Client, WebUser
from api.errors import STATUS
from api.web.forms import Input, Refusal, Rows, WebForm, inputs, model_of, rows_filled
from api.web.rendering import local_path, problem_page, render, see
from client.errors import CapaError
from client.records import CapaClient
from core import accounts
from core.settings import Settings
from models import recurrence
from models.calendars import deadlines_counted, due_in_working_time
from models.enums import (
    Role,
)
from models.payloads import USER_NAME, Actor, CapaState, RaiseStep
from models.rules import Offer, Step, available_steps
from models.tables import User

router = APIRouter(include_in_schema=False)

# Rows the plan form shows at first; "more rows" adds this many again.
PLAN_ROWS = 3
MAX_PLAN_ROWS = 50
_HOLDING = (Role.OWNER, Role.MANAGER, Role.ADMIN)
RAISE_FORM = inputs(
    ("title", "Title"),
    ("description", "What happened"),
    ("severity", "Severity"),
    ("source", "Found by"),
    ("owner", "Owner"),
    ("product", "Product"),
    ("lot", "Lot"),
    ("quantity", "Quantity affected"),
    ("defect_code", "Defect code"),
    ("supplier", "Supplier"),
    ("customer", "Customer"),
    ("site", "Site"),
)
# The raise form's link to another record: one row (``link_kind-1``, ``link_record-1``).
RAISE_LINKS = Rows(
    "links",
    {"kind": Input("link_kind", "Link"), "record_id": Input("link_record", "Linked record")},
    ("link_record",),
    "Links",
    1,
)
# How many earlier similar records the root-cause form lists.
SIMILAR_LISTED = 10


def _actor(user: User) -> Actor:
    return Actor(name=user.name, roles=[Role(user.role)])


def _number(raw: str | None, *, default: int, most: int) -> int:
    """A page's whole-number parameter: plain digits from 1 to ``most`` (more is ``most``); anything else, such
    as ``²`` or five thousand digits, is ``default``."""
    if not raw or not raw.isascii() or not raw.isdigit() or len(raw) > len(str(most)) + 1:
        return default
    return min(int(raw), most) or default


async def _holders(client: CapaClient) -> list[User]:
    """The people who may hold steps, for the owner pickers."""
    return [u for u in await client.list_users() if u.active and Role(u.role) in _HOLDING]


# The inputs of a plan row that count as filling it in (a kind alone has a default).
PLAN_ROW_FILLED = ("description", "owner", "due")


def _plan_rows_in(values: dict[str, str]) -> list[int]:
    """The numbers of the plan form's rows that have anything filled in, in order."""
    return rows_filled(values, PLAN_ROW_FILLED, MAX_PLAN_ROWS)


# --- signing in and out ---------------------------------------------------------------------------------------


@router.get("/login")
async def login_form(request: Request) -> HTMLResponse:
    return render(request, "login.html", None, next=local_path(request.query_params.get("next")))


@router.post("/login")
async def login(request: Request, client: Client) -> Response:
    form = await request.form()
    name = str(form.get("name") or "").strip()
    password = str(form.get("password") or "")
    target = local_path(str(form.get("next") or "/"))
    # The name typed is shown again only when it could be one (not a password typed into the wrong field).
    shown = name if USER_NAME.fullmatch(name) else ""
    if not name or not password:
        return render(request, "login.html", None, status=401, error="enter your user name and password", name=shown)
    outcome = await client.sign_in(name, password, address=request.client.host if request.client else None)
    if isinstance(outcome, accounts.SignInRefused):
        waiting = outcome.retry_after is not None
        return render(
            request,
            "login.html",
            None,
            status=429 if waiting else 401,
            headers={"Retry-After": str(outcome.retry_after)} if waiting else None,
            error=outcome.message,
            name=shown,
            next=target,
        )
    # A new session, never the one the browser came with: a planted session id is worth nothing.
    previous = request.session.get(SESSION_KEY)
    if isinstance(previous, str):
        await client.close_session(previous)
    request.session.clear()
    request.session[SESSION_KEY] = await client.open_session(outcome.name)
    return see(target)


@router.post("/logout")
async def logout(request: Request, client: Client) -> Response:
    session_id = request.session.get(SESSION_KEY)
    if isinstance(session_id, str):
        await client.close_session(session_id)
    request.session.clear()
    return see("/login")


async def sign_in_required(request: Request, _exc: Exception) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return render(request, "login.html", None, status=401, next=local_path(target) if request.method == "GET" else "/")


# --- my work, raising, lists ----------------------------------------------------------------------------------


@router.get("/")
async def my_work(request: Request, user: WebUser, client: Client) -> HTMLResponse:
    """Every step the signed-in person may take now that a record waits for, soonest due first."""
    items = await client.my_work(user.name)
    # The navigation counts this list rather than reading it again (``api.web.work``).
    request.state.work_items = items
    return render(request, "my_work.html", user, items=items)


async def _raise_page(
    request: Request, user: User, client: CapaClient, *, status: int = 200, **context: Any
) -> HTMLResponse:
    rules = await client.process_rules()
    return render(
        request,
        "raise.html",
        user,
        status=status,
        holders=await _holders(client),
        defect_codes=sorted(rules.defect_codes.items()) if rules else [],
        sites=[(site.name, f"{site.name} ({site.time_zone})") for site in await client.list_sites()],
        home_site=await client.home_site(user),
        **context,
    )


@router.get("/raise")
async def raise_form(request: Request, user: WebUser, client: Client) -> HTMLResponse:
    return await _raise_page(request, user, client, values={}, errors={}, summary=[])


@router.post("/raise")
async def raise_record(request: Request, user: WebUser, client: Client) -> Response:
    form = await WebForm.read(request)
    filled = form.fill(RAISE_FORM)
    RAISE_LINKS.fill(form, filled)
    try:
        record_id = await client.raise_record(user.name, await model_of(client, RaiseStep, filled))
    except CapaError as exc:
        refusal = Refusal.of(exc, filled.inputs, STATUS[exc.kind])
        return await _raise_page(
            request,
            user,
            client,
            status=refusal.status,
            values=form.values,
            errors=refusal.errors,
            summary=refusal.summary,
        )
    request.session["flash"] = f"{record_id} raised; {form.text('owner')} owns it and has been told"
    return see(f"/records/{record_id}")


# --- the record page ---------------------------------------------------------------------------------------


async def record_page(
    request: Request,
    user: User,
    client: CapaClient,
    record_id: str,
    *,
    status: int = 200,
    failed: str | None = None,
    refusal: Refusal | None = None,
    values: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    try:
        state, stale = await client.show_record(record_id)
    except CapaError as exc:
        return problem_page(request, user, STATUS[exc.kind], exc.message)
    # A record its workflow did not answer for is shown as last recorded; a step sent now would only wait.
    offer = Offer(frozenset()) if stale else available_steps(state, _actor(user))
    settings: Settings = request.app.state.settings
    # The Temporal UI has no sign-in of its own and can end a workflow outside the record's rules: administrators
    # only, and it is for the site to keep it off other networks.
    workflow_link = (
        f"{settings.temporal_ui_url.rstrip('/')}/namespaces/{settings.temporal_namespace}/workflows/{state.id}"
        if settings.temporal_ui_url and Role(user.role) is Role.ADMIN
        else None
    )
    needs_people = bool({Step.PLAN, Step.REASSIGN, Step.AMEND_PLAN} & offer.steps)
    query_rows = request.query_params.get("plan_rows", "")
    plan_rows = _number(query_rows, default=PLAN_ROWS, most=MAX_PLAN_ROWS)
    if values:
        plan_rows = max(plan_rows, *_plan_rows_in(values), 1)
    rules = state.policy.process if state.policy else None
    similar = (
        await client.similar_records(_searched(state), exclude=state.id, limit=SIMILAR_LISTED)
        if Step.ROOT_CAUSE in offer.steps
        else []
    )
    return render(
        request,
        "record.html",
        user,
        status=status,
        headers=headers,
        state=state,
        # working-day calendars: how its deadlines are counted, and whether the next due is in working time
        deadlines=deadlines_counted(state, state.site or settings.site_name),
        due_working=due_in_working_time(state),
        offer=offer,
        # Every refusal is summed up at the top, each field's part also beside its input.
        summary=refusal.summary if refusal else [],
        stale=stale,
        workflow_link=workflow_link,
        holders=await _holders(client) if needs_people else [],
        failed=failed,
        errors=refusal.errors if refusal else {},
        values=values or {},
        plan_rows=plan_rows,
        more_rows=min(plan_rows + PLAN_ROWS, MAX_PLAN_ROWS),
        rules=rules,
        links=await client.links_of(state),
        waiting=await client.waiting_for(state),
        watchers=await client.watchers(state.id),
        similar=similar,
        pending_extensions=state.pending_extensions or ([state.pending_extension] if state.pending_extension else []),
        # recurrence: beside each effectiveness criterion, the matching nonconformities raised in the window
        window=recurrence.window_data(state),
    )


def _searched(state: CapaState) -> str:
    """What the root-cause form searches earlier records for: the record's own words."""
    parts = (state.title, state.description, state.product, state.lot, state.defect_code)
    return " ".join(part for part in parts if part)


@router.get("/records/{record_id}")
async def record(request: Request, record_id: str, user: WebUser, client: Client) -> HTMLResponse:
    return await record_page(request, user, client, record_id)
