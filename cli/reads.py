"""`capa show`, `capa list` and `capa overdue`: reading records."""

from datetime import UTC, datetime
from typing import Annotated

import typer

from cli import render
from cli.app import Json, RecordId, app, call
from models.enums import Stage


@app.command()
def show(ctx: typer.Context, record_id: RecordId, as_json: Json = False) -> None:
    """Show a record: state, deadlines, actions and the whole timeline."""
    state, stale = call(ctx, lambda client: client.show_record(record_id))
    if stale:
        typer.echo(f"note: {record_id} is shown as the read model last recorded it: {stale}", err=True)
    if as_json:
        # Scripts learn where the state came from as people do: ``stale`` says why it is not live, or is null.
        render.emit_json({**render.state_json(state), "stale": stale})
    else:
        render.show_state(state, datetime.now(UTC))


@app.command("list")
def list_records(
    ctx: typer.Context,
    stage: Annotated[Stage | None, typer.Option(help="Only records in this stage.")] = None,
    owner: Annotated[str | None, typer.Option(help="Only records this person owns or holds an action of.")] = None,
    overdue: Annotated[bool, typer.Option("--overdue", help="Only records with a late deadline.")] = False,
    as_json: Json = False,
) -> None:
    """List records, soonest due first."""
    rows = call(ctx, lambda client: client.list_records(stage=stage, owner=owner, overdue=overdue))
    if as_json:
        render.emit_json([render.record_json(row) for row in rows])
    else:
        render.records_table(rows, datetime.now(UTC))


@app.command()
def overdue(ctx: typer.Context, as_json: Json = False) -> None:
    """What is late: whose, how late, at which escalation level; most urgent first."""
    items = call(ctx, lambda client: client.overdue())
    if as_json:
        render.emit_json([render.overdue_json(item) for item in items])
    else:
        render.overdue_table(items)
