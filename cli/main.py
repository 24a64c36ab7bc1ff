"""``capa``: the command line for people who raise, work and oversee CAPA records.

Each command parses its options, calls the client layer (``client.records``) and renders the answer; the
workflow alone decides whether a step is accepted. Every failure ends as one ``error: ...`` line on stderr,
with exit code 2 for bad usage or input and 1 for a refused step, an unknown record or an unreachable service.
"""

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from cli import devstack, render
from cli.parsing import parse_action, parse_due
from client.records import CapaClient, CapaError, ErrorKind, StepPending
from core import migrations
from core.database import SchemaBehindError, make_engine
from core.logging import configure_logging
from core.readmodel import NOTIFIED_KINDS
from core.settings import Settings, SettingsError, load_settings
from models.enums import (
    CauseCategory,
    Disposition,
    EffectivenessResult,
    Role,
    RootCauseMethod,
    Severity,
    Source,
    Stage,
    VerificationResult,
)
from models.payloads import StepOutcome
from models.policy import PolicyError
from worker import main as worker_main

T = TypeVar("T")


class UsageProblem(typer.TyperException):
    """Bad usage found after parsing, reported like the parser's own errors."""

    exit_code = 2


class CapaApp(typer.Typer):
    """A Typer app that reports every failure as one ``error:`` line: no usage box, no traceback.

    It runs the command line in non-standalone mode, so the parser's errors reach this one handler too.
    """

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            result = super().__call__(*args, standalone_mode=False, **kwargs)
            code = result if isinstance(result, int) else 0
        except typer.TyperException as exc:
            # Asking for nothing prints the help instead of a message; then only the exit code is left to give.
            message = exc.format_message()
            code = _report(message, exc.exit_code) if message else exc.exit_code
        except CapaError as exc:
            if isinstance(exc, StepPending):
                # Sent, not refused: the step applies when a busy worker is free.
                follow = f"`capa outcome {exc.record_id} {exc.update_id}` waits for it"
                typer.echo(f"pending: {exc.message}; {follow}", err=True)
                code = 3
            else:
                code = _report(exc.message, 2 if exc.kind is ErrorKind.INVALID else 1)
        except (SettingsError, PolicyError, SchemaBehindError) as exc:
            code = _report(str(exc), 2)
        except devstack.DevStackError as exc:
            code = _report(str(exc), 1)
        _exit(code)


def _report(message: str, code: int) -> int:
    typer.echo(f"error: {message}", err=True)
    return code


def _exit(code: int) -> NoReturn:
    """Leave without interpreter teardown, which can abort a process that used a Temporal client.

    The SDK's Rust threads may still touch the GIL while Python finalises ("PyGILState_Release: thread
    state ... must be current", temporalio/sdk-python#300); all work is done and flushed by now.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


app = CapaApp(
    name="capa",
    help="CAPA records as durable workflows: raise, contain, find the cause, act, verify, review.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
users_app = typer.Typer(
    help="The user directory: who may hold steps, and the reporting lines escalations climb.", no_args_is_help=True
)
app.add_typer(users_app, name="users")
notifications_app = typer.Typer(
    help="The notification outbox: what was sent, what is pending and what failed.", no_args_is_help=True
)
app.add_typer(notifications_app, name="notifications")
tokens_app = typer.Typer(help="API tokens for integrations (administrators): make, list, revoke.", no_args_is_help=True)
db_app = typer.Typer(
    help="The read-model database's schema: its migration revision, and upgrading it.", no_args_is_help=True
)
records_app = typer.Typer(
    help="Operations on every record's workflow: move records in flight to this release's shape.",
    no_args_is_help=True,
)
app.add_typer(tokens_app, name="tokens")
app.add_typer(db_app, name="db")
app.add_typer(records_app, name="records")


@dataclass(frozen=True)
class CliContext:
    """What every command needs: the settings, and who is acting when a command needs a person."""

    settings: Settings
    as_user: str | None

    def actor(self) -> str:
        name = self.as_user or self.settings.user
        if not name:
            raise UsageProblem("no user: pass --as USER or set CAPA_USER")
        return name


@app.callback()
def _context(
    ctx: typer.Context,
    as_user: Annotated[
        str | None, typer.Option("--as", metavar="USER", help="Act as this user (default: $CAPA_USER).")
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log what the client layer does.")] = False,
) -> None:
    settings = load_settings()
    # Logs go to stderr; a person at a terminal wants only the answer unless they ask for more.
    configure_logging(settings.log_format, settings.log_level if verbose else "warning")
    ctx.obj = CliContext(settings, as_user)


def _call(ctx: typer.Context, work: Callable[[CapaClient], Awaitable[T]]) -> T:
    """Run one request through the client layer, with input errors named the way this command spells them."""
    cli: CliContext = ctx.obj

    async def request() -> T:
        return await work(await CapaClient.open(cli.settings))

    try:
        return asyncio.run(request())
    except CapaError as exc:
        if exc.kind is ErrorKind.INVALID:
            raise CapaError(exc.kind, _in_cli_terms(exc.message, ctx)) from None
        raise


def _in_cli_terms(message: str, ctx: typer.Context) -> str:
    """``manager: no user ...`` becomes ``--manager: no user ...`` when the field is one of the command's."""
    field, colon, rest = message.partition(": ")
    for param in ctx.command.params:
        if colon and param.name == field:
            label = param.opts[0] if param.param_type_name == "option" else (param.metavar or param.opts[0])
            return f"{label}: {rest}"
    return message


