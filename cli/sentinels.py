"""``capa sentinels list``: each watched key of the policy's recurrence rules, its count, window, last firing and
linked CAPA."""

import typer

from cli import render
from cli.app import Json, send, sentinels_app


@sentinels_app.command("list")
def sentinels_list(ctx: typer.Context, as_json: Json = False) -> None:
    """List the active recurrence sentinels (quality, managers, administrators)."""
    rows = send(ctx, lambda api: api.get("/sentinels"))
    if as_json:
        render.emit_json(rows)
        return
    if not rows:
        typer.echo("no sentinel is watching a key")
        return
    render.sentinels_table(rows)
