"""`capa audit`: check the audit trail's hash chains, and print the chain head published daily.

A command for whoever runs the site: it reads the database directly (like `capa db`) and, to compare open records
with their workflows, asks Temporal directly; with Temporal unreachable it checks the database alone and says so.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cli import render
from cli.app import Json, app
from cli.operations import _on_database

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from core.settings import Settings
    from models.payloads import CapaState
    from models.tables import AdminLogEntry

audit_app = typer.Typer(
    help="The audit trail (site operators): verify every hash chain, read the admin log, print the daily chain head.",
    no_args_is_help=True,
)
app.add_typer(audit_app, name="audit")

# How long to wait for Temporal before checking the database alone.
_TEMPORAL_PATIENCE_S = 5.0


def _record_id(value: str | None) -> str | None:
    """A record id as every record has one; anything else is a usage error before the database is asked."""
    import re  # noqa: PLC0415

    from models.payloads import RECORD_ID_PATTERN  # noqa: PLC0415 - `capa --help` need not load the payloads

    if value is not None and not re.fullmatch(RECORD_ID_PATTERN, value):
        raise typer.BadParameter(f"{value!r} is not a record id (like NC-2026-0001)")
    return value


@audit_app.command("verify")
def audit_verify(
    ctx: typer.Context,
    record_id: Annotated[
        str | None,
        typer.Argument(metavar="ID", help="The record to check, e.g. NC-2026-0001.", callback=_record_id),
    ] = None,
    every: Annotated[bool, typer.Option("--all", help="Every record's chain and the admin log's.")] = False,
) -> None:
    """Recompute hash chains from the database and name what does not match.

    Checks one record's chain (ID), or every record's and the admin log's (--all).
    An open record's chain is also compared with its workflow's, when Temporal
    answers. Prints an OK line for each chain that matches and an error: line for
    each that does not (its first entry that does not match); exits 1 if any
    chain is broken, or if there is no such record.

    An entry removed from the end of the admin log shows only against a daily
    head published before (capa audit head --at).
    """
    from client.errors import CapaError, ErrorKind  # noqa: PLC0415
    from core import audit  # noqa: PLC0415 - the database loads only for the commands that use it

    if (record_id is None) == (not every):
        raise typer.BadParameter("give one record ID or --all")
    settings: Settings = ctx.obj.settings

    def check(engine: Engine) -> list[audit.ChainCheck]:
        live, note = _live_states(settings, audit.open_record_ids(engine, record_id))
        if note:
            typer.echo(note, err=True)
        if record_id is not None:
            try:
                return [audit.verify_record(engine, record_id, live.get(record_id))]
            except audit.UnknownRecord as exc:
                raise CapaError(ErrorKind.NOT_FOUND, str(exc)) from None
        return audit.verify_all(engine, live)

    broken = False
    for done in _on_database(ctx, check):
        if done.mismatch is None:
            typer.echo(done.line())
        else:
            typer.echo(f"error: {done.mismatch}", err=True)
            broken = True
    if broken:
        raise typer.Exit(1)


@audit_app.command("head")
def audit_head(
    ctx: typer.Context,
    at: Annotated[
        str | None,
        typer.Option("--at", metavar="TIME", help="Of the entries made up to this ISO time, with its UTC offset."),
    ] = None,
) -> None:
    """Print the one hash over every chain head, as the database holds them.

    It covers every record's chain head and the admin log's. With --at, only the
    entries made up to that moment count: give the time a published daily head
    names, and the two hashes are the same unless the trail changed since.
    """
    from datetime import datetime  # noqa: PLC0415

    from core import audit  # noqa: PLC0415

    moment = None
    if at is not None:
        try:
            moment = datetime.fromisoformat(at)
        except ValueError:
            raise typer.BadParameter(f"--at: {at!r} is not an ISO time such as 2026-12-04T06:30:00+00:00") from None
        if moment.tzinfo is None:
            raise typer.BadParameter(f"--at: {at!r} needs its UTC offset, such as +00:00")
    typer.echo(_on_database(ctx, lambda engine: audit.chain_head(engine, moment)))


@audit_app.command("log")
def audit_log(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Show the last N entries.", metavar="N")] = 50,
    target: Annotated[
        str | None, typer.Option("--target", metavar="NAME", help="Only the changes to this person's account.")
    ] = None,
    as_json: Json = False,
) -> None:
    """Print the admin log: who changed whom in the directory and API tokens.

    Shows the last N entries, newest last: when (UTC), who made the change, what
    it was, whose account it changed, and the fields before and after it. With
    --json, each entry carries its hash, as capa audit verify recomputes it.
    """
    from core import adminlog  # noqa: PLC0415 - the database loads only for the commands that use it

    entries, _ = _on_database(ctx, lambda engine: adminlog.read_log(engine, target=target, limit=limit))
    entries.reverse()
    if as_json:
        render.emit_json([_entry_json(entry) for entry in entries])
        return
    _log_table(entries)


def _entry_json(entry: AdminLogEntry) -> dict[str, Any]:
    from models import chain  # noqa: PLC0415

    # The time as the entry's hash covers it.
    return {
        "seq": entry.seq,
        "at": chain.moment(entry.at),
        "actor": entry.actor,
        "action": entry.action,
        "target": entry.target,
        "before": json.loads(entry.before),
        "after": json.loads(entry.after),
        "hash": entry.hash,
    }


def _log_table(entries: list[AdminLogEntry]) -> None:
    from rich import box  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415
    from rich.text import Text  # noqa: PLC0415

    from models.formatting import moment  # noqa: PLC0415

    table = Table(
        title="Admin log, newest last", box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True, title_justify="left"
    )
    for header in ("SEQ", "TIME (UTC)", "ACTOR", "ACTION", "TARGET"):
        table.add_column(header, no_wrap=True)
    table.add_column("BEFORE → AFTER", overflow="fold")
    for entry in entries:
        change = change_text(json.loads(entry.before), json.loads(entry.after))
        cells = (str(entry.seq), moment(entry.at).removesuffix(" UTC"), entry.actor, entry.action, entry.target, change)
        table.add_row(*(Text(render.visible(cell)) for cell in cells))
    render.console.print(table)


def change_text(before: dict[str, Any], after: dict[str, Any]) -> str:
    """What an entry changed, a line per field: ``role: owner → manager``; a field that only one side names (a
    person added, a token made) as ``role: → owner`` or ``role: owner →``; ``-`` for nothing (a password set)."""

    def value(fields: dict[str, Any], key: str) -> str | None:
        if key not in fields:
            return None
        shown = fields[key]
        return "(none)" if shown is None else shown if isinstance(shown, str) else json.dumps(shown)

    lines = []
    for key in [*before, *(key for key in after if key not in before)]:
        old, new = value(before, key), value(after, key)
        lines.append(" ".join(part for part in (f"{key}:", old, "→", new) if part is not None))
    return "\n".join(lines) or "-"


def _live_states(settings: Settings, record_ids: list[str]) -> tuple[dict[str, CapaState], str | None]:
    """The workflow state of each of ``record_ids`` that Temporal answers for, and a note when it could not."""
    if not record_ids:
        return {}, None
    try:
        return asyncio.run(_query_states(settings, record_ids)), None
    except Exception as exc:
        # Any failure to reach Temporal leaves the database check to stand alone.
        where = settings.temporal_address
        return {}, f"note: Temporal at {where} did not answer ({type(exc).__name__}); checked the database alone"


async def _query_states(settings: Settings, record_ids: list[str]) -> dict[str, CapaState]:
    from temporalio.service import RPCError  # noqa: PLC0415

    from client.temporal import connect  # noqa: PLC0415
    from workflows.record import RecordWorkflow  # noqa: PLC0415

    temporal = await asyncio.wait_for(connect(settings), _TEMPORAL_PATIENCE_S)
    states: dict[str, CapaState] = {}
    for record_id in record_ids:
        handle = temporal.get_workflow_handle_for(RecordWorkflow.run, record_id)
        try:
            states[record_id] = await asyncio.wait_for(handle.query(RecordWorkflow.state), _TEMPORAL_PATIENCE_S)
        except RPCError:
            continue  # ended (or never started) since the read model saw it open: the database check stands alone
    return states