def _step(
    ctx: typer.Context, as_json: bool, what: str, send: Callable[[CapaClient, str], Awaitable[StepOutcome]]
) -> None:
    actor = ctx.obj.actor()
    _answer_step(ctx, as_json, what, lambda client: send(client, actor))


def _answer_step(
    ctx: typer.Context, as_json: bool, what: str, work: Callable[[CapaClient], Awaitable[StepOutcome]]
) -> None:
    """Print a step's result; a pending step's id as JSON for scripts (the one-line message goes to stderr)."""
    try:
        result = _call(ctx, work)
    except StepPending as pending:
        if as_json:
            render.emit_json({"record_id": pending.record_id, "status": "pending", "step_id": pending.update_id})
        raise
    if as_json:
        render.emit_json(render.step_json(result))
    else:
        render.step_done(what, result)


def _due(text: str, option: str) -> datetime:
    try:
        return parse_due(text, datetime.now(UTC))
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=option) from None


RecordId = Annotated[str, typer.Argument(metavar="ID", help="The record, e.g. NC-2026-0001.", show_default=False)]
Json = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
Reason = Annotated[str, typer.Option(help="Why; kept in the record's timeline.")]
Evidence = Annotated[str, typer.Option(help="What shows it was done: a document, a measurement, a link.")]


# --- the directory ------------------------------------------------------------------------------------------


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
    user = _call(ctx, lambda client: client.add_user(name, role, manager, email))
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
    _call(ctx, lambda client: client.set_password(name, password))
    typer.echo(f"password set for {name}; their browser sessions are ended")


@users_app.command("list")
def users_list(ctx: typer.Context, as_json: Json = False) -> None:
    """List the directory."""
    users = _call(ctx, lambda client: client.list_users())
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
    _call(ctx, lambda client: client.set_email_preference(name, kind, enabled=email))
    if as_json:
        render.emit_json({"user": name, "kind": kind, "email": email})
    else:
        typer.echo(f"{name}: e-mail for {kind} notifications {'on' if email else 'off'}")


# --- raising and the steps ----------------------------------------------------------------------------------


@app.command("raise")
def raise_record(
    ctx: typer.Context,
    *,
    title: Annotated[str, typer.Option(help="One line: what is wrong.")],
    description: Annotated[str, typer.Option(help="What happened, where, when, how it was found.")],
    severity: Annotated[Severity, typer.Option(help="Sets the deadlines (see the policy).")],
    source: Annotated[Source, typer.Option(help="How it was found.")],
    owner: Annotated[str, typer.Option(help="Who owns the CAPA.")],
    product: Annotated[str | None, typer.Option(help="Product or part number.")] = None,
    lot: Annotated[str | None, typer.Option(help="Lot or batch.")] = None,
    quantity: Annotated[int | None, typer.Option(help="How many pieces are affected.")] = None,
    as_json: Json = False,
) -> None:
    """Raise a nonconformity; prints its new id."""
    actor = ctx.obj.actor()
    record_id = _call(
        ctx,
        lambda client: client.raise_record(
            actor,
            title=title,
            description=description,
            severity=severity,
            source=source,
            owner=owner,
            product=product,
            lot=lot,
            quantity=quantity,
        ),
    )
    if as_json:
        render.emit_json({"id": record_id})
    else:
        typer.echo(record_id)


