"""`capa raise` and the steps: containment, root cause, plan, actions, verification, review, extensions,
reassignment, cancellation, evidence files, and the outcome of a step that was pending.

Each command maps its options onto the fields of its step's body in the HTTP API (the step's model,
``models.payloads``: ``ContainmentStep``, ...) and sends it as the acting sign-in; the API, the rules and the
workflow judge it as they judge the web app's. An option not named after its field is in
``cli.app.OPTION_OF_FIELD``, so a refusal names the option. The signed steps (verification, effectiveness review,
cancellation, extension decision) carry the signer's password, asked for at the moment of signing.
"""

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cli import render
from cli.app import (
    Evidence,
    Json,
    PasswordStdin,
    Reason,
    RecordId,
    UsageProblem,
    answer_step,
    app,
    due_option,
    post_step,
    send,
    signing_password,
    take_step,
)
from cli.parsing import parse_action
from models.enums import (
    CauseCategory,
    Disposition,
    EffectivenessResult,
    RootCauseMethod,
    Severity,
    Source,
    VerificationResult,
)

if TYPE_CHECKING:
    from cli.http import Api
    from models.payloads import StepOutcome


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
    values = {
        "title": title,
        "description": description,
        "severity": severity,
        "source": source,
        "owner": owner,
        "product": product,
        "lot": lot,
        "quantity": quantity,
    }

    body = {key: value for key, value in values.items() if value is not None}
    record_id: str = send(ctx, lambda api: api.post("/records", body))["id"]
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
    take_step(
        ctx,
        as_json,
        "containment recorded",
        record_id,
        "contain",
        summary=summary,
        disposition=disposition,
        quantity=quantity,
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
    take_step(
        ctx,
        as_json,
        "root cause recorded",
        record_id,
        "root-cause",
        method=method,
        cause=cause,
        whys=why,
        category=category,
        escape_point=escape_point,
        similar_checked=similar_checked,
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
    take_step(ctx, as_json, "plan accepted", record_id, "plan", actions=actions)


@app.command("complete-action")
def complete_action(
    ctx: typer.Context,
    record_id: RecordId,
    action_id: Annotated[str, typer.Argument(metavar="ACTION_ID", help="The action, e.g. A1.")],
    evidence: Evidence,
    as_json: Json = False,
) -> None:
    """Complete one action of the plan, with evidence."""
    path = f"/records/{record_id}/actions/{action_id}/completion"
    post_step(ctx, as_json, f"action {action_id} completed", path, {"evidence": evidence})


@app.command()
def verify(
    ctx: typer.Context,
    *,
    record_id: RecordId,
    result: Annotated[VerificationResult, typer.Option(help="Were the actions implemented, without harm?")],
    evidence: Evidence,
    password_stdin: PasswordStdin = False,
    as_json: Json = False,
) -> None:
    """Verify the actions (a manager who implemented none of them); signed with your password."""
    password = signing_password(password_stdin)
    take_step(
        ctx,
        as_json,
        f"verification {result.value}",
        record_id,
        "verify",
        result=result,
        evidence=evidence,
        password=password,
    )


@app.command()
def review(
    ctx: typer.Context,
    *,
    record_id: RecordId,
    result: Annotated[EffectivenessResult, typer.Option(help="Did the actions stop the problem recurring?")],
    evidence: Evidence,
    password_stdin: PasswordStdin = False,
    as_json: Json = False,
) -> None:
    """Review effectiveness once the window has passed (ISO 9001 10.2.1 d); signed with your password."""
    password = signing_password(password_stdin)
    take_step(
        ctx,
        as_json,
        f"effectiveness review: {result.value}",
        record_id,
        "review",
        result=result,
        evidence=evidence,
        password=password,
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
    new_due = due_option(until, "--until")
    take_step(
        ctx,
        as_json,
        "extension requested",
        record_id,
        "request-extension",
        until=new_due,
        reason=reason,
        action_id=action_id,
    )


@app.command("decide-extension")
def decide_extension(
    ctx: typer.Context,
    *,
    record_id: RecordId,
    approve: Annotated[
        bool | None, typer.Option("--approve/--reject", help="Grant or refuse the pending request.")
    ] = None,
    reason: Annotated[str | None, typer.Option(help="Why; required when rejecting.")] = None,
    password_stdin: PasswordStdin = False,
    as_json: Json = False,
) -> None:
    """Approve or reject the pending extension request (a manager other than the requester); signed with your
    password."""
    if approve is None:
        raise UsageProblem("pass --approve or --reject")
    password = signing_password(password_stdin)
    take_step(
        ctx,
        as_json,
        "extension approved" if approve else "extension rejected",
        record_id,
        "decide-extension",
        approve=approve,
        reason=reason,
        password=password,
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
    take_step(
        ctx,
        as_json,
        f"reassigned to {owner}",
        record_id,
        "reassign",
        owner=owner,
        reason=reason,
        action_id=action_id,
    )


@app.command()
def cancel(
    ctx: typer.Context,
    record_id: RecordId,
    reason: Reason,
    password_stdin: PasswordStdin = False,
    as_json: Json = False,
) -> None:
    """Cancel an invalid record (managers); every timer stops. Signed with your password."""
    password = signing_password(password_stdin)
    take_step(ctx, as_json, "cancelled", record_id, "cancel", reason=reason, password=password)


@app.command()
def outcome(
    ctx: typer.Context,
    record_id: RecordId,
    step_id: Annotated[str, typer.Argument(metavar="STEP", help="The step id a pending answer named.")],
    as_json: Json = False,
) -> None:
    """Wait for a step that was answered pending, and say what it did or why the record refused it."""

    def outcome_of(api: "Api") -> "StepOutcome":
        from models.payloads import StepOutcome  # noqa: PLC0415

        return StepOutcome.model_validate(api.get(f"/records/{record_id}/steps/{step_id}"))

    answer_step(ctx, as_json, "applied", outcome_of)


@app.command()
def attach(
    ctx: typer.Context,
    record_id: RecordId,
    files: Annotated[
        list[Path], typer.Argument(metavar="FILE...", help="The files: PDF, PNG, JPEG, WebP, CSV, XLSX, DOCX, TXT.")
    ],
    to: Annotated[
        str | None,
        typer.Option(
            metavar="STEP_OR_ACTION",
            help="containment, root_cause (or root-cause), verification, review or an action id (A1); default: the "
            "step the record is in.",
        ),
    ] = None,
    as_json: Json = False,
) -> None:
    """Attach evidence files to a step or an action of an open record; each is kept by its SHA-256, never removed."""
    for local in files:
        _check_readable(local)
    target = (to or "").strip()
    form = {"to": "root_cause" if target == "root-cause" else target} if target else {}
    answer = send(ctx, lambda api: api.upload(f"/records/{record_id}/files", files, form))
    if as_json:
        render.emit_json(answer)
        return
    from models.payloads import FileRef  # noqa: PLC0415

    for ref in answer:
        typer.echo(f"{record_id}: {render.file_line(FileRef.model_validate(ref))}")


def _check_readable(local: Path) -> None:
    """A file that is not there or cannot be read is bad input, named before anything is sent."""
    if not local.exists():
        raise UsageProblem(f"{local}: no such file")
    if not local.is_file():
        raise UsageProblem(f"{local}: not a file")
    if not os.access(local, os.R_OK):
        raise UsageProblem(f"{local}: cannot be read (permission denied)")
