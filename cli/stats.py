"""`capa stats`: the management-review figures (managers, quality, admins), through the HTTP API."""

from typing import TYPE_CHECKING, Annotated

import typer

from cli import render
from cli.app import Json, app, send
from models.enums import Severity, Source

if TYPE_CHECKING:
    from cli.http import Api


@app.command()
def stats(
    ctx: typer.Context,
    *,
    since: Annotated[
        str | None, typer.Option(metavar="DATE", help="First day of the period, e.g. 2026-01-01 (default: a year ago).")
    ] = None,
    until: Annotated[str | None, typer.Option(metavar="DATE", help="Last day of the period (default: today).")] = None,
    severity: Annotated[Severity | None, typer.Option(help="Only records of this class.")] = None,
    source: Annotated[Source | None, typer.Option(help="Only records found this way.")] = None,
    product: Annotated[str | None, typer.Option(help="Only records of this product.")] = None,
    figure: Annotated[
        str | None, typer.Option(metavar="NAME", help="Only this figure: cycle-time, rates, pareto-cause, ...")
    ] = None,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print the figure's table as CSV (needs --figure).")] = False,
    as_json: Json = False,
) -> None:
    """Figures for management review: opened and closed per month, cycle time per stage, on-time and extension
    rates, overdue ageing, Pareto charts, recurrence, first-time effectiveness, open work per person."""
    params = {
        "since": since,
        "until": until,
        "severity": severity.value if severity else None,
        "source": source.value if source else None,
        "product": product,
        "figure": figure,
    }
    given = {key: value for key, value in params.items() if value is not None}

    def read(api: "Api") -> object:
        if as_csv:
            return api.request("GET", "/stats", params={**given, "format": "csv"}).text
        return api.get("/stats", **given)

    found = send(ctx, read)
    if isinstance(found, str):
        typer.echo(found, nl=False)
    elif as_json:
        render.emit_json(found)
    else:
        assert isinstance(found, dict)
        filters = found["filter"]
        render.console.print(f"{filters['since']} to {filters['until']}")
        for table in found["figures"]:
            render.figure_table(table)
