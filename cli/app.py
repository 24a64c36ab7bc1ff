"""The ``capa`` application: its command groups, what every command shares, and how every failure ends.

The commands for people parse their options, send them to the HTTP API (CAPA_API_URL) as the acting sign-in
(``send``: ``--as NAME``'s stored sign-in, CAPA_TOKEN, or the only one stored) and render the answer; the API and
the workflow decide whether a step is accepted. The operators' commands (``worker``, ``api``, ``dev``, ``db``,
``records migrate``, the first admin) reach Temporal and the database directly (``call``, ``call_directory``).
Every failure ends as one ``error: ...`` line on stderr, with exit code 2 for bad usage or input and 1 for a
refused step, an unknown record, no sign-in or an unreachable service; the API's refusals (Problem JSON) come back
as the same ``CapaError``s, each field at fault named by the command's option.

The Temporal SDK, the database and the web stack load only inside the commands that use them, so ``capa --help``
and the parsing of a command stay quick (``tests/unit/test_cli_imports.py``).
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import click
import typer

from cli import render
from cli.parsing import parse_due
from client.errors import CapaError, ErrorKind, StepPending

if TYPE_CHECKING:
    from cli.credentials import Credentials
    from cli.http import Api
    from client.directory import Directory
    from client.records import CapaClient
    from core.settings import Settings
    from models.payloads import StepOutcome

T = TypeVar("T")

# Failures that are a person's setting or the system's state, not a fault: one line and this exit code. A module
# is only looked at once it is loaded: an exception of its class cannot exist before.
_ONE_LINE_FAILURES = (
    ("core.settings", "SettingsError", 2),
    ("models.policy", "PolicyError", 2),
    ("core.database", "SchemaBehindError", 2),
    ("core.metrics", "MetricsPortError", 2),
    ("core.devstack", "StackError", 1),
    ("cli.credentials", "CredentialsError", 1),
)


class UsageProblem(typer.TyperException):
    """Bad usage found after parsing, reported like the parser's own errors."""

    exit_code = 2


def write_file(path: Path, content: bytes, option: str) -> None:
    """Write what the API answered to the file ``option`` names; a path that cannot be written is bad usage, said in
    one line naming the option (after the answer was fetched: the request itself changed nothing)."""
    try:
        path.write_bytes(content)
    except OSError as exc:
        raise UsageProblem(f"{option}: cannot write {path}: {exc.strerror or exc}") from None


def _one_line_exit_code(exc: Exception) -> int | None:
    for module, name, code in _ONE_LINE_FAILURES:
        kind = getattr(sys.modules.get(module), name, None)
        if kind is not None and isinstance(exc, kind):
            return code
    return None


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
        except click.exceptions.Abort:
            # Ctrl-D at one of click's prompts (a new password): stopped, nothing sent.
            code = _report("no input given; nothing was done", 1)
        except CapaError as exc:
            if isinstance(exc, StepPending):
                # Sent, not refused: the step applies when a busy worker is free.
                follow = f"`capa outcome {exc.record_id} {exc.update_id}` waits for it"
                typer.echo(f"pending: {render.visible(exc.message)}; {follow}", err=True)
                code = 3
            else:
                code = _report(exc.message, 2 if exc.kind is ErrorKind.INVALID else 1)
        except Exception as exc:
            one_line = _one_line_exit_code(exc)
            if one_line is None:
                raise
            code = _report(str(exc), one_line)
        _exit(code)


