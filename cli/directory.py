"""`capa users` and `capa tokens`: the directory of people, their notification preferences, and API tokens.

Every change goes through the HTTP API as an admin's sign-in, except the very first person of an empty
directory: `capa users add` with no sign-in writes them straight into the database, as an admin with a
password, since whoever runs it holds the site's database (like `capa db` and `capa worker`).
"""

from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from urllib.parse import quote

import typer

from cli import render
from cli.app import Json, UsageProblem, call_directory, send, show_times, sites_app, tokens_app, users_app
from client.errors import CapaError, ErrorKind
from models.enums import NOTIFIED_KINDS, Role

if TYPE_CHECKING:
    from client.directory import Directory
    from models.tables import User

# Who the admin log names for a change made here: whoever runs the CLI on the site holds its credentials.
SITE_OPERATOR = "site-operator"


@users_app.command("add")
def users_add(
    ctx: typer.Context,
    *,
    name: Annotated[str, typer.Argument(metavar="NAME", help="Login name: letters, digits and . _ @ -")],
    role: Annotated[Role, typer.Option(help="What they may do.")],
    full_name: Annotated[
        str | None,
        typer.Option(help="Their printed name (required), shown wherever they are named, e.g. 'Maria Keller'."),
    ] = None,
    manager: Annotated[str | None, typer.Option(help="Who escalations about their steps go to.")] = None,
    email: Annotated[str | None, typer.Option(help="Where their notifications go.")] = None,
    site: Annotated[
        str | None, typer.Option(help="Their home site (`capa sites list`); default the default site.")
    ] = None,
    time_zone: Annotated[
        str | None,
        typer.Option(metavar="AREA/CITY", help="A zone of their own, e.g. Europe/Berlin; default their site's."),
    ] = None,
    password_stdin: Annotated[
        bool,
        typer.Option("--password-stdin", help="The first admin's password from standard input (else: asked)."),
    ] = False,
    as_json: Json = False,
) -> None:
    """Add someone to the directory (an admin's sign-in). On an empty directory, with no sign-in yet, it adds the
    first admin straight into the database (CAPA_DATABASE_URL) with a password, asked for or read with
    --password-stdin; they then `capa login` and add everyone else."""
    cli = ctx.obj
    if cli.as_user is None and cli.settings.token is None and not cli.credentials().names(cli.server):
        user = _first_admin(
            ctx,
            name=name,
            role=role,
            full_name=full_name,
            manager=manager,
            email=email,
            site=site,
            time_zone=time_zone,
            password_stdin=password_stdin,
        )
        if as_json:
            render.emit_json(render.user_json(user))
        else:
            added_as = render.person_with_role(user)
            typer.echo(f"added {added_as}, the directory's first admin; now `capa login {name}`")
        return
    body = {
        "name": name,
        "role": role,
        "full_name": full_name,
        "manager": manager,
        "email": email,
        "site": site,
        "time_zone": time_zone,
    }
    added = send(ctx, lambda api: api.post("/users", {key: value for key, value in body.items() if value is not None}))
    if as_json:
        render.emit_json(render.user_json(added))
    else:
        typer.echo(f"added {render.person_with_role(added)}")


def _first_admin(
    ctx: typer.Context,
    *,
    name: str,
    role: Role,
    full_name: str | None,
    manager: str | None,
    email: str | None,
    site: str | None,
    time_zone: str | None,
    password_stdin: bool,
) -> dict[str, object]:
    """The first person of an empty directory, written to the database directly: an admin with a password."""

    async def empty(directory: "Directory") -> bool:
        from core.migrations import ensure_schema  # noqa: PLC0415

        # An empty database gets its tables; one of an older release is refused, naming `capa db upgrade`.
        await directory._db(ensure_schema, directory._engine)
        return not await directory.list_users()

    if not call_directory(ctx, empty):
        raise CapaError(
            ErrorKind.NOT_ALLOWED,
            "the directory has people already: an admin adds more, signed in (`capa login NAME`)",
        )
    if role is not Role.ADMIN:
        raise UsageProblem("--role: the first person of an empty directory is its admin; pass --role admin")
    if not (full_name or "").strip():
        raise UsageProblem("--full-name: the first admin's printed name is needed, as everyone's, e.g. 'Ada Lovelace'")
    password = _new_password(password_stdin)

    async def add(directory: "Directory") -> "User":
        await directory.add_user(
            name, role, manager, email, full_name=full_name, site=site, time_zone=time_zone, actor=SITE_OPERATOR
        )
        await directory.set_password(name, password, actor=SITE_OPERATOR)
        added = await directory.user(name)
        assert added is not None
        return added

    user = call_directory(ctx, add)
    return {
        **user.model_dump(mode="json", exclude={"password_hash"}),
        "can_sign_in": user.password_hash is not None,
    }


