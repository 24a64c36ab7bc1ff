"""How the CLI shows things: rich tables for people, JSON documents for scripts.

Times are shown in the zone of whoever signed in (their own, else their home site's: ``show_times_in``, from
``/me``; UTC until a command asks), in the forms of ``models.formatting``: to the minute in table cells, whose
heading names the zone, to the second with the zone's abbreviation elsewhere. A late deadline is shown in red
with how late it is and its escalation level, so the overdue work stands out in every listing. `capa show` fits
the terminal, 80 columns included: long text wraps at word boundaries, and each timeline entry reads as a
sentence (``models.sentences``).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import typer
from pydantic import BaseModel, TypeAdapter
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from models import formatting, qms, recurrence
from models.calendars import deadlines_counted, due_in_working_time
from models.durations import format_duration
from models.enums import ActionKind, ActionStatus, EventKind, OutboxStatus, Severity, Stage
from models.formatting import due_in, duration, size

if TYPE_CHECKING:  # what `capa --help` need not load
    from models.digest import DigestResult
    from models.payloads import CapaState, Event, FileRef, StepOutcome

console = Console(highlight=False)


class _Shown:
    """The zone this command shows times in (one command per process: set once, before printing)."""

    zone: tzinfo = UTC


def show_times_in(zone: tzinfo) -> None:
    """Show every time from here on in ``zone``."""
    _Shown.zone = zone


def moment(at: datetime | None) -> str:
    """``2026-03-12 09:00:00 CET``, in the zone times are shown in."""
    return formatting.moment(at, _Shown.zone)


def minute(at: datetime) -> str:
    """``2026-03-12 09:00`` in the zone times are shown in, for a cell under a heading that names it (``_due``)."""
    return formatting.minute(at, _Shown.zone)


def _due(heading: str = "DUE") -> str:
    """A time column's heading with the zone its cells are in: ``DUE (CET)``."""
    return f"{heading} ({formatting.zone_name(datetime.now(UTC), _Shown.zone)})"


# Lists come from the HTTP API as its JSON documents (``api.schemas``: RecordSummary, UserPublic, TokenPublic,
# NotificationPublic), printed as they are; a record and a step's outcome are parsed back into their models.
Row = dict[str, Any]


class Deadline(BaseModel):
    """A running deadline as the API's DeadlineItem gives it, with its lateness as a duration."""

    record_id: str
    stage: Stage
    severity: Severity
    target: str
    holder: str
    due_at: datetime
    late_by: timedelta
    escalation_level: int
    # The record's title (an API of an earlier release gives none).
    title: str = ""


class WorkRow(BaseModel):
    """A step waiting for the signed-in person, as the API's MyWorkItem gives it."""

    record_id: str
    title: str
    stage: Stage
    severity: Severity
    step: str
    action_id: str | None
    label: str
    target: str
    holder: str
    due_at: datetime | None
    late_by_seconds: int | None
    escalation_level: int
    revised_due_at: datetime | None = None


def deadline_items(items: list[Row]) -> list[Deadline]:
    return [Deadline(**item, late_by=timedelta(seconds=item["late_by_seconds"])) for item in items]


_DATETIME = TypeAdapter(datetime)
_LATE = "bold red"


# --- JSON ---------------------------------------------------------------------------------------------------


def emit_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


def _iso(at: datetime | None) -> str | None:
    """The same ISO form pydantic writes for every other time in a document."""
    return None if at is None else _DATETIME.dump_python(at, mode="json")


def state_json(state: CapaState) -> dict[str, Any]:
    """The whole state, led by the fields a script looks at first; each action carries its own deadline."""
    data = state.model_dump(mode="json")
    for event_data, event in zip(data["events"], state.events, strict=True):
        event_data["details"] = event.facts()
    for action_data, action in zip(data["actions"], state.actions, strict=True):
        action_data["due_at"] = _iso(action.clock.due_at)
        action_data["original_due_at"] = _iso(action.clock.original_due_at)
        action_data["escalation_level"] = action.clock.escalation_level
        # QMS updates that gate closure: the details as read, and a training action's progress.
        action_data["qms"] = qms.summary(action.kind, action.details)
        action_data["training_progress"] = (
            qms.training_progress(action.details or qms.QmsDetails()) if action.kind is ActionKind.TRAINING else None
        )
    head = {
        "id": state.id,
        "stage": state.stage.value,
        "severity": state.severity.value,
        "owner": state.owner,
        "due_at": _iso(state.due_at),
        "escalation_level": state.escalation_level,
        # Procedure-version pinning: "raised under SOP-QA-014 rev C, policy 2026-11".
        "raised_under": state.procedure_line() if state.policy is not None else None,
    }
    return {**head, **data}


