"""`capa users` and `capa tokens`: the directory of people, their notification preferences, and API tokens."""

from typing import Annotated

import typer

from cli import render
from cli.app import Json, UsageProblem, call_directory, tokens_app, users_app
from models.enums import NOTIFIED_KINDS, Role

# Who the admin log names for a change made here: whoever runs the CLI on the site holds its credentials.
SITE_OPERATOR = "site-operator"


@users_app.command("add")
def users_add(
    ctx: typer.Context,
    *,
    name: Annotated[str, typer.Argument(metavar="NAME", help="Login name: letters, digits and . _ @ -")],
    role: Annotated[Role, typer.Option(help="What they may do.")],
    manager: Annotated[str | None, typer.Option(help="Who escalations about their steps go to.")] = None,
    email: Annotated[str | None, typer.Option(help="Where their notifications go.")] = None,
    as_json: Json = False,
) -> None:
    """Add a user to the directory (administrators; writes the database directly)."""
    user = call_directory(ctx, lambda client: client.add_user(name, role, manager, email, actor=SITE_OPERATOR))
    if as_json:
        render.emit_json(render.user_json(user))
    else:
        typer.echo(f"added {user.name} ({user.role})")


@users_app.command("passwd")
def users_passwd(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", help="The user whose sign-in password to set.")],
    password: Annotated[
        str,
        typer.Option(
            prompt=True,
            confirmation_prompt=True,
            hide_input=True,
            envvar="CAPA_NEW_PASSWORD",
            help="The new password (asked for when not given; at least 10 characters).",
        ),
    ],
) -> None:
    """Set a user's password for the web app (administrators); it signs them out everywhere."""
    call_directory(ctx, lambda client: client.set_password(name, password, actor=SITE_OPERATOR))
    typer.echo(f"password set for {name}; their browser sessions are ended")


@users_app.command("list")
def users_list(ctx: typer.Context, as_json: Json = False) -> None:
    """List the directory."""
    users = call_directory(ctx, lambda client: client.list_users())
    if as_json:
        render.emit_json([render.user_json(user) for user in users])
    else:
        render.users_table(users)


@users_app.command("notify")
def users_notify(
    ctx: typer.Context,
    *,
    name: Annotated[str, typer.Argument(metavar="NAME", help="The user whose preference this is.")],
    kind: Annotated[str, typer.Option(help=f"The kind of notification: {', '.join(k.value for k in NOTIFIED_KINDS)}.")],
    email: Annotated[
        bool | None, typer.Option("--email/--no-email", help="Send this kind by e-mail, or not.", show_default=False)
    ] = None,
    as_json: Json = False,
) -> None:
    """Turn e-mail of one kind of notification on or off for a user (the log channel keeps every one)."""
    if email is None:
        raise UsageProblem("pass --email or --no-email")
    call_directory(ctx, lambda client: client.set_email_preference(name, kind, enabled=email))
    if as_json:
        render.emit_json({"user": name, "kind": kind, "email": email})
    else:
        typer.echo(f"{name}: e-mail for {kind} notifications {'on' if email else 'off'}")


@tokens_app.command("create")
def tokens_create(
    ctx: typer.Context,
    user: Annotated[str, typer.Argument(metavar="USER", help="The user the token acts as.")],
    label: Annotated[str, typer.Option(help="What it is for, e.g. 'MES line 3'.")],
    as_json: Json = False,
) -> None:
    """Make an API token acting as USER (administrators); the secret is printed once, never again."""
    token, secret = call_directory(ctx, lambda client: client.create_token(user, label, created_by=SITE_OPERATOR))
    if as_json:
        render.emit_json({**render.token_json(token), "secret": secret})
    else:
        typer.echo(f"token {token.id} for {token.user_name}: {secret}")
        typer.echo("store it now: only its hash is kept", err=True)


@tokens_app.command("list")
def tokens_list(
    ctx: typer.Context,
    user: Annotated[str | None, typer.Option(help="Only this user's tokens.")] = None,
    as_json: Json = False,
) -> None:
    """List API tokens (never their secrets)."""
    tokens = call_directory(ctx, lambda client: client.list_tokens(user))
    if as_json:
        render.emit_json([render.token_json(token) for token in tokens])
    else:
        render.tokens_table(tokens)


@tokens_app.command("revoke")
def tokens_revoke(
    ctx: typer.Context, token_id: Annotated[int, typer.Argument(metavar="ID", help="The token's id.")]
) -> None:
    """Revoke an API token: it is refused from the next request on."""
    token = call_directory(ctx, lambda client: client.revoke_token(token_id, actor=SITE_OPERATOR))
    typer.echo(f"token {token.id} ({token.label}) of {token.user_name} revoked")