def _new_password(from_stdin: bool) -> str:
    import sys  # noqa: PLC0415

    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise UsageProblem("--password-stdin: no password on standard input")
        return password
    if not sys.stdin.isatty():
        raise UsageProblem("the first admin needs a password: type it at a terminal, or pipe it with --password-stdin")
    password = typer.prompt("password for the first admin", hide_input=True, confirmation_prompt=True)
    return str(password)


@users_app.command("set")
def users_set(
    ctx: typer.Context,
    *,
    name: Annotated[str, typer.Argument(metavar="NAME", help="The user to change.")],
    site: Annotated[str | None, typer.Option(help="Their home site (`capa sites list`).")] = None,
    time_zone: Annotated[
        str | None, typer.Option(metavar="AREA/CITY", help="A zone of their own, e.g. Europe/Berlin.")
    ] = None,
    default_site: Annotated[
        bool, typer.Option("--default-site", help="Back to the default site as their home site.")
    ] = False,
    site_time_zone: Annotated[
        bool, typer.Option("--site-time-zone", help="Drop their own zone: their site's applies again.")
    ] = False,
    as_json: Json = False,
) -> None:
    """Change someone's home site or time zone (administrators); only what is given changes."""
    if site is not None and default_site:
        raise UsageProblem("--site: give a site or --default-site, not both")
    if time_zone is not None and site_time_zone:
        raise UsageProblem("--time-zone: give a zone or --site-time-zone, not both")
    body: dict[str, object] = {}
    if site is not None or default_site:
        body["site"] = site
    if time_zone is not None or site_time_zone:
        body["time_zone"] = time_zone
    if not body:
        raise UsageProblem("say what to change: --site, --time-zone, --default-site or --site-time-zone")
    changed = send(ctx, lambda api: api.request("PATCH", f"/users/{name}", body=body).json())
    if as_json:
        render.emit_json(render.user_json(changed))
    else:
        zone = f", own zone {changed['time_zone']}" if changed.get("time_zone") else ""
        typer.echo(f"{name}: home site {changed.get('site') or 'the default site'}{zone}")


@sites_app.command("add")
def sites_add(
    ctx: typer.Context,
    *,
    name: Annotated[str, typer.Argument(metavar="NAME", help="The site's name, e.g. 'Berlin plant'.")],
    time_zone: Annotated[str, typer.Option(metavar="AREA/CITY", help="Its IANA time zone, e.g. Europe/Berlin.")],
    as_json: Json = False,
) -> None:
    """Add a site with its time zone (administrators)."""
    site = send(ctx, lambda api: api.post("/sites", {"name": name, "time_zone": time_zone}))
    if as_json:
        render.emit_json(site)
    else:
        typer.echo(f"added site {site['name']} ({site['time_zone']})")


@sites_app.command("list")
def sites_list(ctx: typer.Context, as_json: Json = False) -> None:
    """List the sites with their time zones and the time there now; the default one is marked."""
    sites = send(ctx, lambda api: api.get("/sites"))
    if as_json:
        render.emit_json(sites)
    else:
        render.sites_table(sites)


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
    """Set a user's sign-in password (administrators); it signs them out of their browsers."""
    send(ctx, lambda api: api.put(f"/users/{name}/password", {"password": password}))
    typer.echo(f"password set for {name}; their browser sessions are ended")


