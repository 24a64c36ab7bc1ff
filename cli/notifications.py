"""`capa digest` and `capa notifications`: the overdue digest and the notification outbox, through the HTTP API
(managers and admins read the outbox; admins retry and send the digest)."""

from typing import Annotated

import typer

from cli import render
from cli.app import Json, UsageProblem, app, notifications_app, send, show_times


@app.command()
def digest(
    ctx: typer.Context,
    now: Annotated[bool, typer.Option("--now", help="Send the overdue digest now.")] = False,
    as_json: Json = False,
) -> None:
    """Send each manager the overdue steps of their people, and admins the whole list (daily by schedule; admins)."""
    from models.digest import DigestResult  # noqa: PLC0415

    if not now:
        raise UsageProblem("pass --now to send the digest now; the schedule sends it daily at CAPA_DIGEST_TIME")
    answer = send(ctx, lambda api: api.post("/digest"))
    workflow_id = answer.pop("workflow_id")
    result = DigestResult.model_validate(answer)
    if as_json:
        render.emit_json({"workflow_id": workflow_id, **result.model_dump(mode="json")})
    else:
        render.digest_sent(result)


@notifications_app.command("list")
def notifications_list(
    ctx: typer.Context,
    failed: Annotated[bool, typer.Option("--failed", help="Only notifications whose delivery failed.")] = False,
    as_json: Json = False,
) -> None:
    """List notifications, newest first: sent, pending and failed (in red); managers and admins."""
    rows = send(ctx, lambda api: api.all_pages("/notifications", failed=failed or None))
    if as_json:
        render.emit_json([render.notification_json(row) for row in rows])
    else:
        show_times(ctx)
        render.notifications_table(rows, failed_only=failed)


@notifications_app.command("retry")
def notifications_retry(
    ctx: typer.Context,
    row_id: Annotated[int, typer.Argument(metavar="ID", help="The notification's id, from `notifications list`.")],
    as_json: Json = False,
) -> None:
    """Deliver a failed notification again (admins)."""
    send(ctx, lambda api: api.post(f"/notifications/{row_id}/retry"))
    if as_json:
        render.emit_json({"id": row_id, "retried": True})
    else:
        typer.echo(f"notification {row_id} handed to delivery again")