def record_json(row: Row) -> dict[str, Any]:
    # Led by the same fields as `capa show --json`, in the same order.
    head = ("id", "stage", "severity", "owner", "due_at", "escalation_level", "title")
    return {**{key: row[key] for key in head}, **row}


def overdue_json(item: Deadline) -> dict[str, Any]:
    return {
        "id": item.record_id,
        "title": item.title,
        "stage": item.stage.value,
        "severity": item.severity.value,
        "target": item.target,
        # The owner of the late step: the action's owner, or for a stage the record's owner; both hold its clock.
        "owner": item.holder,
        "holder": item.holder,
        "due_at": _iso(item.due_at),
        "late_by_seconds": int(item.late_by.total_seconds()),
        "late_by": format_duration(item.late_by),
        "escalation_level": item.escalation_level,
    }


def work_json(item: WorkRow) -> dict[str, Any]:
    """A step of ``capa inbox --json``: the fields of an overdue deadline, and which step it is."""
    late_by = timedelta(seconds=item.late_by_seconds) if item.late_by_seconds is not None else None
    return {
        "id": item.record_id,
        "title": item.title,
        "stage": item.stage.value,
        "severity": item.severity.value,
        "step": item.step,
        "action_id": item.action_id,
        "label": item.label,
        "target": item.target,
        "holder": item.holder,
        "due_at": _iso(item.due_at),
        "revised_due_at": _iso(item.revised_due_at),
        "late_by_seconds": item.late_by_seconds,
        "late_by": format_duration(late_by) if late_by is not None else None,
        "escalation_level": item.escalation_level,
    }


def user_json(user: Row) -> dict[str, Any]:
    # The API never answers a password hash: nothing prints it.
    return user


def token_json(token: Row) -> dict[str, Any]:
    return token


def notification_json(row: Row) -> dict[str, Any]:
    return row


def step_json(result: StepOutcome) -> dict[str, Any]:
    return result.model_dump(mode="json")


# --- people -------------------------------------------------------------------------------------------------


def _due_cell(due: datetime | None, now: datetime, running: bool) -> Text:
    """To the minute, so a listing fits 80 columns; how late under it when it is."""
    if due is None:
        return Text("-")
    if running and due < now:
        return Text(f"{minute(due)}\n{due_in(due, now)}", style=_LATE)
    return Text(minute(due))


# Control characters a person typed (an ANSI escape in a title, say) are shown, not sent to the terminal.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def visible(text: str) -> str:
    """``text`` with its control characters (but newlines and tabs) written as escapes, such as ``\\x1b``."""
    return _CONTROL.sub(lambda found: repr(found.group())[1:-1], text)


def _safe(text: str) -> Text:
    """Text as typed, taken literally: no Rich markup, and control characters shown as escapes."""
    return Text(visible(text))


def _add_row(table: Table, *cells: str | Text, style: str | None = None) -> None:
    table.add_row(*(_safe(cell) if isinstance(cell, str) else cell for cell in cells), style=style)


def _level_cell(level: int) -> Text:
    return Text(f"L{level}", style=_LATE) if level else Text("-")


def _table(title: str, fixed: tuple[str, ...], *flowing: str) -> Table:
    """A table whose ``fixed`` columns never wrap and whose last, ``flowing`` columns share what is left, wrapping
    first when the terminal is narrow (so a record's id is never cut)."""
    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True, title_justify="left")
    for header in fixed:
        table.add_column(header, no_wrap=True)
    for header in flowing:
        table.add_column(header, overflow="fold")
    return table


def step_done(what: str, result: StepOutcome) -> None:
    due = f"; next due {moment(result.due_at)}" if result.due_at else ""
    written = ", ".join(f"#{entry.seq} {entry.kind.value}" for entry in result.entries) or f"#{result.seq}"
    typer.echo(f"{result.record_id}: {what} (timeline {written}); stage now {result.stage.value}{due}")