def _report(message: str, code: int) -> int:
    typer.echo(f"error: {render.visible(message)}", err=True)
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
notifications_app = typer.Typer(
    help="The notification outbox: what was sent, what is pending and what failed.", no_args_is_help=True
)
tokens_app = typer.Typer(help="API tokens for integrations (administrators): make, list, revoke.", no_args_is_help=True)
sites_app = typer.Typer(
    help="Sites: where records belong and people work, each with the time zone its times are shown in.",
    no_args_is_help=True,
)
db_app = typer.Typer(
    help="The read-model database's schema: its migration revision, and upgrading it.", no_args_is_help=True
)
records_app = typer.Typer(
    help="Operations on every record's workflow: move records in flight to this release's shape.",
    no_args_is_help=True,
)
app.add_typer(users_app, name="users")
app.add_typer(notifications_app, name="notifications")
app.add_typer(tokens_app, name="tokens")
app.add_typer(sites_app, name="sites")
app.add_typer(db_app, name="db")
app.add_typer(records_app, name="records")


@dataclass(frozen=True)
class CliContext:
    """What every command needs: the settings, and which stored sign-in ``--as`` picked, if any."""

    settings: Settings
    as_user: str | None

    @property
    def server(self) -> str:
        """The API the commands for people go through (CAPA_API_URL); sign-ins are kept per server."""
        return self.settings.api_url

    def credentials(self) -> Credentials:
        from cli.credentials import Credentials, config_dir  # noqa: PLC0415

        return Credentials(config_dir(self.settings.config_dir))

    def api(self) -> Api:
        """The API, called with the sign-in that acts: ``--as NAME``'s, else CAPA_TOKEN, else the only one stored."""
        from cli.http import Api  # noqa: PLC0415 - httpx loads only to send

        if self.as_user is not None:
            token = self.credentials().token(self.server, self.as_user)
            if token is None:
                raise CapaError(
                    ErrorKind.NOT_ALLOWED,
                    f"not signed in as {self.as_user} on {self.server}: run `capa login {self.as_user}`",
                )
            return Api(self.server, token, self.as_user)
        if self.settings.token is not None:
            return Api(self.server, self.settings.token.get_secret_value())
        names = self.credentials().names(self.server)
        if not names:
            raise CapaError(
                ErrorKind.NOT_ALLOWED, f"not signed in on {self.server}: run `capa login NAME` (or set CAPA_TOKEN)"
            )
        if len(names) > 1:
            raise UsageProblem(f"signed in as {', '.join(names)} on {self.server}: pass --as NAME to say who acts")
        return Api(self.server, self.credentials().token(self.server, names[0]), names[0])

    def anonymous_api(self) -> Api:
        from cli.http import Api  # noqa: PLC0415

        return Api(self.server)


