"""`capa login`, `capa whoami` and `capa logout`: the sign-ins the commands for people act with.

`capa login NAME` signs in through the HTTP API (CAPA_API_URL) with NAME's password and keeps the personal API
token it answers, per server and person, in CAPA_CONFIG_DIR/credentials.json (mode 0600). `--as NAME` then picks
which stored sign-in acts; it never acts for anyone who has not signed in here.
"""

import socket
import sys
from typing import Annotated

import typer

from cli import render
from cli.app import Json, UsageProblem, app, typed_password
from client.errors import CapaError, ErrorKind


def _password(name: str) -> str:
    """NAME's password: typed at the terminal (not echoed), or the first line of standard input when that is not
    a terminal (`echo ... | capa login NAME`)."""
    if sys.stdin.isatty():
        return typed_password(f"password for {name}: ")
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise UsageProblem("no password on standard input")
    return password


@app.command()
def login(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", help="Who signs in.")],
    as_json: Json = False,
) -> None:
    """Sign in as NAME (password from the terminal, or standard input when it is not one) and keep the sign-in
    for CAPA_API_URL; run it once for each person you act as."""
    cli = ctx.obj
    password = _password(name)
    body = {"name": name, "password": password, "label": f"capa login on {socket.gethostname()}"[:80]}
    answer = cli.anonymous_api().post("/sign-in", body)
    user = answer["user"]
    store = cli.credentials()
    earlier = store.token(cli.server, user["name"])
    store.store(cli.server, user["name"], answer["token"])
    if earlier is not None:
        _revoke_quietly(cli.server, earlier, user["name"])
    if as_json:
        render.emit_json({"server": cli.server, "user": user})
    else:
        typer.echo(f"signed in as {render.person_with_role(user)} on {cli.server}")


@app.command()
def whoami(ctx: typer.Context, as_json: Json = False) -> None:
    """Who each stored sign-in for CAPA_API_URL is, and which one acts when no --as is given."""
    from cli.http import Api  # noqa: PLC0415

    cli = ctx.obj
    rows = []
    if cli.settings.token is not None:
        rows.append(("CAPA_TOKEN", Api(cli.server, cli.settings.token.get_secret_value())))
    store = cli.credentials()
    names = store.names(cli.server)
    rows.extend((name, Api(cli.server, store.token(cli.server, name), name)) for name in names)
    if not rows:
        raise CapaError(ErrorKind.NOT_ALLOWED, f"not signed in on {cli.server}: run `capa login NAME`")
    default = rows[0][0] if cli.settings.token is not None or len(names) == 1 else None
    answers = []
    for source, api in rows:
        try:
            user = api.get("/me")
            state = "signed in"
        except CapaError as exc:
            if exc.kind is ErrorKind.UNAVAILABLE:
                raise
            user, state = None, f"refused: sign in again (`capa login {source}`)"
        answers.append(
            {
                "sign_in": source,
                "user": user,
                "state": state,
                "acts_by_default": source == default,
            }
        )
    if as_json:
        render.emit_json({"server": cli.server, "sign_ins": answers})
        return
    for answer in answers:
        user = answer["user"]
        who = render.person_with_role(user) if user else answer["sign_in"]
        via = " via CAPA_TOKEN" if answer["sign_in"] == "CAPA_TOKEN" else ""
        mark = "; acts by default" if answer["acts_by_default"] else ""
        typer.echo(f"{who}{via} on {cli.server}: {answer['state']}{mark}")
    if default is None:
        typer.echo("several sign-ins: pass --as NAME to say who acts", err=True)


@app.command()
def logout(
    ctx: typer.Context,
    name: Annotated[
        str | None, typer.Argument(metavar="[NAME]", help="Whose sign-in to end (default: the --as or only one).")
    ] = None,
) -> None:
    """End a stored sign-in: its token is revoked on the server and forgotten here."""
    from cli.http import Api  # noqa: PLC0415

    cli = ctx.obj
    store = cli.credentials()
    who = name or cli.as_user
    if who is None:
        names = store.names(cli.server)
        if not names:
            raise CapaError(ErrorKind.NOT_ALLOWED, f"not signed in on {cli.server}: nothing to log out")
        if len(names) > 1:
            raise UsageProblem(
                f"signed in as {', '.join(names)} on {cli.server}: say whom to log out, capa logout NAME"
            )
        who = names[0]
    token = store.token(cli.server, who)
    if token is None:
        raise CapaError(ErrorKind.NOT_ALLOWED, f"not signed in as {who} on {cli.server}: nothing to log out")
    revoked = "its token revoked"
    try:
        Api(cli.server, token, who).delete("/me/token")
    except CapaError as exc:
        if exc.kind is ErrorKind.UNAVAILABLE:
            raise
        # Revoked or deactivated already: the token acts for no one; forget it all the same.
        revoked = "its token was no longer valid"
    store.forget(cli.server, who)
    typer.echo(f"logged out {who} on {cli.server}: {revoked}")


def _revoke_quietly(server: str, token: str, name: str) -> None:
    """Revoke a sign-in's earlier token, replaced by a new one; one already refused needs nothing more."""
    from cli.http import Api  # noqa: PLC0415

    try:
        Api(server, token, name).delete("/me/token")
    except CapaError as exc:
        if exc.kind is ErrorKind.UNAVAILABLE:
            raise
