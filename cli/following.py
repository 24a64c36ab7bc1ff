"""Following records from the command line: one's own notifications (`capa notifications mine`, `... read`),
comments with @mentions (`capa comment`) and watching a record (`capa watch`, `capa unwatch`), through the HTTP
API as the acting sign-in."""

from typing import Annotated

import typer

from cli import render
from cli.app import Json, RecordId, UsageProblem, app, notifications_app, post_step, send, show_times


@notifications_app.command("mine")
def notifications_mine(
    ctx: typer.Context,
    unread: Annotated[bool, typer.Option("--unread", help="Only those not marked read yet.")] = False,
    as_json: Json = False,
) -> None:
    """Your notifications in the app, newest first (unread in bold): comments, assignments, reminders..."""
    page = send(ctx, lambda api: api.get("/me/notifications", unread=unread or None, limit=200))
    rows = send(ctx, lambda api: api.all_pages("/me/notifications", unread=unread or None))
    if as_json:
        render.emit_json({"unread": page["unread"], "items": rows})
    else:
        show_times(ctx)
        render.my_notifications_table(rows, unread=page["unread"])


@notifications_app.command("read")
def notifications_read(
    ctx: typer.Context,
    row_id: Annotated[
        int | None, typer.Argument(metavar="ID", help="The notification's id, from `notifications mine`.")
    ] = None,
    every: Annotated[bool, typer.Option("--all", help="Mark every unread notification of yours read.")] = False,
    as_json: Json = False,
) -> None:
    """Mark one of your notifications read, or all of them with --all."""
    if (row_id is None) == (not every):
        raise UsageProblem("give a notification ID or --all (not both)")
    if every:
        answer = send(ctx, lambda api: api.post("/me/notifications/read-all"))
        said = f"{answer['read']} notification(s) marked read"
    else:
        answer = send(ctx, lambda api: api.post(f"/me/notifications/{row_id}/read"))
        said = f"notification {row_id} marked read"
    if as_json:
        render.emit_json(answer)
    else:
        typer.echo(said)


@app.command()
def comment(
    ctx: typer.Context,
    record_id: RecordId,
    text: Annotated[str, typer.Argument(metavar="TEXT", help="The comment; @name tells that person.")],
    as_json: Json = False,
) -> None:
    """Comment on an open record (anyone signed in); each @name must be a person in the directory."""
    post_step(ctx, as_json, "comment added", f"/records/{record_id}/comments", {"text": text})


def _watch(ctx: typer.Context, record_id: str, method: str, as_json: bool) -> None:
    answer = send(ctx, lambda api: api.request(method, f"/records/{record_id}/watch").json())
    if as_json:
        render.emit_json(answer)
    elif answer["watching"]:
        typer.echo(f"{record_id}: you watch it; its notices reach you (watchers: {', '.join(answer['watchers'])})")
    else:
        typer.echo(f"{record_id}: you no longer watch it")


@app.command()
def watch(ctx: typer.Context, record_id: RecordId, as_json: Json = False) -> None:
    """Watch a record: every notice it sends from now on reaches you too."""
    _watch(ctx, record_id, "PUT", as_json)


@app.command()
def unwatch(ctx: typer.Context, record_id: RecordId, as_json: Json = False) -> None:
    """Stop watching a record."""
    _watch(ctx, record_id, "DELETE", as_json)