@users_app.command("deactivate")
def users_deactivate(
    ctx: typer.Context, name: Annotated[str, typer.Argument(metavar="NAME", help="Who may no longer act.")]
) -> None:
    """Deactivate someone (administrators): signed out everywhere, their password refused, their tokens revoked."""
    send(ctx, lambda api: api.post(f"/users/{name}/deactivate"))
    typer.echo(f"{name} deactivated: their password and tokens are refused; their records stay")


@users_app.command("activate")
def users_activate(
    ctx: typer.Context, name: Annotated[str, typer.Argument(metavar="NAME", help="Who may act again.")]
) -> None:
    """Let a deactivated person sign in again (administrators); their old tokens stay revoked."""
    send(ctx, lambda api: api.post(f"/users/{name}/activate"))
    typer.echo(f"{name} activated")


@users_app.command("list")
def users_list(ctx: typer.Context, as_json: Json = False) -> None:
    """List the directory (e-mail addresses for managers and admins)."""
    users = send(ctx, lambda api: api.all_pages("/users"))
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
    """Turn e-mail of one kind of notification on or off (for yourself, or an admin for anyone; the log channel
    keeps every one)."""
    if email is None:
        raise UsageProblem("pass --email or --no-email")
    send(ctx, lambda api: api.put(f"/users/{name}/notifications/{kind}", {"email": email}))
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
    token = send(ctx, lambda api: api.post("/tokens", {"user": user, "label": label}))
    secret = token.pop("secret")
    if as_json:
        render.emit_json({**render.token_json(token), "secret": secret})
    else:
        typer.echo(f"token {token['id']} for {token['user_name']}: {secret}")
        typer.echo("store it now: only its hash is kept", err=True)


@tokens_app.command("list")
def tokens_list(
    ctx: typer.Context,
    user: Annotated[str | None, typer.Option(help="Only this user's tokens.")] = None,
    as_json: Json = False,
) -> None:
    """List API tokens (never their secrets; administrators)."""
    tokens = send(ctx, lambda api: api.all_pages("/tokens", owner=user))
    if as_json:
        render.emit_json([render.token_json(token) for token in tokens])
    else:
        show_times(ctx)
        render.tokens_table(tokens)


@tokens_app.command("revoke")
def tokens_revoke(
    ctx: typer.Context, token_id: Annotated[int, typer.Argument(metavar="ID", help="The token's id.")]
) -> None:
    """Revoke an API token (administrators): it is refused from the next request on."""
    token = send(ctx, lambda api: api.delete(f"/tokens/{token_id}"))
    typer.echo(f"token {token['id']} ({token['label']}) of {token['user_name']} revoked")


# working-day calendars
@sites_app.command("calendar")
def sites_calendar(
    ctx: typer.Context,
    *,
    site: Annotated[str, typer.Argument(metavar="SITE", help="The site (`capa sites list`).")],
    file: Annotated[
        Path | None,
        typer.Option(
            "--file", help='Its calendar in TOML: timezone, weekdays, hours = "08:00-16:00", holidays = [dates].'
        ),
    ] = None,
    ical: Annotated[
        Path | None, typer.Option("--ical", help="An iCalendar file whose all-day events become its holidays.")
    ] = None,
    as_json: Json = False,
) -> None:
    """Show a site's working-day calendar, or set it (administrators) from TOML or add an iCalendar file's
    holidays. Records raised from then on count their 5wd/16wh windows in it."""
    path = f"/sites/{quote(site, safe='')}/calendar"
    if file is not None and ical is not None:
        raise UsageProblem("give --file or --ical, not both")
    if file is None and ical is None:
        shown = send(ctx, lambda api: api.get(path))
    else:
        source = file or ical
        assert source is not None
        try:
            text = source.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageProblem(f"{source}: cannot be read ({exc})") from None
        body = {"toml": text} if file is not None else {"ical": text}
        shown = send(ctx, lambda api: api.put(path, body).json())
    if as_json:
        render.emit_json(shown)
    elif shown["calendar"] is None:
        typer.echo(f"{shown['site']}: no working-day calendar (windows run in calendar time)")
    else:
        typer.echo(f"{shown['site']}: {shown['summary']}")
        typer.echo(shown["calendar"], nl=False)
