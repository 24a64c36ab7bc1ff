"""`capa procedure`: the CAPA procedure revision in force and the open records raised under an older one
(`show`), and quality's signed move of chosen open records to the procedure and policy in force (`move`).

Like the other steps, each move is sent to the HTTP API (``POST /records/{id}/procedure-move``), which signs it
with the password once per record: one signature per record, as the signing model requires."""

from collections.abc import Callable
from typing import Annotated, Any

import typer

from cli import render
from cli.app import Json, PasswordStdin, Reason, app, send, signing_password
from cli.http import Api
from client.errors import CapaError
from models.payloads import StepOutcome

procedure_app = typer.Typer(
    help="The CAPA procedure revision records are raised under, and moving open records to the one in force.",
    no_args_is_help=True,
)
app.add_typer(procedure_app, name="procedure")


@procedure_app.command("show")
def show(ctx: typer.Context, *, as_json: Json = False) -> None:
    """The procedure and policy in force, and the open records raised (or last moved) under another."""
    answer: dict[str, Any] = send(ctx, lambda api: api.get("/procedure"))
    if as_json:
        render.emit_json(answer)
        return
    typer.echo(f"in force: {answer['in_force']}")
    behind = answer["behind"]
    if not behind:
        typer.echo("every open record is under it")
        return
    typer.echo(f"{len(behind)} open record(s) under another:")
    for record in behind:
        typer.echo(f"  {record['id']}  {record['stage']:<14} {record['raised_under']}  {record['title']}")


def _mover(record_id: str, body: dict[str, str]) -> Callable[[Api], StepOutcome]:
    def post(api: Api) -> StepOutcome:
        return StepOutcome.model_validate(api.post(f"/records/{record_id}/procedure-move", body))

    return post


@procedure_app.command("move")
def move(
    ctx: typer.Context,
    *,
    record_ids: Annotated[list[str], typer.Argument(metavar="ID...", help="The open records to move.")],
    reason: Reason,
    password_stdin: PasswordStdin = False,
    as_json: Json = False,
) -> None:
    """Move open records to the procedure and policy in force (quality). Each record's running deadlines keep their
    dues; later windows follow the new policy. Signed with your password, one signature per record."""
    password = signing_password(password_stdin)
    moved: list[dict[str, Any]] = []
    failed = 0
    body = {"reason": reason, "password": password}
    for record_id in record_ids:
        try:
            result = send(ctx, _mover(record_id, body))
        except CapaError as exc:
            failed += 1
            typer.echo(f"{record_id}: not moved: {exc.message}", err=True)
            continue
        if as_json:
            moved.append(render.step_json(result))
        else:
            render.step_done("moved to the procedure in force", result)
    if as_json:
        render.emit_json(moved)
    if failed:
        raise typer.Exit(1)
