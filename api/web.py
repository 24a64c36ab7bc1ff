"""The web app: server-rendered pages for the shop floor (a phone) and the office (a desktop).

Every page reads and writes through the one client layer and decides nothing itself: the record page offers the
forms ``models.rules.available_steps`` names, and the workflow judges each submission. A form posts, and is
redirected (303) to the record when accepted, or comes back with the refusal beside the input it names.
Sign-in swaps the session for a new server-side one; a page asked for without one answers 401 with the sign-in
form and nothing else.
"""

from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape

from api.deps import SESSION_KEY, Client, SignInRequired, WebUser
from api.errors import STATUS
from api.webforms import LOCAL_MINUTE, FieldInvalid, WebForm, field_message
from client.errors import CapaError, ErrorKind, StepPending
from client.records import CapaClient, NewAction
from core import accounts
from core.settings import Settings
from models import formatting
from models.enums import (
    ActionKind,
    CauseCategory,
    Disposition,
    EffectivenessResult,
    Role,
    RootCauseMethod,
    Severity,
    Source,
    Stage,
    VerificationResult,
)
from models.payloads import Actor, StepOutcome
from models.rules import Offer, Step, available_steps
from models.tables import User

router = APIRouter(include_in_schema=False)
TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")

PAGE_SIZE = 25
# Rows the plan form shows at first; "more rows" adds this many again.
PLAN_ROWS = 3
MAX_PLAN_ROWS = 50
# Everything the pages need comes from this site: no script at all, no inline style, no framing.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
_MANAGING = (Role.MANAGER, Role.ADMIN)
_HOLDING = (Role.OWNER, Role.MANAGER, Role.ADMIN)
# The chart of open records by age: label and upper bound (None: no bound).
AGE_BUCKETS: tuple[tuple[str, timedelta | None], ...] = (
    ("< 1 d", timedelta(days=1)),
    ("1-7 d", timedelta(days=7)),
    ("7-30 d", timedelta(days=30)),
    ("30-90 d", timedelta(days=90)),
    ("> 90 d", None),
)
STEP_LABELS: dict[Step, str] = {
    Step.CONTAIN: "Containment",
    Step.ROOT_CAUSE: "Root cause",
    Step.PLAN: "Action plan",
    Step.COMPLETE_ACTION: "Action completion",
    Step.VERIFY: "Verification",
    Step.REVIEW: "Effectiveness review",
    Step.REQUEST_EXTENSION: "Extension request",
    Step.DECIDE_EXTENSION: "Extension decision",
    Step.REASSIGN: "Reassignment",
    Step.CANCEL: "Cancellation",
}


# --- rendering ------------------------------------------------------------------------------------------------


def local_input(moment: datetime) -> str:
    """A moment as the value of a datetime-local input (UTC)."""
    return moment.astimezone(UTC).strftime(LOCAL_MINUTE)


def label(value: object) -> str:
    """An enum value as a heading reads it: ``root_cause`` -> ``root cause``."""
    return str(value).replace("_", " ")


def detail(value: object) -> str:
    """A timeline detail as people read it (``Event.shown``): times in the pages' format, yes/no, objects as
    "key value" pairs, lists joined, a list of objects (a plan's actions) one per line."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return formatting.moment(value)
    if isinstance(value, StrEnum):
        return label(value.value)
    if isinstance(value, dict):
        return ", ".join(f"{label(key)} {detail(item)}" for key, item in value.items() if item is not None)
    if isinstance(value, list):
        separator = "\n" if any(isinstance(item, dict) for item in value) else ", "
        return separator.join(detail(item) for item in value)
    return str(value)


def choices(kind: type[StrEnum]) -> list[tuple[str, str]]:
    """An enum's members as (value, shown) pairs for a select."""
    return [(member.value, label(member.value)) for member in kind]


def people(users: list[User]) -> list[tuple[str, str]]:
    return [(user.name, f"{user.name} ({user.role})") for user in users]


def csrf_input(request: Request) -> Markup:
    """The hidden field every form posts; its value must equal the signed cookie (api.app)."""
    token = request.scope["csrftoken"]()
    return Markup('<input type="hidden" name="csrftoken" value="{}">').format(escape(token))


