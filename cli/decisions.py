"""Quality's signed decisions on a record (triage, concession, amendment of a fact), links between records, and
`capa process`: who does what, the risk matrix and the defect codes of the rules in force.

Like the steps (``cli.steps``), each command maps its options onto its step's body in the HTTP API
(``models.payloads``: ``TriageStep``, ``ConcessionStep``, ``AmendStep``, ``LinkStep``) and lets the API judge it.
"""

from typing import Annotated

import typer

from cli import render
from cli.app import (
    STEP_PATHS,
    Json,
    PasswordStdin,
    Reason,
    RecordId,
    UsageProblem,
    app,
    post_step,
    send,
    signing_password,
    take_step,
)
from models.enums import AmendableField, LinkKind, TriageDecision


@app.command()
def triage(
    ctx: typer.Context,
    *,
    record_id: RecordId,
    severity_level: Annotated[
        int, typer.Option(min=1, max=5, metavar="1-5", help="Severity of the effect (`capa process` words each).")
    ],
    occurrence_level: Annotated[
        int, typer.Option(min=1, max=5, metavar="1-5", help="How often it occurs (`capa process` words each).")
    ],
    decision: Annotated[
        TriageDecision, typer.Option(help="capa: the full lifecycle; correction-only: closes after containment.")
    ],
    rationale: Annotated[str | None, typer.Option(help="Why; required for correction-only.")] = None,
    customer_notification: Annotated[
        bool, typer.Option("--customer-notification", help="The customer must be notified.")
    ] = False,
    regulatory_report: Annotated[
        bool, typer.Option("--regulatory-report", help="A report to a regulator is required.")
    ] = False,
    field_action: Annotated[
        bool, typer.Option("--field-action", help="A field action (recall, correction) is required.")
    ] = False,
    password_stdin: PasswordStdin = False,
    as_json: Json = False,
) -> None:
    """Triage a record (quality): severity and occurrence give its class by the policy's risk matrix; decide
    whether it needs a CAPA; record reportability. Signed with your password."""
    password = signing_password(password_stdin)
    take_step(
        ctx,
        as_json,
        f"triaged, {decision.value}",
        record_id,
        "triage",
        severity_level=severity_level,
        occurrence_level=occurrence_level,
        decision=decision,
        rationale=rationale,
        customer_notification=customer_notification,
        regulatory_report=regulatory_report,
        field_action=field_action,
        password=password,
    )


@app.command()
def concede(
    ctx: typer.Context,
    *,
    record_id: RecordId,
    justification: Annotated[str, typer.Option(help="Why the product may be used as is or reworked.")],
    customer_approval: Annotated[
        str | None, typer.Option(help="The customer's approval reference, where the policy asks for it.")
    ] = None,
    password_stdin: PasswordStdin = False,
    as_json: Json = False,
) -> None:
    """Grant the concession a use-as-is or rework disposition needs (quality); signed with your password."""
    password = signing_password(password_stdin)
    take_step(
        ctx,
        as_json,
        "concession granted",
        record_id,
        "concede",
        justification=justification,
        customer_approval=customer_approval,
        password=password,
    )


@app.command()
def amend(
    ctx: typer.Context,
    *,
    record_id: RecordId,
    field: Annotated[AmendableField, typer.Option(help="The fact to correct.")],
    value: Annotated[str | None, typer.Option(help="Its new value.")] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Clear the fact instead of giving a value.")] = False,
    reason: Reason,
    password_stdin: PasswordStdin = False,
    as_json: Json = False,
) -> None:
    """Correct one fact of a record (quality), open or ended; the timeline keeps the old value, the new one and
    why. Signed with your password."""
    if (value is None) == (not clear):
        raise UsageProblem("pass --value VALUE, or --clear to clear the field")
    password = signing_password(password_stdin)
    said = f"{field.value} cleared" if clear else f"{field.value} amended"
    take_step(ctx, as_json, said, record_id, "amend", field=field, value=value, reason=reason, password=password)


@app.command()
def link(
    ctx: typer.Context,
    *,
    record_id: RecordId,
    kind: Annotated[LinkKind, typer.Option(help="How this record relates to the other.")],
    to: Annotated[str, typer.Option(metavar="ID", help="The other record, e.g. NC-2026-0001.")],
    reason: Annotated[str | None, typer.Option(help="Why, if not obvious.")] = None,
    as_json: Json = False,
) -> None:
    """Link this record to another (duplicate-of, recurrence-of, related, parent-of, child-of); both show it."""
    # The body's ``record_id`` is the other record; this one is in the path.
    body: dict[str, object] = {"kind": kind, "record_id": to}
    if reason is not None:
        body["reason"] = reason
    post_step(ctx, as_json, f"linked: {kind.value} {to}", f"/records/{record_id}/{STEP_PATHS['link']}", body)


@app.command()
def process(ctx: typer.Context, as_json: Json = False) -> None:
    """The process rules in force: who does what, the risk matrix with each level's wording, the defect codes."""
    rules = send(ctx, lambda api: api.get("/process"))
    if as_json:
        render.emit_json(rules)
    else:
        render.process_rules(rules)