@app.callback()
def _context(
    ctx: typer.Context,
    as_user: Annotated[
        str | None,
        typer.Option(
            "--as",
            metavar="NAME",
            help="Which of your sign-ins acts (`capa login NAME`); the only one by default, else CAPA_TOKEN.",
        ),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log what the client layer does.")] = False,
) -> None:
    from core.logging import configure_logging  # noqa: PLC0415 - loaded by commands, not by --help
    from core.settings import load_settings  # noqa: PLC0415

    settings = load_settings()
    # Logs go to stderr; a person at a terminal wants only the answer unless they ask for more.
    configure_logging(settings.log_format, settings.log_level if verbose else "warning")
    ctx.obj = CliContext(settings, as_user)


def send(ctx: typer.Context, work: Callable[[Api], T]) -> T:
    """Make requests to the HTTP API as the acting sign-in, with input errors named the way this command spells
    them."""
    cli: CliContext = ctx.obj
    api = cli.api()
    return _answered(ctx, lambda: work(api))


def show_times(ctx: typer.Context) -> None:
    """Show this command's times in the zone of whoever acts (``/me``: their own, else their home site's, else
    the default site's)."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError  # noqa: PLC0415

    me = send(ctx, lambda api: api.get("/me"))
    try:
        render.show_times_in(ZoneInfo(str(me.get("shown_time_zone") or "UTC")))
    except (ZoneInfoNotFoundError, ValueError):
        # A zone this machine's zone database lacks: UTC, which every time is kept in, rather than no answer.
        render.show_times_in(ZoneInfo("UTC"))


def call(ctx: typer.Context, work: Callable[[CapaClient], Awaitable[T]]) -> T:
    """Run one request through the client layer, with input errors named the way this command spells them."""
    from client.records import CapaClient  # noqa: PLC0415 - Temporal and the database load only to send

    cli: CliContext = ctx.obj

    async def request() -> T:
        return await work(await CapaClient.open(cli.settings))

    return _answered(ctx, lambda: asyncio.run(request()))


def call_directory(ctx: typer.Context, work: Callable[[Directory], Awaitable[T]]) -> T:
    """Run one request on the directory alone: it needs no Temporal, so it answers while Temporal is down."""
    from client.directory import Directory  # noqa: PLC0415 - the database loads only to send

    cli: CliContext = ctx.obj

    async def request() -> T:
        return await work(Directory.open_directory(cli.settings))

    return _answered(ctx, lambda: asyncio.run(request()))


def _answered(ctx: typer.Context, request: Callable[[], T]) -> T:
    """``request``'s answer; its refusal's fields named by this command's options."""
    try:
        return request()
    except CapaError as exc:
        if not exc.problems or isinstance(exc, StepPending):
            raise
        named = [problem.said(_option_of(problem.field, ctx)) for problem in exc.problems]
        raise CapaError(exc.kind, "; ".join(named), exc.problems) from None


# A step's fields whose option is not named after them (``whys`` is given one ``--why`` at a time); an item of a
# repeated option (``actions.1.owner``, ``whys.2``) is named by its place: ``--action 2``, ``--why 3``.
OPTION_OF_FIELD = {
    "whys": "--why",
    "new_owner": "--owner",
    "approve": "--approve/--reject",
    "actions": "--action",
    "criteria": "--criterion",
    "criteria_results": "--criterion-result",
    "dispositions": "--split",
    "links": "--link",
    "similar": "--similar",
    "add": "--add",
    "rescope": "--rescope",
}
# Where one command names a field otherwise than the others: `capa link`'s other record is ``--to`` (its ID is the
# record linked from), a plan is approved or returned, and `capa list` searches with --search.
OPTION_OF_FIELD_IN = {
    "link": {"record_id": "--to"},
    "decide-plan": {"approve": "--approve/--return"},
    "list": {"q": "--search", "direction": "--desc"},
}


def _option_of(field: str | None, ctx: typer.Context) -> str | None:
    """The command's name for a field of its step (``--manager``, ``ACTION_ID``, ``--action 2``), or the field's
    own path when the command has no option for it."""
    if field is None:
        return None
    head, _, rest = field.partition(".")
    number, _, _ = rest.partition(".")
    options = {**OPTION_OF_FIELD, **OPTION_OF_FIELD_IN.get(ctx.command.name or "", {})}
    if head in options:
        # A repeated option's values are numbered as typed: the second --action, the third --why.
        return f"{options[head]} {int(number) + 1}" if number.isdigit() else options[head]
    for param in ctx.command.params:
        if param.name == head:
            return param.opts[0] if param.param_type_name == "option" else (param.metavar or param.opts[0])
    return field


# Where each step is sent, below /api/v1/records/{id}.
STEP_PATHS = {
    "contain": "containment",
    "root-cause": "root-cause",
    "plan": "plan",
    "verify": "verification",
    "review": "review",
    "request-extension": "extension-requests",
    "decide-extension": "extension-decision",
    "reassign": "reassignment",
    "cancel": "cancellation",
    "triage": "triage",
    "amend-plan": "plan-amendments",
    "decide-plan": "plan-decision",
    "concede": "concession",
    "amend": "amendments",
    "link": "links",
    # honest pauses
    "request-pause": "pause-requests",
    "decide-pause": "pause-decision",
    "resume": "resumption",
}


def take_step(ctx: typer.Context, as_json: bool, what: str, record_id: str, step: str, **values: object) -> None:
    """Send ``step`` (its name as ``capa`` and the web app call it: ``contain``, ``root-cause``, ...) with the
    fields of its API body ``values``; what is not given is left to the model's defaults."""
    body = {key: value for key, value in values.items() if value is not None}
    post_step(ctx, as_json, what, f"/records/{record_id}/{STEP_PATHS[step]}", body)


def post_step(ctx: typer.Context, as_json: bool, what: str, path: str, body: dict[str, object]) -> None:
    """Send a step's body to its path, and print what it did."""

    def post(api: Api) -> StepOutcome:
        from models.payloads import StepOutcome  # noqa: PLC0415

        return StepOutcome.model_validate(api.post(path, body))

    answer_step(ctx, as_json, what, post)


def signing_password(from_stdin: bool) -> str:
    """The signer's password, asked for at the moment of signing: typed at the terminal, or the first line of
    standard input with ``--password-stdin``; never an option or a variable, which would linger in a history."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise UsageProblem("--password-stdin: no password on standard input")
        return password
    if not sys.stdin.isatty():
        raise UsageProblem("signing needs your password: type it at a terminal, or pipe it with --password-stdin")
    return typed_password("password, to sign: ")


def typed_password(prompt: str) -> str:
    """A password typed at the terminal, not echoed; Ctrl-D (or an empty line) is one line saying none was given."""
    import getpass  # noqa: PLC0415

    try:
        password = getpass.getpass(prompt)
    except EOFError:
        password = ""
    if not password:
        raise UsageProblem("no password given")
    return password


def answer_step(ctx: typer.Context, as_json: bool, what: str, work: Callable[[Api], StepOutcome]) -> None:
    """Print a step's result; a pending step's id as JSON for scripts (the one-line message goes to stderr)."""
    try:
        result = send(ctx, work)
    except StepPending as pending:
        if as_json:
            render.emit_json({"record_id": pending.record_id, "status": "pending", "step_id": pending.update_id})
        raise
    if as_json:
        render.emit_json(render.step_json(result))
    else:
        if result.due_at is not None:
            show_times(ctx)
        render.step_done(what, result)


def due_option(text: str, option: str) -> datetime | date:
    """The instant a due option names, or a date alone (the server takes it as the end of that day at the record's
    site); a bad one is a usage error naming the option."""
    try:
        return parse_due(text, datetime.now(UTC))
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=option) from None


def each_parsed(values: list[str] | None, option: str, parse: Callable[[str], T]) -> list[T] | None:
    """Each value of a repeated option parsed; a bad one is a usage error naming the option and the value as typed
    (``--criterion 'measure=x'``). None when the option was not given."""
    if not values:
        return None
    parsed = []
    for text in values:
        try:
            parsed.append(parse(text))
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint=f"{option} {text!r}") from None
    return parsed


def _record_id(value: str) -> str:
    """A record id as every record has one; anything else is a usage error before Temporal is asked."""
    from models.payloads import RECORD_ID_PATTERN  # noqa: PLC0415 - `capa --help` need not load the payloads

    if not re.fullmatch(RECORD_ID_PATTERN, value):
        raise typer.BadParameter(f"{value!r} is not a record id (like NC-2026-0001)")
    return value


RecordId = Annotated[
    str,
    typer.Argument(metavar="ID", help="The record, e.g. NC-2026-0001.", show_default=False, callback=_record_id),
]
Json = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
PasswordStdin = Annotated[
    bool,
    typer.Option(
        "--password-stdin", help="Sign with the password on standard input's first line (else: asked at the terminal)."
    ),
]
Reason = Annotated[str, typer.Option(help="Why; kept in the record's timeline.")]
Evidence = Annotated[str, typer.Option(help="What shows it was done: a document, a measurement, a link.")]
# recurrence sentinels
sentinels_app = typer.Typer(
    help="Recurrence sentinels: each watched key, its rule, count and window.", no_args_is_help=True
)
app.add_typer(sentinels_app, name="sentinels")
