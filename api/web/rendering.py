"""The web app's rendering: the templates, the filters they format values with, and the page answer every page
gives (its security headers, the signed-in user, the flash message)."""

from datetime import UTC, datetime, tzinfo
from enum import StrEnum
from pathlib import Path
from typing import Any, get_args
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup, escape
from pydantic import BaseModel

from api.web.forms import LOCAL_MINUTE
from api.web.unread import unread_count
from api.web.work import work_count
from core import files
from core.readmodel import printed_name
from core.settings import Settings
from models import formatting, pauses, qms
from models.enums import Role
from models.payloads import Event, RaiseStep
from models.rules import MEANINGS, STEP_MODELS, Step, current_file_target, may_see_reports
from models.sentences import sentence
from models.tables import User

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent.parent / "templates")

# Everything the pages need comes from this site: no script at all, no inline style, no framing.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
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
    Step.ATTACH_FILE: "Evidence files",
    Step.TRIAGE: "Triage",
    Step.AMEND_PLAN: "Plan amendment",
    Step.DECIDE_PLAN: "Plan approval",
    Step.CONCEDE: "Concession",
    Step.AMEND: "Amendment",
    Step.LINK: "Link",
    Step.COMMENT: "Comment",
    # Honest pauses.
    Step.REQUEST_PAUSE: "Pause request",
    Step.DECIDE_PAUSE: "Pause decision",
    Step.RESUME: "Resume",
}


def viewer_zone(context: Context) -> tzinfo:
    """The zone the page's reader sees times in: their own, else their home site's, else the default site's
    (``api.deps.web_user`` looks it up once per request); UTC on a page for nobody signed in."""
    request = context.get("request")
    zone: tzinfo = getattr(request.state, "time_zone", UTC) if request is not None else UTC
    return zone


@pass_context
def when(context: Context, at: datetime | None) -> str:
    """A moment in the reader's zone, with its abbreviation: ``2026-03-12 09:00:00 CET``."""
    return formatting.moment(at, viewer_zone(context))


@pass_context
def local_text(context: Context, text: object) -> str:
    """A message composed in UTC (a refusal, a flash) with each moment it names in the reader's zone."""
    return formatting.moments_in(str(text), viewer_zone(context))


@pass_context
def local_input(context: Context, moment: datetime) -> str:
    """A moment as the value of a datetime-local input, in the reader's zone (``forms`` reads it back so)."""
    return moment.astimezone(viewer_zone(context)).strftime(LOCAL_MINUTE)


@pass_context
def shown_zone(context: Context) -> str:
    """The abbreviation of the reader's zone now (``CET``), for labels of time inputs."""
    return formatting.zone_name(datetime.now(UTC), viewer_zone(context))


def label(value: object) -> str:
    """An enum value as a heading reads it: ``root_cause`` -> ``root cause``."""
    return str(value).replace("_", " ")


def detail(value: object, zone: tzinfo = UTC) -> str:
    """A timeline detail as people read it (``Event.shown``): times in the pages' format (in ``zone``), yes/no,
    objects as "key value" pairs, lists joined, a list of objects (a plan's actions) one per line."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return formatting.moment(value, zone)
    if isinstance(value, StrEnum):
        return label(value.value)
    if isinstance(value, dict):
        return ", ".join(f"{label(key)} {detail(item, zone)}" for key, item in value.items() if item is not None)
    if isinstance(value, list):
        separator = "\n" if any(isinstance(item, dict) for item in value) else ", "
        return separator.join(detail(item, zone) for item in value)
    return str(value)


@pass_context
def shown_detail(context: Context, value: object) -> str:
    """``detail`` in the reader's zone."""
    return detail(value, viewer_zone(context))


@pass_context
def shown_sentence(context: Context, event: Event) -> str:
    """A timeline entry's sentence, the moments it names in the reader's zone."""
    return sentence(event, viewer_zone(context))


def choices(kind: type[StrEnum]) -> list[tuple[str, str]]:
    """An enum's members as (value, shown) pairs for a select."""
    return [(member.value, label(member.value)) for member in kind]


# The model each form fills in, by the form's name on the pages (a step's, or "raise").
FORM_MODELS: dict[str, type[BaseModel]] = {step.value: models.submitted for step, models in STEP_MODELS.items()}
FORM_MODELS["raise"] = RaiseStep