SHORT_HASH = 12  # hex digits of a SHA-256 shown in a line; `--json` and the record's timeline give it whole


def file_where(to: str) -> str:
    """Where a file went: ``containment``, ``root cause``, ... or ``action A1``."""
    from models.payloads import FILE_STEPS  # noqa: PLC0415 - the payload models load only to show a file

    if to in FILE_STEPS:
        return to.replace("_", " ")
    return f"action {to}"


def file_facts(ref: FileRef) -> str:
    """A file as a person reads it: name, size, type and the start of its SHA-256."""
    return visible(f"{ref.name} ({size(ref.size)}, {ref.media_type}, sha256 {ref.sha256[:SHORT_HASH]})")


def file_line(ref: FileRef) -> str:
    return f"{file_facts(ref)} attached to {file_where(ref.to)}"


def person(name: str, full_name: str | None) -> str:
    """A person as the CLI names them: the login name (what ``--as`` and ``--owner`` take), the full name beside
    it when the directory has one: ``maria (Maria Keller)``."""
    return f"{name} ({full_name})" if full_name and full_name != name else name


def person_with_role(user: Row) -> str:
    """``maria (Maria Keller, manager)``: a user of the API (UserPublic) with their full name and role."""
    said = ", ".join(part for part in (user.get("full_name"), user["role"]) if part)
    return f"{user['name']} ({said})"


def users_table(users: list[Row]) -> None:
    table = _table("Users", ("NAME", "FULL NAME", "ROLE", "MANAGER", "SIGN-IN", "SITE"), "EMAIL")
    for user in users:
        sign_in = "inactive" if not user["active"] else ("password" if user["can_sign_in"] else "-")
        site = user.get("site") or "default"
        _add_row(
            table,
            user["name"],
            user.get("full_name") or "-",
            user["role"],
            user["manager"] or "-",
            sign_in,
            site + (f" ({user['time_zone']})" if user.get("time_zone") else ""),
            user["email"] or "-",
        )
    console.print(table)


def sites_table(sites: list[Row]) -> None:
    table = _table("Sites", ("NAME", "TIME ZONE", "NOW"))
    now = datetime.now(UTC)
    for site in sites:
        name = site["name"] + (" (default)" if site["default"] else "")
        _add_row(table, name, site["time_zone"], formatting.moment(now, ZoneInfo(site["time_zone"])))
    console.print(table)


def sentinels_table(rows: list[Row]) -> None:
    """Each watched key: what its window holds, how far the next firing is, and the CAPA it opened."""
    table = _table(
        "Recurrence sentinels", ("RULE", "IN WINDOW", "TOWARD FIRING", _due("LAST FIRED"), "LINKED", "OWNER"), "KEY"
    )
    for row in rows:
        fired = _instant(row["last_fired"])
        _add_row(
            table,
            row["rule"],
            f"{row['count']} in {row['window_days']}d",
            f"{row['pending']} of {row['threshold']}",
            minute(fired) if fired else "never",
            row["linked"] or "-",
            row["owner"],
            ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in row["key"].items()),
        )
    console.print(table)


def tokens_table(tokens: list[Row]) -> None:
    if not tokens:
        console.print("no API tokens")
        return
    table = _table("API tokens", ("ID", "USER", "PREFIX", _due("CREATED"), "LAST USED", "STATE"), "LABEL")
    for token in tokens:
        last_used = _instant(token["last_used_at"])
        _add_row(
            table,
            str(token["id"]),
            token["user_name"],
            token["prefix"] + "…",
            minute(_DATETIME.validate_python(token["created_at"])),
            minute(last_used) if last_used else "never",
            "revoked" if token["revoked_at"] else "active",
            token["label"],
        )
    console.print(table)


def _instant(text: str | None) -> datetime | None:
    return None if text is None else _DATETIME.validate_python(text)


def records_table(rows: list[Row], now: datetime, title: str = "Records, soonest due first") -> None:
    if not rows:
        console.print("no records match")
        return
    table = _table(title, ("ID", "SEVERITY", "STAGE", "OWNER", _due(), "ESC"), "TITLE")
    for row in rows:
        _add_row(
            table,
            row["id"],
            row["severity"],
            row["stage"],
            row["owner"],
            _due_cell(_instant(row["due_at"]), now, Stage(row["stage"]).is_open),
            _level_cell(row["escalation_level"]),
            row["title"],
        )
    console.print(table)