# Times and durations read as on every other page, message and terminal: ``models.formatting``.
TEMPLATES.env.filters.update(
    span=formatting.duration,
    when=formatting.moment,
    label=label,
    local_input=local_input,
    choices=choices,
    people=people,
    detail=detail,
)
TEMPLATES.env.globals.update(csrf_input=csrf_input, Step=Step, STEP_LABELS=STEP_LABELS)


def render(
    request: Request,
    template: str,
    user: User | None,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    settings: Settings = request.app.state.settings
    flash = request.session.pop("flash", None) if user is not None else None
    response = TEMPLATES.TemplateResponse(
        request,
        template,
        {"user": user, "settings": settings, "now": datetime.now(UTC), "flash": flash, **context},
        status_code=status,
        headers=headers,
    )
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return response


def problem_page(request: Request, user: User | None, status: int, message: str) -> HTMLResponse:
    return render(request, "problem.html", user, status=status, message=message)


def _see(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


def local_path(target: str | None) -> str:
    """``target`` when it is a path on this site, else ``/``: sign-in never sends anyone elsewhere."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    if any(ord(char) < 0x20 for char in target):
        return "/"
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else "/"


def _actor(user: User) -> Actor:
    return Actor(name=user.name, roles=[Role(user.role)])


def _is_manager(user: User) -> bool:
    return Role(user.role) in _MANAGING


async def _holders(client: CapaClient) -> list[User]:
    """The people who may hold steps, for the owner pickers."""
    return [u for u in await client.list_users() if u.active and Role(u.role) in _HOLDING]


@dataclass(frozen=True)
class Refusal:
    """A refused form: the input it is about (None: the form as a whole), what to say, and the status."""

    field: str | None
    message: str
    status: int

    @classmethod
    def of(cls, exc: FieldInvalid | CapaError, fields: dict[str, str]) -> "Refusal":
        if isinstance(exc, FieldInvalid):
            return cls(exc.field, exc.message, 422)
        field, message = field_message(exc.message, fields)
        return cls(field, message, STATUS[exc.kind])

    @property
    def errors(self) -> dict[str, str]:
        return {self.field or "form": self.message}


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
    if not name or not password:
        return render(request, "login.html", None, status=401, error="enter your user name and password", name=name)
    outcome = await client.sign_in(name, password)
    if isinstance(outcome, accounts.SignInRefused):
        waiting = outcome.retry_after is not None
        return render(
            request,
            "login.html",
            None,
            status=429 if waiting else 401,
            headers={"Retry-After": str(outcome.retry_after)} if waiting else None,
            error=outcome.message,
            name=name,
            next=target,
        )
    # A new session, never the one the browser came with: a planted session id is worth nothing.
    previous = request.session.get(SESSION_KEY)
    if isinstance(previous, str):
        await client.close_session(previous)
    request.session.clear()
    request.session[SESSION_KEY] = await client.open_session(outcome.name)
    return _see(target)


@router.post("/logout")
async def logout(request: Request, client: Client) -> Response:
    session_id = request.session.get(SESSION_KEY)
    if isinstance(session_id, str):
        await client.close_session(session_id)
    request.session.clear()
    return _see("/login")


async def _sign_in_required(request: Request, _exc: Exception) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return render(request, "login.html", None, status=401, next=local_path(target) if request.method == "GET" else "/")


# --- my steps, raising, lists ---------------------------------------------------------------------------------


@router.get("/")
async def my_steps(request: Request, user: WebUser, client: Client) -> HTMLResponse:
    items = await client.my_items(user.name)
    titles = {record.id: record.title for record in await client.list_records(owner=user.name)} if items else {}
    return render(request, "my_steps.html", user, items=items, titles=titles)


RAISE_FIELDS = {name: name for name in ("title", "description", "severity", "source", "owner", "product", "lot")}
RAISE_FIELDS["quantity"] = "quantity"


def _raise_page(
    request: Request, user: User, holders: list[User], *, status: int = 200, **context: Any
) -> HTMLResponse:
    return render(
        request, "raise.html", user, status=status, holders=holders, Severity=Severity, Source=Source, **context
    )


@router.get("/raise")
async def raise_form(request: Request, user: WebUser, client: Client) -> HTMLResponse:
    return _raise_page(request, user, await _holders(client), values={}, errors={})


@router.post("/raise")
async def raise_record(request: Request, user: WebUser, client: Client) -> Response:
    form = await WebForm.read(request)
    try:
        record_id = await client.raise_record(
            user.name,
            title=form.required("title"),
            description=form.required("description"),
            severity=form.choice("severity", Severity),
            source=form.choice("source", Source),
            owner=form.required("owner"),
            product=form.optional("product"),
            lot=form.optional("lot"),
            quantity=form.integer("quantity"),
        )
    except (FieldInvalid, CapaError) as exc:
        refusal = Refusal.of(exc, RAISE_FIELDS)
        holders = await _holders(client)
        return _raise_page(request, user, holders, status=refusal.status, values=form.values, errors=refusal.errors)
    request.session["flash"] = f"{record_id} raised; {form.text('owner')} owns it and has been told"
    return _see(f"/records/{record_id}")


@router.get("/records")
async def records(request: Request, user: WebUser, client: Client) -> HTMLResponse:
    query = request.query_params
    stage = next((s for s in Stage if s.value == query.get("stage")), None)
    owner = query.get("owner") or None
    overdue = query.get("overdue") == "1"
    page = int(query["page"]) if query.get("page", "").isdigit() and int(query["page"]) > 0 else 1
    try:
        rows = await client.list_records(
            stage=stage, owner=owner, overdue=overdue, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
        )
    except CapaError as exc:
        return problem_page(request, user, STATUS[exc.kind], exc.message)
    total = await client.count_records(stage=stage, owner=owner, overdue=overdue)
    filters = {k: v for k, v in {"stage": stage, "owner": owner, "overdue": "1" if overdue else None}.items() if v}

    def page_link(number: int) -> str:
        return "/records?" + urlencode({**filters, "page": number})

    return render(
        request,
        "records.html",
        user,
        rows=rows,
        total=total,
        page=page,
        pages=max(1, -(-total // PAGE_SIZE)),
        page_link=page_link,
        stage=stage,
        owner=owner or "",
        overdue=overdue,
        Stage=Stage,
        people=await client.list_users(),
    )


# --- the record page and its forms ----------------------------------------------------------------------------


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
) -> HTMLResponse:
    try:
        state, stale = await client.show_record(record_id)
    except CapaError as exc:
        return problem_page(request, user, STATUS[exc.kind], exc.message)
    # A record its workflow did not answer for is shown as last recorded; a step sent now would only wait.
    offer = Offer(frozenset()) if stale else available_steps(state, _actor(user))
    settings: Settings = request.app.state.settings
    workflow_link = (
        f"{settings.temporal_ui_url.rstrip('/')}/namespaces/{settings.temporal_namespace}/workflows/{state.id}"
        if settings.temporal_ui_url
        else None
    )
    needs_people = bool({Step.PLAN, Step.REASSIGN} & offer.steps)
    query_rows = request.query_params.get("plan_rows", "")
    plan_rows = min(int(query_rows), MAX_PLAN_ROWS) if query_rows.isdigit() else PLAN_ROWS
    if values:
        plan_rows = max(plan_rows, *_plan_rows_in(values), 1)
    # A refusal of the whole form, or of a form this person is no longer offered, is said at the top.
    shown_forms = {s.value for s in offer.steps} | {f"{Step.COMPLETE_ACTION.value}-{a}" for a in offer.completable}
    top_error = refusal.message if refusal and (refusal.field is None or failed not in shown_forms) else None
    return render(
        request,
        "record.html",
        user,
        status=status,
        state=state,
        offer=offer,
        top_error=top_error,
        stale=stale,
        workflow_link=workflow_link,
        holders=await _holders(client) if needs_people else [],
        failed=failed,
        errors=refusal.errors if refusal else {},
        values=values or {},
        plan_rows=plan_rows,
        more_rows=min(plan_rows + PLAN_ROWS, MAX_PLAN_ROWS),
        Disposition=Disposition,
        RootCauseMethod=RootCauseMethod,
        CauseCategory=CauseCategory,
        ActionKind=ActionKind,
        VerificationResult=VerificationResult,
        EffectivenessResult=EffectivenessResult,
    )


@router.get("/records/{record_id}")
async def record(request: Request, record_id: str, user: WebUser, client: Client) -> HTMLResponse:
    return await record_page(request, user, client, record_id)


StepCall = Callable[[CapaClient, str, str, WebForm], Awaitable[StepOutcome]]


@dataclass(frozen=True)
class StepForm:
    """How one step's form becomes a client call, and which inputs its refusals' fields name."""

    call: StepCall
    fields: Callable[[WebForm], dict[str, str]]
    done: str


def _same(*names: str) -> Callable[[WebForm], dict[str, str]]:
    return lambda _form: {name: name for name in names}


def _plan_rows_in(values: dict[str, str]) -> list[int]:
    """The numbers of the plan form's rows that have anything filled in, in order."""
    rows = {
        int(key.rpartition("-")[2])
        for key, value in values.items()
        if value and key.startswith(("description-", "owner-", "due-")) and key.rpartition("-")[2].isdigit()
    }
    return sorted(row for row in rows if 1 <= row <= MAX_PLAN_ROWS)


def _plan_fields(form: WebForm) -> dict[str, str]:
    """A plan refusal names an action by its place in the plan; the form's rows may have gaps."""
    fields = {"actions": "description-1"}
    for number, row in enumerate(_plan_rows_in(form.values), start=1):
        fields |= {
            f"actions.{number - 1}.description": f"description-{row}",
            f"actions.{number - 1}.owner": f"owner-{row}",
            f"actions.{number - 1}.due_at": f"due-{row}",
            f"action {number} owner": f"owner-{row}",
            f"action {number}": f"due-{row}",
        }
    return fields


async def _contain(client: CapaClient, record_id: str, actor: str, form: WebForm) -> StepOutcome:
    return await client.contain(
        record_id,
        actor,
        summary=form.required("summary"),
        disposition=form.choice("disposition", Disposition),
        quantity=form.integer("quantity"),
    )


async def _root_cause(client: CapaClient, record_id: str, actor: str, form: WebForm) -> StepOutcome:
    return await client.root_cause(
        record_id,
        actor,
        method=form.choice("method", RootCauseMethod),
        whys=form.lines("whys"),
        category=form.optional_choice("category", CauseCategory),
        cause=form.required("cause"),
        escape_point=form.optional("escape_point"),
        similar_checked=form.optional("similar_checked"),
    )


async def _plan(client: CapaClient, record_id: str, actor: str, form: WebForm) -> StepOutcome:
    rows = _plan_rows_in(form.values)
    if not rows:
        raise FieldInvalid("description-1", "a plan needs at least one action")
    actions = [
        NewAction(
            owner=form.required(f"owner-{row}"),
            due_at=form.moment(f"due-{row}"),
            description=form.required(f"description-{row}"),
            kind=form.optional_choice(f"kind-{row}", ActionKind) or ActionKind.CORRECTIVE,
        )
        for row in rows
    ]
    return await client.plan(record_id, actor, actions=actions)


async def _complete_action(client: CapaClient, record_id: str, actor: str, form: WebForm) -> StepOutcome:
    return await client.complete_action(
        record_id, actor, action_id=form.required("action_id"), evidence=form.required("evidence")
    )


async def _verify(client: CapaClient, record_id: str, actor: str, form: WebForm) -> StepOutcome:
    return await client.verify(
        record_id, actor, result=form.choice("result", VerificationResult), evidence=form.required("evidence")
    )


async def _review(client: CapaClient, record_id: str, actor: str, form: WebForm) -> StepOutcome:
    return await client.review(
        record_id, actor, result=form.choice("result", EffectivenessResult), evidence=form.required("evidence")
    )


async def _request_extension(client: CapaClient, record_id: str, actor: str, form: WebForm) -> StepOutcome:
    return await client.request_extension(
        record_id,
        actor,
        action_id=form.optional("action_id"),
        until=form.moment("until"),
        reason=form.required("reason"),
    )


async def _decide_extension(client: CapaClient, record_id: str, actor: str, form: WebForm) -> StepOutcome:
    decision = form.text("decision")
    if decision not in ("approve", "reject"):
        raise FieldInvalid("decision", "approve or reject")
    return await client.decide_extension(
        record_id, actor, approve=decision == "approve", reason=form.optional("reason")
    )


async def _reassign(client: CapaClient, record_id: str, actor: str, form: WebForm) -> StepOutcome:
    return await client.reassign(
        record_id,
        actor,
        owner=form.required("owner"),
        reason=form.required("reason"),
        action_id=form.optional("action_id"),
    )


async def _cancel(client: CapaClient, record_id: str, actor: str, form: WebForm) -> StepOutcome:
    return await client.cancel(record_id, actor, reason=form.required("reason"))


STEP_FORMS: dict[Step, StepForm] = {
    Step.CONTAIN: StepForm(_contain, _same("summary", "disposition", "quantity"), "Containment recorded"),
    Step.ROOT_CAUSE: StepForm(
        _root_cause,
        lambda _form: {
            "method": "method",
            "why": "whys",
            "whys": "whys",
            "category": "category",
            "cause": "cause",
            "escape_point": "escape_point",
            "similar_checked": "similar_checked",
        },
        "Root cause recorded",
    ),
    Step.PLAN: StepForm(_plan, _plan_fields, "Action plan recorded"),
    Step.COMPLETE_ACTION: StepForm(_complete_action, _same("action_id", "evidence"), "Action completed"),
    Step.VERIFY: StepForm(_verify, _same("result", "evidence"), "Verification recorded"),
    Step.REVIEW: StepForm(_review, _same("result", "evidence"), "Effectiveness review recorded"),
    Step.REQUEST_EXTENSION: StepForm(
        _request_extension, _same("action_id", "until", "reason"), "Extension requested; a manager decides it"
    ),
    Step.DECIDE_EXTENSION: StepForm(_decide_extension, _same("decision", "reason"), "Extension decided"),
    Step.REASSIGN: StepForm(_reassign, _same("action_id", "owner", "reason"), "Reassigned"),
    Step.CANCEL: StepForm(_cancel, _same("reason"), "Record cancelled"),
}


@router.post("/records/{record_id}/{step}")
async def take_step(request: Request, record_id: str, step: str, user: WebUser, client: Client) -> Response:
    which = next((s for s in Step if s.value == step), None)
    if which is None:
        return problem_page(request, user, 404, f"there is no step called {step}")
    form = await WebForm.read(request)
    handler = STEP_FORMS[which]
    try:
        result = await handler.call(client, record_id, user.name, form)
    except (FieldInvalid, CapaError) as exc:
        if isinstance(exc, StepPending):
            request.session["flash"] = f"Sent; {record_id} shows the step once a worker applies it (do not resend it)"
            return _see(f"/records/{record_id}")
        if isinstance(exc, CapaError) and exc.kind is ErrorKind.UNAVAILABLE:
            return problem_page(request, user, 503, exc.message)
        # Each action has its own completion form: the refusal goes to the one that was sent.
        failed = f"{which.value}-{form.text('action_id')}" if which is Step.COMPLETE_ACTION else which.value
        refusal = Refusal.of(exc, handler.fields(form))
        return await record_page(
            request, user, client, record_id, status=refusal.status, failed=failed, refusal=refusal, values=form.values
        )
    request.session["flash"] = f"{handler.done}; {record_id} is now in {label(result.stage)}"
    return _see(f"/records/{record_id}")


# --- the overdue board ----------------------------------------------------------------------------------------


def age_bucket(age: timedelta) -> str:
    return next(name for name, bound in AGE_BUCKETS if bound is None or age < bound)


@router.get("/board")
async def board(request: Request, user: WebUser, client: Client) -> HTMLResponse:
    if not _is_manager(user):
        return problem_page(request, user, 403, f"the overdue board is for managers; {user.name} is {user.role}")
    now = datetime.now(UTC)
    items = await client.overdue()
    open_records = [r for r in await client.list_records() if Stage(r.stage).is_open]
    counts = Counter((item.stage, item.severity) for item in items)
    ages = Counter(age_bucket(now - record.raised_at) for record in open_records)
    chart = [(name, ages[name]) for name, _ in AGE_BUCKETS]
    return render(
        request,
        "board.html",
        user,
        items=items,
        counts=counts,
        stages=[s for s in Stage if s.is_open],
        severities=list(Severity),
        chart=chart,
        chart_max=max([count for _, count in chart] + [1]),
        open_count=len(open_records),
    )


def install(app: FastAPI) -> None:
    """Add the pages, and the answer to a page asked for without a live session."""
    app.include_router(router)
    app.add_exception_handler(SignInRequired, _sign_in_required)
