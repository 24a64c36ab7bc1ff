"""`capa show`, `capa list` (and its export), `capa similar`, `capa overdue`, `capa inbox` and `capa report`:
reading records, through the HTTP API."""

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cli import render
from cli.app import Json, RecordId, UsageProblem, app, send, show_times, write_file
from client.errors import CapaError, ErrorKind
from models.enums import Severity, Source, Stage

if TYPE_CHECKING:
    from cli.http import Api
    from models.payloads import CapaState

# Where the API says a shown record came from; "read-model" when its workflow did not answer.
SHOWN_FROM = "Capa-Shown-From"


@app.command()
def show(ctx: typer.Context, record_id: RecordId, as_json: Json = False) -> None:
    """Show a record: state, triage, deadlines, actions, criteria, links both ways and the whole timeline."""

    def read(api: "Api") -> "tuple[CapaState, str | None]":
        from models.payloads import CapaState  # noqa: PLC0415

        response = api.request("GET", f"/records/{record_id}")
        stale = "its workflow did not answer" if response.headers.get(SHOWN_FROM) == "read-model" else None
        return CapaState.model_validate(response.json()), stale

    state, stale = send(ctx, read)
    linked = _links_of(ctx, state)
    # The people of the record by their full names too; a script has the login names, as the record keeps them.
    full_names = {} if as_json else {u["name"]: u["full_name"] for u in send(ctx, lambda api: api.all_pages("/users"))}
    if stale:
        typer.echo(f"note: {record_id} is shown as the read model last recorded it: {stale}", err=True)
    if as_json:
        # Scripts learn where the state came from as people do: ``stale`` says why it is not live, or is null.
        render.emit_json({**render.state_json(state), "linked": linked, "stale": stale})
    else:
        show_times(ctx)
        render.show_state(state, datetime.now(UTC), full_names, linked)


def _links_of(ctx: typer.Context, state: "CapaState") -> list[dict[str, object]]:
    """The record's links both ways: it keeps only those it made, the API knows those made to it too. An API of
    an earlier release has no such list: then the record's own links, one way."""
    try:
        links: list[dict[str, object]] = send(ctx, lambda api: api.get(f"/records/{state.id}/links"))["links"]
    except CapaError as exc:
        if exc.kind is not ErrorKind.NOT_FOUND:
            raise
        return [link.model_dump(mode="json") for link in state.links]
    return links


def _day(help_text: str) -> Any:
    """A date option of `capa list`; a bad value is refused by the API, naming the option."""
    return typer.Option(metavar="YYYY-MM-DD", help=help_text, show_default=False)


