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
    for row in rows:
        key = ", ".join(f"{k} {v}" for k, v in row["key"].items())
        fired = row["last_fired"] or "never"
        linked = row["linked"] or "-"
        typer.echo(
            f"{row['rule']}  {key}  {row['count']} of {row['threshold']} in {row['window_days']}d  "
            f"last fired {fired}  linked {linked}  owner {row['owner']}"
        )
