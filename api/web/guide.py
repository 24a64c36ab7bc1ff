"""The help page (``/help``): how a record moves through its stages, who takes each step (the rules module's one
table, ``models.rules.WHO_DOES_WHAT``) and the policy in force (deadlines, reminders and escalations per class, the
risk matrix triage uses), read through the client layer like every other page."""

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from api.deps import Client, WebUser
from api.uploads import UploadRefused
from api.web.files import read_form_upload
from api.web.rendering import problem_page, render, see
from client.errors import CapaError
from core.files import FileStore
from models import formatting
from models.enums import Role, Severity
from models.policy import EARLIER_RULES, SeverityPolicy
from models.rules import WHO_DOES_WHAT

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class PolicyRow:
    """One line of the policy table: what it sets, and its value for each class (critical, major, minor)."""

    label: str
    values: list[str]


def _reminders(rules: SeverityPolicy) -> str:
    return ", ".join(formatting.duration(lead) for lead in rules.remind_before) or "none"


def _escalations(rules: SeverityPolicy) -> str:
    return ", ".join(
        f"level {level}: {'at the due time' if not offset else formatting.duration(offset) + ' late'}"
        for level, offset in enumerate(rules.escalate_after, start=1)
    )


def _yes(value: bool) -> str:
    return "yes" if value else "no"


# The deadlines every record keeps, then (under the current rules only) the rules of the process per class.
DEADLINES: tuple[tuple[str, Callable[[SeverityPolicy], str]], ...] = (
    ("Containment", lambda r: formatting.duration(r.containment)),
    ("Root cause", lambda r: formatting.duration(r.root_cause)),
    ("Action plan", lambda r: formatting.duration(r.action_plan)),
    ("Verification", lambda r: formatting.duration(r.verification)),
    ("Effectiveness review opens after", lambda r: formatting.duration(r.effectiveness_after)),
    ("Effectiveness review", lambda r: formatting.duration(r.effectiveness_review)),
    ("Reminders before the due time", _reminders),
    ("Escalation up the line", _escalations),
)
PROCESS_RULES: tuple[tuple[str, Callable[[SeverityPolicy], str]], ...] = (
    (
        "Latest action due, from the plan",
        lambda r: formatting.duration(r.latest_action_due) if r.latest_action_due else "any",
    ),
    ("Quality approves the plan", lambda r: _yes(r.plan_approval)),
    ("Extensions a line manager may approve", lambda r: str(r.extensions_by_line)),
    ("Most extensions of one step", lambda r: str(r.max_extensions)),
    ("Reviewer other than the verifier", lambda r: _yes(r.independent_review)),
    ("Fewest whys", lambda r: str(r.min_whys)),
    ("Escape point required", lambda r: _yes(r.escape_required)),
)


@router.get("/help")
async def help_page(request: Request, user: WebUser, client: Client) -> HTMLResponse:
    return await _help(request, user, client)


async def _help(
    request: Request,
    user: WebUser,
    client: Client,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    site: str = "",
) -> HTMLResponse:
    policy = await client.policy_in_force()
    current = policy.process.rules != EARLIER_RULES
    classes = list(Severity)
    lines = DEADLINES + (PROCESS_RULES if current else ())
    rows = [PolicyRow(label, [shown(policy.severity[severity]) for severity in classes]) for label, shown in lines]
    return render(
        request,
        "help.html",
        user,
        policy=policy,
        current=current,
        classes=classes,
        rows=rows,
        duties=WHO_DOES_WHAT,
        process=policy.process,
        # working-day calendars: each site's, shown since there is no sites page
        site_calendars=[(s.name, await client.site_calendar(s.name)) for s in await client.list_sites()],
        calendar_errors=errors or {},
        calendar_site=site,
        status=status,
    )


# working-day calendars: an admin sets a site's calendar from a .toml file, or adds an .ics file's holidays.
@router.post("/help/calendar")
async def set_site_calendar(request: Request, user: WebUser, client: Client) -> Response:
    if Role(user.role) is not Role.ADMIN:
        return problem_page(request, user, 403, "only an administrator sets a site's calendar")
    try:
        upload = await read_form_upload(request)
    except UploadRefused as refused:
        return await _help(request, user, client, status=refused.status, errors={"file": refused.message})
    site = upload.fields.get("site", "").strip()
    if not upload.files:
        return await _help(request, user, client, status=422, errors={"file": "choose a .toml or .ics file"}, site=site)
    kept = upload.files[0]
    text = FileStore.of(request.app.state.settings).path_of(kept.sha256).read_text(encoding="utf-8", errors="replace")
    ical = kept.name.lower().endswith(".ics") or text.lstrip().upper().startswith("BEGIN:VCALENDAR")
    try:
        await client.import_calendar(site, toml=None if ical else text, ical=text if ical else None, actor=user.name)
    except CapaError as exc:
        # The site named beside the site's choice; anything wrong in the file (hours, holidays, zone) beside the file.
        field = "site" if any(problem.field == "site" for problem in exc.problems) else "file"
        return await _help(request, user, client, status=422, errors={field: exc.message}, site=site)
    return see("/help#calendars")