@app.command("list")
def list_records(
    ctx: typer.Context,
    *,
    search: Annotated[
        str | None, typer.Option("--search", "-q", metavar="WORDS", help="Only records whose text holds every word.")
    ] = None,
    stage: Annotated[Stage | None, typer.Option(help="Only records in this stage.")] = None,
    severity: Annotated[Severity | None, typer.Option(help="Only records of this severity.")] = None,
    source: Annotated[Source | None, typer.Option(help="Only records found this way.")] = None,
    owner: Annotated[str | None, typer.Option(help="Only records this person owns or holds an action of.")] = None,
    product: Annotated[str | None, typer.Option(help="Only records of this product (any case).")] = None,
    lot: Annotated[str | None, typer.Option(help="Only records of this lot (any case).")] = None,
    site: Annotated[str | None, typer.Option(help="Only records of this site (`capa sites list`).")] = None,
    overdue: Annotated[bool, typer.Option("--overdue", help="Only records with a late deadline.")] = False,
    raised_from: Annotated[str | None, _day("Raised on or after this day (UTC).")] = None,
    raised_to: Annotated[str | None, _day("Raised on or before this day (UTC).")] = None,
    closed_from: Annotated[str | None, _day("Closed on or after this day (UTC).")] = None,
    closed_to: Annotated[str | None, _day("Closed on or before this day (UTC).")] = None,
    due_from: Annotated[str | None, _day("Due on or after this day (UTC).")] = None,
    due_to: Annotated[str | None, _day("Due on or before this day (UTC).")] = None,
    sort: Annotated[
        str | None,
        typer.Option(
            metavar="COLUMN", help="id, raised_at, due_at, severity, stage, owner or title.", show_default=False
        ),
    ] = None,
    desc: Annotated[bool, typer.Option("--desc", help="Sort in descending order.")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Write the list as CSV to standard output.")] = False,
    xlsx: Annotated[
        Path | None,
        typer.Option("--xlsx", metavar="FILE", help="Write the list as an Excel workbook.", dir_okay=False),
    ] = None,
    as_json: Json = False,
) -> None:
    """List records, soonest due first unless --sort says otherwise; filter by words, stage, severity, dates..."""
    filters = {
        "q": search,
        "stage": stage,
        "severity": severity,
        "source": source,
        "owner": owner,
        "product": product,
        "lot": lot,
        "site": site,
        "overdue": overdue or None,
        "raised_from": raised_from,
        "raised_to": raised_to,
        "closed_from": closed_from,
        "closed_to": closed_to,
        "due_from": due_from,
        "due_to": due_to,
        "sort": sort,
        "direction": "desc" if desc else None,
    }
    if as_csv and xlsx is not None:
        raise UsageProblem("--csv and --xlsx: give one; --csv writes to standard output, --xlsx FILE a workbook")
    if as_csv or xlsx is not None:
        fmt = "csv" if as_csv else "xlsx"
        content = send(
            ctx, lambda api: api.request("GET", "/records/export", params={"format": fmt, **filters}).content
        )
        if xlsx is None:
            sys.stdout.buffer.write(content)
            sys.stdout.buffer.flush()
        else:
            write_file(xlsx, content, "--xlsx")
            typer.echo(f"records written to {xlsx} ({len(content)} bytes)", err=True)
        return
    rows = send(ctx, lambda api: api.all_pages("/records", **filters))
    if as_json:
        render.emit_json([render.record_json(row) for row in rows])
    else:
        order = f"by {sort.replace('_', ' ')}" if sort else "soonest due first"
        show_times(ctx)
        render.records_table(rows, datetime.now(UTC), f"Records, {order}{' (descending)' if desc else ''}")


@app.command()
def similar(
    ctx: typer.Context,
    q: Annotated[
        str,
        typer.Argument(
            metavar="WORDS", help="What to look for, e.g. a title: records sharing any word of it.", show_default=False
        ),
    ],
    exclude: Annotated[
        str | None, typer.Option(metavar="ID", help="Leave out this record (the one being investigated).")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=100, help="At most this many records.")] = 10,
    as_json: Json = False,
) -> None:
    """Earlier similar nonconformities: records sharing words with WORDS, best match first."""
    found = send(ctx, lambda api: api.get("/records/similar", q=q, exclude=exclude, limit=limit))
    if as_json:
        render.emit_json(found["items"])
    else:
        show_times(ctx)
        render.similar_table(found["items"])


@app.command()
def overdue(
    ctx: typer.Context,
    *,
    severity: Annotated[Severity | None, typer.Option(help="Only records of this severity.")] = None,
    stage: Annotated[Stage | None, typer.Option(help="Only records in this stage.")] = None,
    holder: Annotated[str | None, typer.Option(help="Only what this person holds.")] = None,
    team: Annotated[bool, typer.Option("--team", help="Only what the people below you hold (your team).")] = False,
    as_json: Json = False,
) -> None:
    """What is late: whose, how late, at which escalation level; most urgent first."""
    filters = {"severity": severity, "stage": stage, "holder": holder, "team": team or None}
    items = render.deadline_items(send(ctx, lambda api: api.all_pages("/overdue", **filters)))
    if as_json:
        render.emit_json([render.overdue_json(item) for item in items])
    else:
        show_times(ctx)
        render.overdue_table(items)


@app.command()
def inbox(ctx: typer.Context, as_json: Json = False) -> None:
    """Your work: every step you may take now that a record waits for (your steps and actions, verifications,
    reviews, decisions, approvals, triage), soonest due first; late ones in red."""
    items = [render.WorkRow.model_validate(item) for item in send(ctx, lambda api: api.all_pages("/me/items"))]
    if as_json:
        render.emit_json([render.work_json(item) for item in items])
    else:
        show_times(ctx)
        render.inbox_table(items)


@app.command()
def report(
    ctx: typer.Context,
    record_id: RecordId,
    pdf: Annotated[
        Path, typer.Option("--pdf", metavar="FILE", help="Where to write the PDF.", dir_okay=False, writable=True)
    ],
) -> None:
    """Write the record's CAPA report, a PDF an auditor can file: facts, steps, evidence, signatures, timeline."""
    content = send(ctx, lambda api: api.request("GET", f"/records/{record_id}/report.pdf").content)
    write_file(pdf, content, "--pdf")
    typer.echo(f"{record_id}: report written to {pdf} ({len(content)} bytes)")