def options(form: str, field: str) -> list[tuple[str, str]]:
    """The choices a form's field offers, read from its model (``actions.kind``: the kind of a plan's action)."""
    model: type[BaseModel] = FORM_MODELS[form]
    *inner, last = field.split(".")
    for name in inner:
        model = next(t for t in _types(model.model_fields[name].annotation) if issubclass(t, BaseModel))
    kind = next(t for t in _types(model.model_fields[last].annotation) if issubclass(t, StrEnum))
    return choices(kind)


def _types(annotation: object) -> list[type]:
    """The classes an annotation names, through ``X | None``, ``list[X]`` and ``Annotated[X, ...]``."""
    if isinstance(annotation, type):
        return [annotation]
    return [found for arg in get_args(annotation) for found in _types(arg)]


def people(users: list[User]) -> list[tuple[str, str]]:
    """People as (value, shown) pairs for a select: "Maria Keller (maria, manager)"."""
    return [(user.name, f"{printed_name(user)} ({user.name}, {user.role})") for user in users]


@pass_context
def person(context: Context, name: object, *, short: bool = False) -> str:
    """A person as pages name them: "Maria Keller (maria)", or only "Maria Keller" where space is tight
    (``short``); the login name alone when the directory has no full name (or the page was not given them:
    ``api.deps.web_user`` reads the names once per request)."""
    login = str(name)
    request = context.get("request")
    names: dict[str, str] = getattr(request.state, "full_names", {}) if request is not None else {}
    full = names.get(login)
    if not full or full == login:
        return login
    return full if short else f"{full} ({login})"


def csrf_input(request: Request) -> Markup:
    """The hidden field every form posts; its value must equal the signed cookie (api.app)."""
    token = request.scope["csrftoken"]()
    return Markup('<input type="hidden" name="csrftoken" value="{}">').format(escape(token))


def signing_sentence(step: Step) -> str:
    """What signing ``step``'s form means, for each outcome it may have, as its password field says."""
    meanings = [(outcome, meaning) for (signed, outcome), meaning in MEANINGS.items() if signed is step]
    if len(meanings) == 1:
        said = f"“{meanings[0][1]}”"
    else:
        said = " or ".join(f"“{meaning}” ({label(outcome).replace('-', ' ')})" for outcome, meaning in meanings)
    return f"Your password signs this step as {said}, with your name and the time (UTC)."


# Times and durations read as on every other page, message and terminal: ``models.formatting``; moments in the
# reader's zone (``viewer_zone``).
TEMPLATES.env.filters.update(
    span=formatting.duration,
    when=when,
    local_text=local_text,
    label=label,
    local_input=local_input,
    choices=choices,
    people=people,
    person=person,
    detail=shown_detail,
    sentence=shown_sentence,
    size=formatting.size,
    paused_targets=pauses.paused_targets,  # honest pauses
)
# How many people a record page names as those it waits for; more are counted ("or 4 others").
TEMPLATES.env.globals.update(WAITING_NAMED=6)
TEMPLATES.env.globals.update(
    csrf_input=csrf_input,
    may_see_reports=lambda role: may_see_reports(Role(role)),
    options=options,
    Step=Step,
    STEP_LABELS=STEP_LABELS,
    signing_sentence=signing_sentence,
    shown_zone=shown_zone,
    qms_summary=qms.summary,  # QMS updates that gate closure
)
# Evidence files: what a file input offers, which files show as thumbnails, and where a file goes by default.
TEMPLATES.env.globals.update(
    FILE_ACCEPT=".pdf,.png,.jpg,.jpeg,.webp,.xlsx,.docx,.csv,.txt",
    FILE_TYPES=files.ACCEPTED_NAMES,
    IMAGE_TYPES=files.IMAGES,
    file_target=current_file_target,
)


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
        {
            "user": user,
            "settings": settings,
            "now": datetime.now(UTC),
            "flash": flash,
            "work_count": work_count(request, user),
            "unread_count": unread_count(request, user),
            **context,
        },
        status_code=status,
        headers=headers,
    )
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return response


def problem_page(request: Request, user: User | None, status: int, message: str) -> HTMLResponse:
    return render(request, "problem.html", user, status=status, message=message)


def see(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


def local_path(target: str | None) -> str:
    """``target`` when it is a path on this site, else ``/``: sign-in never sends anyone elsewhere."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    if any(ord(char) < 0x20 for char in target):
        return "/"
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else "/"