def similar_table(hits: list[Row]) -> None:
    """Each record found, its title over the words around the match (the matched ones in [brackets])."""
    if not hits:
        console.print("no similar records")
        return
    table = _table("Similar records, best match first", ("ID", "SEVERITY", "STAGE", _due("RAISED")), "TITLE / MATCHED")
    for hit in hits:
        raised = minute(_DATETIME.validate_python(hit["raised_at"]))
        matched = f"{hit['title']}\n{hit['snippet']}"
        _add_row(table, hit["record_id"], hit["severity"], hit["stage"], raised, matched)
    console.print(table)


def inbox_table(items: list[WorkRow]) -> None:
    if not items:
        console.print("nothing is waiting for you")
        return
    now = datetime.now(UTC)
    table = _table("Your work, soonest due first", ("ID", _due(), "ESC"), "STEP", "TITLE")
    for item in items:
        _add_row(
            table,
            item.record_id,
            _due_cell(item.due_at, now, True),
            _level_cell(item.escalation_level),
            item.label,
            item.title,
        )
    console.print(table)


def overdue_table(items: list[Deadline]) -> None:
    if not items:
        console.print("nothing is overdue")
        return
    table = _table("Overdue, most urgent first", ("ID", "STAGE", "TARGET", "HOLDER", _due(), "LATE BY", "ESC"), "TITLE")
    for item in items:
        _add_row(
            table,
            item.record_id,
            item.stage.value,
            item.target,
            item.holder,
            minute(item.due_at),
            Text(duration(item.late_by), style=_LATE),
            _level_cell(item.escalation_level),
            item.title,
        )
    console.print(table)


def digest_sent(result: DigestResult) -> None:
    if not result.recipients and not result.already_sent:
        typer.echo("nothing is overdue; no digest sent")
        return
    day = result.day.removeprefix("DIGEST-")
    if result.recipients:
        typer.echo(f"overdue digest for {day} sent to:")
        for name, count in result.recipients.items():
            typer.echo(f"  {name}: {_items(count)}")
    if result.already_sent:
        typer.echo(f"already sent the {day} digest earlier, not sent again:")
        for name, count in result.already_sent.items():
            typer.echo(f"  {name}: {_items(count)}")


def _items(count: int) -> str:
    return f"{count} item" if count == 1 else f"{count} items"


def notifications_table(rows: list[Row], *, failed_only: bool = False) -> None:
    if not rows:
        console.print("no failed notifications" if failed_only else "no notifications")
        return
    table = _table(
        "Notifications, newest first",
        ("ID", _due("CREATED"), "KIND", "RECORD", "RECIPIENT", "CHANNEL", "STATUS", "ATTEMPTS"),
        "LAST ERROR",
    )
    for row in rows:
        _add_row(
            table,
            str(row["id"]),
            minute(_DATETIME.validate_python(row["created_at"])),
            row["kind"],
            row["record_id"],
            row["recipient"],
            row["channel"],
            row["status"],
            str(row["attempts"]),
            row["last_error"] or "-",
            style=_LATE if row["status"] == OutboxStatus.FAILED.value else None,
        )
    console.print(table)


def show_state(
    state: CapaState,
    now: datetime,
    full_names: dict[str, str | None] | None = None,
    links: list[Row] | None = None,
) -> None:
    """The record for a person; ``full_names`` (the directory's, by login name) are shown beside its people;
    ``links`` are its links both ways, as the API lists them (``LinkedRecord``)."""
    names = full_names or {}
    console.print(_safe(f"{state.id}  {state.title}"), style="bold")
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="dim", no_wrap=True)
    facts.add_column(overflow="fold")
    for label, value in _facts(state, now, names):
        _add_row(facts, label, value)
    console.print(facts)
    if state.actions:
        console.print(_actions_table(state, now, names))
    # QMS updates that gate closure: the plan's affected documents, or none with its justification.
    if state.affected_documents:
        console.print(f"Affected QMS documents: {', '.join(state.affected_documents)}")
    elif state.affected_documents is not None:
        console.print(f"Affected QMS documents: none ({state.no_documents_justification or 'no justification'})")
    if state.criteria:
        console.print(_criteria_table(state))
    # recurrence: beside each criterion, the matching nonconformities raised in the effectiveness window
    if window := recurrence.window_data(state):
        console.print(_window_table(window))
    if links:
        console.print(_links_table(links))
    if state.files:
        console.print(_files_table(state))
    console.print(_timeline_table(state.events))