@app.command()
def contain(
    ctx: typer.Context,
    *,
    record_id: RecordId,
    summary: Annotated[str, typer.Option(help="What was done to control the nonconforming product.")],
    disposition: Annotated[Disposition, typer.Option(help="What happens to the product.")],
    quantity: Annotated[int | None, typer.Option(help="How many pieces the disposition covers.")] = None,
    as_json: Json = False,
) -> None:
    """Record the containment (ISO 9001 10.2.1 a)."""
    _step(
        ctx,
        as_json,
        "containment recorded",
        lambda client, actor: client.contain(
            record_id, actor, summary=summary, disposition=disposition, quantity=quantity
        ),
    )


@app.command("root-cause")
def root_cause(
    ctx: typer.Context,
    *,
    record_id: RecordId,
    method: Annotated[RootCauseMethod, typer.Option(help="How the cause was found.")],
    cause: Annotated[str, typer.Option(help="The root-cause statement.")],
    why: Annotated[list[str] | None, typer.Option(help="One link of the why-chain; repeat in order.")] = None,
    category: Annotated[CauseCategory | None, typer.Option(help="The 6M category.")] = None,
    escape_point: Annotated[str | None, typer.Option(help="Where the problem should have been caught.")] = None,
    similar_checked: Annotated[str | None, typer.Option(help="Which similar cases were checked (10.2.1 b3).")] = None,
    as_json: Json = False,
) -> None:
    """Record the root cause (ISO 9001 10.2.1 b)."""
    _step(
        ctx,
        as_json,
        "root cause recorded",
        lambda client, actor: client.root_cause(
            record_id,
            actor,
            method=method,
            cause=cause,
            whys=why or [],
            category=category,
            escape_point=escape_point,
            similar_checked=similar_checked,
        ),
    )


@app.command()
def plan(
    ctx: typer.Context,
    record_id: RecordId,
    action: Annotated[
        list[str],
        typer.Option(
            metavar="OWNER:DUE:DESCRIPTION",
            help="One action; DUE is a date (end of day UTC), an ISO date-time or a duration such as 10d. Repeat.",
        ),
    ],
    as_json: Json = False,
) -> None:
    """Submit the action plan: one or more actions, each with its owner and due date."""
    now = datetime.now(UTC)
    actions = []
    for text in action:
        try:
            actions.append(parse_action(text, now))
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint=f"--action {text!r}") from None
    _step(ctx, as_json, "plan accepted", lambda client, actor: client.plan(record_id, actor, actions=actions))


@app.command("complete-action")
def complete_action(
    ctx: typer.Context,
    record_id: RecordId,
    action_id: Annotated[str, typer.Argument(metavar="ACTION_ID", help="The action, e.g. A1.")],
    evidence: Evidence,
    as_json: Json = False,
) -> None:
    """Complete one action of the plan, with evidence."""
    _step(
        ctx,
        as_json,
        f"action {action_id} completed",
        lambda client, actor: client.complete_action(record_id, actor, action_id=action_id, evidence=evidence),
    )


@app.command()
def verify(
    ctx: typer.Context,
    record_id: RecordId,
    result: Annotated[VerificationResult, typer.Option(help="Were the actions implemented, without harm?")],
    evidence: Evidence,
    as_json: Json = False,
) -> None:
    """Verify the actions (a manager who implemented none of them)."""
    _step(
        ctx,
        as_json,
        f"verification {result.value}",
        lambda client, actor: client.verify(record_id, actor, result=result, evidence=evidence),
    )


@app.command()
def review(
    ctx: typer.Context,
    record_id: RecordId,
    result: Annotated[EffectivenessResult, typer.Option(help="Did the actions stop the problem recurring?")],
    evidence: Evidence,
    as_json: Json = False,
) -> None:
    """Review effectiveness once the window has passed (ISO 9001 10.2.1 d)."""
    _step(
        ctx,
        as_json,
        f"effectiveness review: {result.value}",
        lambda client, actor: client.review(record_id, actor, result=result, evidence=evidence),
    )


