"""`capa digest` and `capa notifications`: the overdue digest and the notification outbox."""

from typing import Annotated

import typer

from cli import render
from cli.app import Json, UsageProblem, app, call, notifications_app


@app.command()
def digest(
    ctx: typer.Context,
    now: Annotated[bool, typer.Option("--now", help="Send the overdue digest now.")] = False,
    as_json: Json = False,
) -> None:
    """Send each manager the overdue steps of their people, and admins the whole list (daily by schedule)."""
    if not now:
        raise UsageProblem("pass --now to send the digest now; the schedule sends it daily at CAPA_DIGEST_TIME")
    workflow_id, result = call(ctx, lambda client: client.send_digest_now())
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
    """List notifications, newest first: sent, pending and failed (in red)."""
    rows = call(ctx, lambda client: client.list_notifications(failed_only=failed))
    if as_json:
        render.emit_json([render.notification_json(row) for row in rows])
    else:
        render.notifications_table(rows, failed_only=failed)


@notifications_app.command("retry")
def notifications_retry(
    ctx: typer.Context,
    row_id: Annotated[int, typer.Argument(metavar="ID", help="The notification's id, from `notifications list`.")],
    as_json: Json = False,
) -> None:
    """Deliver a failed notification again."""
    call(ctx, lambda client: client.retry_notification(row_id))
    if as_json:
        render.emit_json({"id": row_id, "retried": True})
    else:
        typer.echo(f"notification {row_id} handed to delivery again")