def _facts(state: CapaState, now: datetime, names: dict[str, str | None]) -> list[tuple[str, str | Text]]:
    running = bool(state.open_clocks())
    due = Text(moment(state.due_at))
    if running and state.due_at is not None and state.due_at < now:
        due = Text(f"{moment(state.due_at)}, {due_in(state.due_at, now)}", style=_LATE)
    clock = state.clock
    if clock is not None and clock.due_at == state.due_at and clock.original_due_at != clock.due_at:
        # The stage's own due, extended: lateness still counts against the original due.
        due.append(f" (originally {moment(clock.original_due_at)})")
    if due_in_working_time(state):
        due.append(" (working time)")
    facts: list[tuple[str, str | Text]] = [
        ("stage", f"{state.stage.value} (cycle {state.cycle}, round {state.round})"),
        ("severity", _severity_fact(state)),
        ("owner", person(state.owner, names.get(state.owner))),
        ("due", due),
        ("escalation", _level_cell(state.escalation_level)),
        ("raised", f"{moment(state.raised_at)} by {state.raised_by} ({state.source.value})"),
        ("site", state.site or "the default site"),
        # working-day calendars: how the record's deadlines are counted
        ("deadlines", f"in {deadlines_counted(state, state.site or 'the default site')}"),
        ("description", state.description),
    ]
    concerns = ", ".join(
        f"{label} {value}"
        for label, value in (
            ("defect code", state.defect_code),
            ("supplier", state.supplier),
            ("customer", state.customer),
        )
        if value is not None
    )
    if concerns:
        facts.append(("concerns", concerns))
    if state.triage is not None:
        facts.append(("triage", _triage_fact(state)))
    affected = ", ".join(
        f"{label} {value}"
        for label, value in (("product", state.product), ("lot", state.lot), ("quantity", state.quantity))
        if value is not None
    )
    if affected:
        facts.append(("affected", affected))
    if state.policy is not None:
        facts.append(("policy", f"{state.policy.name} ({state.policy.digest})"))
        facts.append(("procedure", state.procedure_line()))  # procedure-version pinning
    if state.containment is not None:
        facts.extend(_containment_facts(state))
    if state.root_causes:
        latest = state.root_causes[-1]
        facts.append(("root cause", f"{latest.method.value}: {latest.cause}"))
    if state.effectiveness_due_at is not None:
        facts.append(("effectiveness due", moment(state.effectiveness_due_at)))
    if state.pending_plan is not None:
        pending = state.pending_plan
        added = f", adding {', '.join(pending.added)}" if pending.added else ""
        rescoped = f", re-scoping {', '.join(pending.previous)}" if pending.previous else ""
        facts.append(
            (
                "awaiting approval",
                f"{pending.what}{added}{rescoped}, by {pending.submitted_by} {moment(pending.submitted_at)}: "
                "quality approves or returns it",
            )
        )
    requests = [state.pending_extension] if state.pending_extension is not None else state.pending_extensions
    for ext in requests:
        target = ext.action_id or "stage"
        late = ", LATE (asked after its due)" if ext.late else ""
        clock = state.clock if ext.action_id is None else getattr(state.action(ext.action_id), "clock", None)
        original = clock.original_due_at if clock is not None else ext.current_due_at
        was_due = f"due {moment(ext.current_due_at)}"
        if original != ext.current_due_at:
            was_due += f", originally {moment(original)}"
        facts.append(
            (
                "extension",
                f"{target} to {moment(ext.until)} ({was_due}; extension {ext.number}{late}) "
                f"asked by {ext.requested_by}: {ext.reason}",
            )
        )
    if state.cancel_reason is not None:
        category = f"{state.cancel_category.value}: " if state.cancel_category is not None else ""
        facts.append(("cancelled", f"{category}{state.cancel_reason}"))
    if state.closed_at is not None:
        facts.append(("ended", moment(state.closed_at)))
    return facts


WIDE = 100  # columns from which the actions table has room for each owner's full name