@app.command("request-extension")
def request_extension(
    ctx: typer.Context,
    *,
    record_id: RecordId,
    until: Annotated[str, typer.Option(metavar="DATE_OR_DURATION", help="The new due: 2026-03-31, ISO, or 10d.")],
    reason: Reason,
    action_id: Annotated[
        str | None, typer.Option("--action", metavar="ACTION_ID", help="For this action, not the stage.")
    ] = None,
    as_json: Json = False,
) -> None:
    """Ask for more time for the step you hold; a manager decides."""
    new_due = _due(until, "--until")
    _step(
        ctx,
        as_json,
        "extension requested",
        lambda client, actor: client.request_extension(
            record_id, actor, until=new_due, reason=reason, action_id=action_id
        ),
    )


@app.command("decide-extension")
def decide_extension(
    ctx: typer.Context,
    record_id: RecordId,
    approve: Annotated[
        bool | None, typer.Option("--approve/--reject", help="Grant or refuse the pending request.")
    ] = None,
    reason: Annotated[str | None, typer.Option(help="Why; required when rejecting.")] = None,
    as_json: Json = False,
) -> None:
    """Approve or reject the pending extension request (a manager other than the requester)."""
    if approve is None:
        raise UsageProblem("pass --approve or --reject")
    _step(
        ctx,
        as_json,
        "extension approved" if approve else "extension rejected",
        lambda client, actor: client.decide_extension(record_id, actor, approve=approve, reason=reason),
    )


@app.command()
def reassign(
    ctx: typer.Context,
    *,
    record_id: RecordId,
    owner: Annotated[str, typer.Option(help="The new owner.")],
    reason: Reason,
    action_id: Annotated[
        str | None, typer.Option("--action", metavar="ACTION_ID", help="Reassign this action, not the record.")
    ] = None,
    as_json: Json = False,
) -> None:
    """Give the record (or one action) to someone else; reminders and escalations follow."""
    _step(
        ctx,
        as_json,
        f"reassigned to {owner}",
        lambda client, actor: client.reassign(record_id, actor, owner=owner, reason=reason, action_id=action_id),
    )


@app.command()
def cancel(ctx: typer.Context, record_id: RecordId, reason: Reason, as_json: Json = False) -> None:
    """Cancel an invalid record (managers); every timer stops."""
    _step(ctx, as_json, "cancelled", lambda client, actor: client.cancel(record_id, actor, reason=reason))


@app.command()
def outcome(
    ctx: typer.Context,
    record_id: RecordId,
    step_id: Annotated[str, typer.Argument(metavar="STEP", help="The step id a pending answer named.")],
    as_json: Json = False,
) -> None:
    """Wait for a step that was answered pending, and say what it did or why the record refused it."""
    _answer_step(ctx, as_json, "applied", lambda client: client.step_outcome(record_id, step_id))


# --- reading ------------------------------------------------------------------------------------------------


@app.command()
def show(ctx: typer.Context, record_id: RecordId, as_json: Json = False) -> None:
    """Show a record: state, deadlines, actions and the whole timeline."""
    state, stale = _call(ctx, lambda client: client.show_record(record_id))
    if stale:
        typer.echo(f"note: {record_id} is shown as the read model last recorded it: {stale}", err=True)
    if as_json:
        render.emit_json(render.state_json(state))
    else:
        render.show_state(state, datetime.now(UTC))


@app.command("list")
def list_records(
    ctx: typer.Context,
    stage: Annotated[Stage | None, typer.Option(help="Only records in this stage.")] = None,
    owner: Annotated[str | None, typer.Option(help="Only records this person owns or holds an action of.")] = None,
    overdue: Annotated[bool, typer.Option("--overdue", help="Only records with a late deadline.")] = False,
    as_json: Json = False,
) -> None:
    """List records, soonest due first."""
    rows = _call(ctx, lambda client: client.list_records(stage=stage, owner=owner, overdue=overdue))
    if as_json:
        render.emit_json([render.record_json(row) for row in rows])
    else:
        render.records_table(rows, datetime.now(UTC))


@app.command()
def overdue(ctx: typer.Context, as_json: Json = False) -> None:
    """What is late: whose, how late, at which escalation level; most urgent first."""
    items = _call(ctx, lambda client: client.overdue())
    if as_json:
        render.emit_json([render.overdue_json(item) for item in items])
    else:
        render.overdue_table(items)


