"""Running and operating the product: `capa worker`, `capa api`, `capa dev`, `capa db` and `capa records migrate`.

Each command loads what it runs (the worker, the web stack, the migrations) only when it is the one called.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from cli import render
from cli.app import Json, app, call, db_app, records_app

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from core.settings import Settings

T = TypeVar("T")


def _on_database(ctx: typer.Context, work: Callable[[Engine], T]) -> T:
    """Run a schema operation on CAPA_DATABASE_URL; an unreachable database is one line and exit 1."""
    from sqlalchemy.exc import DBAPIError  # noqa: PLC0415 - the database loads only for the commands that use it

    from client.directory import database_unavailable  # noqa: PLC0415
    from core.database import make_engine  # noqa: PLC0415

    engine = make_engine(ctx.obj.settings.sqlalchemy_url)
    try:
        return work(engine)
    except DBAPIError as exc:
        raise database_unavailable(engine.url, exc) from None
    finally:
        engine.dispose()


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Apply the pending migrations: run it before starting the workers of a new release."""
    from core import migrations  # noqa: PLC0415 - Alembic loads only for the schema commands

    result = _on_database(ctx, migrations.upgrade)
    if result.adopted:
        typer.echo(f"adopted the tables from before migrations as revision {migrations.BASELINE}")
    for step in result.steps:
        typer.echo(step.describe())
    if not result.steps:
        typer.echo("database is up to date")


@db_app.command("current")
def db_current(ctx: typer.Context) -> None:
    """Show the database's schema revision and whether it is this release's."""
    from core import migrations  # noqa: PLC0415 - Alembic loads only for the schema commands

    state = _on_database(ctx, migrations.state)
    if state.empty:
        typer.echo(
            f"none: the database is empty (`{migrations.UPGRADE_COMMAND}` or a start creates revision {state.head})"
        )
    elif state.current is None:
        typer.echo(f"none: tables from before migrations; run `{migrations.UPGRADE_COMMAND}`")
    elif state.up_to_date:
        typer.echo(f"{state.current} (head)")
    elif state.known:
        typer.echo(f"{state.current} (behind head {state.head}; run `{migrations.UPGRADE_COMMAND}`)")
    else:
        typer.echo(f"{state.current} (unknown to this release, whose head is {state.head}: a newer one migrated it)")


@db_app.command("revision")
def db_revision(
    message: Annotated[str, typer.Option("--message", "-m", help="What the migration changes, e.g. 'add lot index'.")],
) -> None:
    """For developers: write the next migration from the models' difference to the head schema."""
    from core import migrations  # noqa: PLC0415

    path = migrations.new_revision(message)
    typer.echo(f"wrote {path}; review it, then run `{migrations.UPGRADE_COMMAND}`")


@records_app.command("migrate")
def records_migrate(ctx: typer.Context, as_json: Json = False) -> None:
    """Move every running record of the earlier workflow shape to this release's (run it once the new workers
    are up). Safe to run again; a record refused is named with why, and the exit code is 1 while any is left."""
    from client.records import ENDED_MEANWHILE  # noqa: PLC0415 - the client layer loads only for the commands using it

    settings: Settings = ctx.obj.settings
    moved, refused = call(ctx, lambda capa: capa.migrate_records())
    if as_json:
        render.emit_json({"moved": moved, "not_moved": refused})
    else:
        for record_id in moved:
            typer.echo(f"{record_id}: moved")
        for record_id, reason in sorted(refused.items()):
            typer.echo(f"{record_id}: not moved: {reason}")
        if moved or refused:
            typer.echo(f"{len(moved)} moved, {len(refused)} not moved")
        else:
            where = f"namespace {settings.temporal_namespace} at {settings.temporal_address}"
            typer.echo(f"no running record of the earlier shape in {where}: nothing to move")
    left = [record_id for record_id, reason in refused.items() if reason != ENDED_MEANWHILE]
    if left:
        # Records are left on the earlier shape: a release script must not carry on as if all were moved.
        typer.echo(f"error: {len(left)} left on the earlier shape; run `capa records migrate` again", err=True)
        raise typer.Exit(1)


@app.command()
def worker() -> None:
    """Run a worker: it executes every record's workflow and keeps the read model current."""
    from worker import main  # noqa: PLC0415 - the worker loads only for the command that runs it

    main()


@app.command()
def api(
    ctx: typer.Context,
    host: Annotated[
        str | None, typer.Option(help="Address to listen on (default: $CAPA_API_HOST or 127.0.0.1).")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port to listen on (default: $CAPA_API_PORT or 8000).", min=1, max=65535)
    ] = None,
) -> None:
    """Serve the HTTP API (/api/v1, docs at /docs) and the web app."""
    from api.server import serve  # noqa: PLC0415 - the web stack is imported only by the command that serves it
    from core.logging import configure_logging  # noqa: PLC0415

    settings: Settings = ctx.obj.settings
    configure_logging(settings.log_format, settings.log_level)
    raise typer.Exit(serve(settings, host or settings.api_host, port or settings.api_port))


@app.command()
def dev(ctx: typer.Context) -> None:
    """Run the whole product locally: Temporal dev server, demo users and a worker (what `make run` does)."""
    from cli import devstack  # noqa: PLC0415 - the dev stack loads only for the command that runs it

    raise typer.Exit(devstack.run(ctx.obj.settings))