def _actions_table(state: CapaState, now: datetime, names: dict[str, str | None]) -> Table:
    table = _table("Actions", ("ID", "KIND", "OWNER", _due(), "STATUS", "ESC"), "DESCRIPTION")
    for action in state.actions:
        running = action.status is ActionStatus.OPEN
        status = action.status.value
        if action.completed_by:
            status += f"\nby {action.completed_by}"
        # The full name under the login name where the terminal leaves the description room for it.
        full_name = names.get(action.owner) if console.width >= WIDE else None
        owner = f"{action.owner}\n{full_name}" if full_name else action.owner
        due = _due_cell(action.clock.due_at, now, running)
        if action.clock.original_due_at != action.clock.due_at:
            due.append(f"\nwas {minute(action.clock.original_due_at)}", style="dim")
        _add_row(
            table,
            action.id,
            action.kind.value,
            owner,
            due,
            status,
            _level_cell(action.clock.escalation_level),
            "\n".join([action.description, *qms.summary(action.kind, action.details)]),
        )
    return table


def _severity_fact(state: CapaState) -> str:
    """The class; under the current rules, whether triage has set it yet and what it was raised as."""
    if state.under_current_rules and state.triage is None and state.stage.is_open:
        return f"{state.severity.value} (provisional, until quality's triage)"
    if state.provisional_severity is not None and state.provisional_severity is not state.severity:
        return f"{state.severity.value} (raised as {state.provisional_severity.value})"
    return state.severity.value


def _triage_fact(state: CapaState) -> str:
    """``major (severity 4, occurrence 2), capa; customer notification`` with who triaged it and why."""
    triage = state.triage
    assert triage is not None
    flags = [
        label
        for label, on in (
            ("customer notification", triage.customer_notification),
            ("regulatory report", triage.regulatory_report),
            ("field action", triage.field_action),
        )
        if on
    ]
    said = (
        f"{triage.risk_class.value} (severity {triage.severity_level}, occurrence {triage.occurrence_level}), "
        f"{triage.decision.value}; {', '.join(flags) or 'nothing to report'}; by {triage.by} {moment(triage.at)}"
    )
    return f"{said}: {triage.rationale}" if triage.rationale else said


def _containment_facts(state: CapaState) -> list[tuple[str, str | Text]]:
    containment = state.containment
    assert containment is not None
    facts: list[tuple[str, str | Text]] = [("containment", f"{containment.disposed()}: {containment.summary}")]
    if containment.shipped or containment.customers_told is not None:
        told = {True: ", customers told", False: ", customers not told", None: ""}
        facts.append(("shipped", f"{containment.shipped or 0}{told[containment.customers_told]}"))
    if containment.concession is not None:
        concession = containment.concession
        reference = f" (customer approval {concession.customer_approval})" if concession.customer_approval else ""
        granted = f"by {concession.by} {moment(concession.at)}{reference}"
        facts.append(("concession", f"{granted}: {concession.justification}"))
    elif containment.needs_concession:
        facts.append(("concession", Text("needed from quality (use-as-is or rework)", style=_LATE)))
    return facts


def _criteria_table(state: CapaState) -> Table:
    """The effectiveness criteria set in advance, with the latest review's judgement of each."""
    results = {result.criterion: result for result in (state.reviews[-1].criteria_results if state.reviews else [])}
    table = _table("Effectiveness criteria", ("#", "WINDOW", "RESULT"), "MEASURE")
    for number, criterion in enumerate(state.criteria, start=1):
        windows = (
            (criterion.window_days, "days"),
            (criterion.window_lots, "lots"),
            (criterion.window_units, "units"),
        )
        window = ", ".join(f"{count} {unit}" for count, unit in windows if count is not None) or "-"
        result = results.get(number)
        verdict = "-" if result is None else ("met" if result.met else "not met")
        measured = (
            f"{criterion.measure}: baseline {criterion.baseline}, threshold {criterion.threshold}, "
            f"from {criterion.data_source}"
        )
        if result is not None:
            measured += f"; data: {result.data}"
        _add_row(table, str(number), window, verdict, measured)
    return table