# --- notifications ------------------------------------------------------------------------------------------


@app.command()
def digest(
    ctx: typer.Context,
    now: Annotated[bool, typer.Option("--now", help="Send the overdue digest now.")] = False,
    as_json: Json = False,
) -> None:
    """Send each manager the overdue steps of their people, and admins the whole list (daily by schedule)."""
    if not now:
        raise UsageProblem("pass --now to send the digest now; the schedule sends it daily at CAPA_DIGEST_TIME")
    workflow_id, result = _call(ctx, lambda client: client.send_digest_now())
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
    rows = _call(ctx, lambda client: client.list_notifications(failed_only=failed))
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
    _call(ctx, lambda client: client.retry_notification(row_id))
    if as_json:
        render.emit_json({"id": row_id, "retried": True})
    else:
        typer.echo(f"notification {row_id} handed to delivery again")


# --- the database schema ------------------------------------------------------------------------------------


def _on_database(ctx: typer.Context, work: Callable[[Engine], T]) -> T:
    """Run a schema operation on CAPA_DATABASE_URL; an unreachable database is one line and exit 1."""
    engine = make_engine(ctx.obj.settings.sqlalchemy_url)
    try:
        return work(engine)
    except DBAPIError as exc:
        where = engine.url.render_as_string(hide_password=True)
        reason = str(exc.orig).strip().splitlines()[0]
        raise CapaError(ErrorKind.UNAVAILABLE, f"database {where}: {reason}") from None
    finally:
        engine.dispose()


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Apply the pending migrations: run it before starting the workers of a new release."""
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
    path = migrations.new_revision(message)
    typer.echo(f"wrote {path}; review it, then run `{migrations.UPGRADE_COMMAND}`")


@records_app.command("migrate")
def records_migrate(ctx: typer.Context, as_json: Json = False) -> None:
    """Move every running record of the earlier workflow shape to this release's (run it once the new workers
    are up). Safe to run again; a record refused is named with why."""
    moved, refused = _call(ctx, lambda capa: capa.migrate_records())
    if as_json:
        render.emit_json({"moved": moved, "not_moved": refused})
        return
    for record_id in moved:
        typer.echo(f"{record_id}: moved")
    for record_id, reason in sorted(refused.items()):
        typer.echo(f"{record_id}: not moved: {reason}")
    typer.echo(f"{len(moved)} moved, {len(refused)} not moved")


# --- running the product ------------------------------------------------------------------------------------


@app.command()
def worker() -> None:
    """Run a worker: it executes every record's workflow and keeps the read model current."""
    worker_main()


@tokens_app.command("create")
def tokens_create(
    ctx: typer.Context,
    user: Annotated[str, typer.Argument(metavar="USER", help="The user the token acts as.")],
    label: Annotated[str, typer.Option(help="What it is for, e.g. 'MES line 3'.")],
    as_json: Json = False,
) -> None:
    """Make an API token acting as USER (administrators); the secret is printed once, never again."""
    token, secret = _call(ctx, lambda client: client.create_token(user, label, created_by="capa-cli"))
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
    tokens = _call(ctx, lambda client: client.list_tokens(user))
    if as_json:
        render.emit_json([render.token_json(token) for token in tokens])
    else:
        render.tokens_table(tokens)


@tokens_app.command("revoke")
def tokens_revoke(
    ctx: typer.Context, token_id: Annotated[int, typer.Argument(metavar="ID", help="The token's id.")]
) -> None:
    """Revoke an API token: it is refused from the next request on."""
    token = _call(ctx, lambda client: client.revoke_token(token_id, actor="capa-cli"))
    typer.echo(f"token {token.id} ({token.label}) of {token.user_name} revoked")


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

    settings: Settings = ctx.obj.settings
    configure_logging(settings.log_format, settings.log_level)
    raise typer.Exit(serve(settings, host or settings.api_host, port or settings.api_port))


@app.command()
def dev(ctx: typer.Context) -> None:
    """Run the whole product locally: Temporal dev server, demo users and a worker (what `make run` does)."""
    raise typer.Exit(devstack.run(ctx.obj.settings))


if __name__ == "__main__":
    app()