def _links_table(links: list[Row]) -> Table:
    table = _table("Linked records", ("KIND", "RECORD", "STAGE", "BY"), "TITLE")
    for linked in links:
        _add_row(
            table,
            linked["kind"],
            linked["record_id"],
            linked.get("stage") or "-",
            linked["by"],
            linked.get("title") or "-",
        )
    return table


def process_rules(rules: Row) -> None:
    """`capa process`: who does what, the risk matrix (severity by occurrence) with each level's wording, and the
    defect codes, as ``GET /api/v1/process`` gives them."""
    console.print(_safe(f"Process rules: {rules['rules']}"), style="bold")
    duties = _table("Who does what", ("STEP", "SIGNED"), "WHO")
    duties.add_column("INDEPENDENCE", overflow="fold")
    for duty in rules["who_does_what"]:
        _add_row(duties, duty["step"], "yes" if duty["signed"] else "no", duty["who"], duty["independence"] or "-")
    console.print(duties)
    if not rules.get("matrix"):
        return
    occurrence = rules["occurrence_levels"]
    matrix = _table("Risk matrix: class by severity (rows) and occurrence (columns)", ("SEVERITY",))
    for level in range(1, 6):
        matrix.add_column(f"O{level}", no_wrap=True)
    for level, row in enumerate(rules["matrix"], start=1):
        _add_row(matrix, f"S{level}", *row)
    console.print(matrix)
    words = _table("Levels", ("LEVEL",), "MEANING")
    for level, meaning in rules["severity_levels"].items():
        _add_row(words, f"S{level}", meaning)
    for level, meaning in occurrence.items():
        _add_row(words, f"O{level}", meaning)
    console.print(words)
    codes = _table("Defect codes", ("CODE",), "MEANING")
    for code, meaning in rules["defect_codes"].items():
        _add_row(codes, code, meaning)
    console.print(codes)


def _files_table(state: CapaState) -> Table:
    """The evidence files by what they are attached to, steps in lifecycle order, then each action's."""
    from models.payloads import FILE_STEPS  # noqa: PLC0415

    table = _table("Files", ("FOR",), "FILE")
    targets = [*FILE_STEPS, *(action.id for action in state.actions)]
    for target in targets:
        for ref in state.files_of(target):
            _add_row(table, file_where(target), file_facts(ref))
    return table


def _timeline_table(events: list[Event]) -> Table:
    """Each entry with its number and time, and what happened as a sentence that wraps."""
    from models.sentences import sentence  # noqa: PLC0415 - the payload models load only for `capa show`

    table = _table("Timeline", ("#", "AT"), "WHAT")
    for event in events:
        style = _LATE if event.kind is EventKind.ESCALATED else None
        _add_row(table, str(event.seq), moment(event.at), sentence(event, _Shown.zone), style=style)
    return table


def my_notifications_table(rows: list[Row], *, unread: int) -> None:
    """One's own notifications, newest first: the unread ones in bold, each with its record and subject."""
    if not rows:
        console.print("no notifications")
        return
    table = _table(
        f"Your notifications, newest first ({unread} unread)", ("ID", _due("CREATED"), "RECORD", "KIND"), "SUBJECT"
    )
    for row in rows:
        _add_row(
            table,
            str(row["id"]),
            minute(_DATETIME.validate_python(row["created_at"])),
            row["record_id"],
            row["kind"],
            formatting.moments_in(row["subject"], _Shown.zone),
            style="bold" if row["read_at"] is None else None,
        )
    console.print(table)


def figure_table(figure: dict[str, Any]) -> None:
    """One management-review figure's table (``capa stats``); an empty one says so."""
    table = _table(figure["title"], tuple(figure["headings"]))
    for row in figure["rows"]:
        table.add_row(*("-" if cell is None else str(cell) for cell in row))
    if figure["rows"]:
        console.print(table)
    else:
        console.print(f"{figure['title']}: nothing in the period")


# --- recurrence ---


def _window_table(window: list[recurrence.CriterionWindow]) -> Table:
    """Beside each effectiveness criterion, how many matching nonconformities were raised in the window, and when."""
    table = _table("Effectiveness window", ("#", "MATCHING"), "RAISED IN THE WINDOW")
    for row in window:
        raised = ", ".join(f"{seen.record_id} ({moment(seen.at)})" for seen in row.seen) or "-"
        _add_row(table, "-" if row.number is None else str(row.number), str(row.count), raised)
    return table
