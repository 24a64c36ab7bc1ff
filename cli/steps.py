"""`capa raise` and the steps: containment, root cause, plan and its amendment and approval, actions,
verification, review, extensions, reassignment, cancellation, evidence files, and the outcome of a step that was
pending. Triage, concessions, amendments and links are in ``cli.decisions``.

Each command maps its options onto the fields of its step's body in the HTTP API (the step's model,
``models.payloads``: ``ContainmentStep``, ...) and sends it as the acting sign-in; the API, the rules and the
workflow judge it as they judge the web app's. An option not named after its field is in
``cli.app.OPTION_OF_FIELD``, so a refusal names the option; a repeated option's values that have a form of their
own (``--criterion``, ``--split``, ``--link``) are parsed here (``cli.parsing``) and a bad one is named as typed.
The signed steps (verification, effectiveness review, cancellation, extension and plan decisions) carry the
signer's password, asked for at the moment of signing.
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
    each_parsed,
    post_step,
    send,
    signing_password,
    take_step,
)
from cli.parsing import (
    is_action_pairs,
    parse_action,
    parse_action_pairs,
    parse_assignment,
    parse_criterion,
    parse_criterion_result,
)
from models.enums import (
    CancelCategory,
    CauseCategory,
    Disposition,
    EffectivenessResult,
    LinkKind,
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
    defect_code: Annotated[
        str | None, typer.Option(help="A defect code from the policy's list (`capa process` prints it).")
    ] = None,
    supplier: Annotated[str | None, typer.Option(help="The supplier the nonconformity concerns.")] = None,
    customer: Annotated[str | None, typer.Option(help="The customer the nonconformity concerns.")] = None,
    link: Annotated[
        list[str] | None,
        typer.Option(
            metavar="KIND=ID",
            help="A record this one relates to: duplicate-of, recurrence-of, related, parent-of or child-of, e.g. "
            "recurrence-of=NC-2026-0001. Repeat.",
        ),
    ] = None,
    site: Annotated[
        str | None, typer.Option(help="The site it belongs to (`capa sites list`); default your home site.")
    ] = None,
    as_json: Json = False,
) -> None:
    """Raise a nonconformity; prints its new id. The severity is provisional until quality triages it."""
    values = {
        "title": title,
        "description": description,
        "severity": severity,
        "source": source,
        "owner": owner,
        "product": product,
        "lot": lot,
        "quantity": quantity,
        "defect_code": defect_code,
        "supplier": supplier,
        "customer": customer,
        "links": each_parsed(link, "--link", _link_ref),
        "site": site,
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
    disposition: Annotated[Disposition | None, typer.Option(help="What happens to the product (all of it).")] = None,
    quantity: Annotated[int | None, typer.Option(help="How many pieces the disposition covers.")] = None,
    split: Annotated[
        list[str] | None,
        typer.Option(
            metavar="DISPOSITION=QTY",
            help="Part of the product and what happens to it, e.g. rework=80; repeat to split it, instead of "
            "--disposition.",
        ),
    ] = None,
    no_product_affected: Annotated[
        bool,
        typer.Option("--no-product-affected", help="The finding concerns no product (audit, system, document)."),
    ] = False,
    shipped: Annotated[int | None, typer.Option(help="How many affected pieces had already shipped.")] = None,
    customers_told: Annotated[
        bool | None,
        typer.Option("--customers-told/--customers-not-told", help="Whether customers were told of shipped product."),
    ] = None,
    as_json: Json = False,
) -> None:
    """Record the containment (ISO 9001 10.2.1 a): a disposition, a split of the product across dispositions, or
    no product affected. Use-as-is and rework then need quality's concession (`capa concede`)."""
    take_step(
        ctx,
        as_json,
        "containment recorded",
        record_id,
        "contain",
        summary=summary,
        disposition=disposition,
        quantity=quantity,
        dispositions=each_parsed(split, "--split", _share),
        no_product_affected=no_product_affected or None,
        shipped=shipped,
        customers_told=customers_told,
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
    non_detection_cause: Annotated[
        str | None, typer.Option(help="Why it was not caught there (major and critical).")
    ] = None,
    similar_checked: Annotated[str | None, typer.Option(help="Which similar cases were checked (10.2.1 b3).")] = None,
    similar: Annotated[
        list[str] | None,
        typer.Option(metavar="ID", help="An earlier record found similar (`capa similar TEXT` finds them). Repeat."),
    ] = None,
    as_json: Json = False,
) -> None:
    """Record the root cause (ISO 9001 10.2.1 b): five-whys, fishbone, fault-tree, is-is-not or other."""
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
        non_detection_cause=non_detection_cause,
        similar_checked=similar_checked,
        similar=similar or None,
    )


@app.command()
def plan(
    ctx: typer.Context,
    record_id: RecordId,
    action: Annotated[
        list[str],
        typer.Option(
            metavar="OWNER:DUE:DESCRIPTION",
            help="One action; DUE is a date (the end of that day at the record's site), an ISO date-time (UTC "
            "unless it has an offset) or a duration such as 10d. Or as pairs: owner=..,due=..,description=.."
            "[,late_due_reason=..] (a due beyond the policy's bound needs the reason). Repeat.",
        ),
    ],
    criterion: Annotated[
        list[str] | None,
        typer.Option(
            metavar="measure=..,baseline=..,threshold=..,source=..,days=N",
            help="An effectiveness criterion set in advance; the window is days=N, lots=N or units=N; "
            "products=H-210/H-220 names the products its window watches for recurrences. Repeat.",
        ),
    ] = None,
    as_json: Json = False,
) -> None:
    """Submit the action plan: one or more actions, each with its owner and due date, and the effectiveness
    criteria the review will judge."""
    now = datetime.now(UTC)
    actions = each_parsed(action, "--action", lambda text: _action(text, now))
    criteria = each_parsed(criterion, "--criterion", parse_criterion)
    take_step(ctx, as_json, "plan submitted", record_id, "plan", actions=actions, criteria=criteria)


@app.command("amend-plan")
def amend_plan(
    ctx: typer.Context,
    *,
    record_id: RecordId,
    add: Annotated[
        list[str] | None,
        typer.Option(
            metavar="owner=..,due=..,description=..",
            help="An action to add, as pairs (late_due_reason=.. and kind=.. optional). Repeat.",
        ),
    ] = None,
    rescope: Annotated[
        list[str] | None,
        typer.Option(metavar="ACTION_ID=SCOPE", help="What an open action is now to do, e.g. A1='new scope'. Repeat."),
    ] = None,
    reason: Reason,
    as_json: Json = False,
) -> None:
    """Amend a submitted plan: add actions, re-scope open ones; quality approves it (`capa decide-plan`)."""
    if not add and not rescope:
        raise UsageProblem("pass --add or --rescope: an amendment adds or re-scopes at least one action")
    now = datetime.now(UTC)
    take_step(
        ctx,
        as_json,
        "plan amendment submitted",
        record_id,
        "amend-plan",
        add=each_parsed(add, "--add", lambda text: parse_action_pairs(text, now)),
        rescope=each_parsed(rescope, "--rescope", _rescope),
        reason=reason,
    )


@app.command("decide-plan")
def decide_plan(
    ctx: typer.Context,
    *,
    record_id: RecordId,
    approve: Annotated[
        bool | None, typer.Option("--approve/--return", help="Approve the plan (or amendment), or return it.")
    ] = None,
    reason: Annotated[str | None, typer.Option(help="Why; required when returning it.")] = None,
    password_stdin: PasswordStdin = False,
    as_json: Json = False,
) -> None:
    """Approve or return the plan or amendment awaiting approval (quality, not the owner); signed with your
    password."""
    if approve is None:
        raise UsageProblem("pass --approve or --return")
    password = signing_password(password_stdin)
    take_step(
        ctx,
        as_json,
        "plan approved" if approve else "plan returned",
        record_id,
        "decide-plan",
        approve=approve,
        reason=reason,
        password=password,
    )


@app.command("complete-action")
def complete_action(
    ctx: typer.Context,
    record_id: RecordId,
    action_id: Annotated[str, typer.Argument(metavar="ACTION_ID", help="The action, e.g. A1.")],
    evidence: Evidence,
    *,
    as_json: Json = False,
    # QMS updates that gate closure
    detail: Annotated[
        list[str] | None,
        typer.Option(
            metavar="FIELD=VALUE",
            help="A QMS update's detail: revision_to=C, effective_date=2027-01-04, reference=CC-118, ... Repeat.",
        ),
    ] = None,
) -> None:
    """Complete one action of the plan, with evidence (and a QMS update's revision, date or reference)."""
    path = f"/records/{record_id}/actions/{action_id}/completion"
    body: dict[str, object] = {"evidence": evidence}
    if detail:
        body["details"] = dict(parse_assignment(item, "FIELD", "VALUE") for item in detail)
    post_step(ctx, as_json, f"action {action_id} completed", path, body)


# QMS updates that gate closure
@app.command("record-training")
def record_training(
    ctx: typer.Context,
    record_id: RecordId,
    action_id: Annotated[str, typer.Argument(metavar="ACTION_ID", help="The training action, e.g. A2.")],
    person: Annotated[list[str], typer.Option(help="Who completed the training. Repeat.")],
    as_json: Json = False,
) -> None:
    """Record who completed a training action's course; verification waits for its threshold."""
    path = f"/records/{record_id}/actions/{action_id}/training"
    post_step(ctx, as_json, f"training of {action_id} recorded", path, {"people": person})


@app.command()
def verify(
    ctx: typer.Context,
    *,
    record_id: RecordId,
    result: Annotated[VerificationResult, typer.Option(help="Were the actions implemented, without harm?")],
    evidence: Evidence,
    no_adverse_effect: Annotated[
        bool,
        typer.Option(
            "--no-adverse-effect", help="The actions do not harm the ability to meet requirements (ISO 13485 8.5.2)."
        ),
    ] = False,
    adverse_effect_evidence: Annotated[str | None, typer.Option(help="What shows there is no adverse effect.")] = None,
    criterion: Annotated[
        list[str] | None,
        typer.Option(
            metavar="measure=..,baseline=..,threshold=..,source=..,days=N",
            help="An effectiveness criterion, where the plan set none. Repeat.",
        ),
    ] = None,
    password_stdin: PasswordStdin = False,
    as_json: Json = False,
) -> None:
    """Verify the actions (a manager or quality who implemented none of them); signed with your password."""
    criteria = each_parsed(criterion, "--criterion", parse_criterion)
    password = signing_password(password_stdin)
    take_step(
        ctx,
        as_json,
        f"verification {result.value}",
        record_id,
        "verify",
        result=result,
        evidence=evidence,
        no_adverse_effect=no_adverse_effect or None,
        adverse_effect_evidence=adverse_effect_evidence,
        criteria=criteria,
        password=password,
    )


@app.command()
def review(
    ctx: typer.Context,
    *,
    record_id: RecordId,
    result: Annotated[
        EffectivenessResult,
        typer.Option(help="Did the actions stop the problem recurring? inconclusive extends the window once."),
    ],
    evidence: Evidence,
    criterion_result: Annotated[
        list[str] | None,
        typer.Option(
            metavar="N=met:DATA",
            help="The plan's Nth criterion judged: N=met:DATA or N=not-met:DATA, e.g. 1=met:0 rejects in 30 days. "
            "One for each criterion.",
        ),
    ] = None,
    password_stdin: PasswordStdin = False,
    as_json: Json = False,
) -> None:
    """Review effectiveness once the window has passed (ISO 9001 10.2.1 d), judging each criterion; signed with
    your password."""
    criteria_results = each_parsed(criterion_result, "--criterion-result", parse_criterion_result)
    password = signing_password(password_stdin)
    take_step(
        ctx,
        as_json,
        f"effectiveness review: {result.value}",
        record_id,
        "review",
        result=result,
        evidence=evidence,
        criteria_results=criteria_results,
        password=password,
    )


@app.command("request-extension")
def request_extension(
    ctx: typer.Context,
    *,
    record_id: RecordId,
    until: Annotated[
        str,
        typer.Option(
            metavar="DATE_OR_DURATION",
            help="The new due: 2026-03-31 (the end of that day at the record's site), ISO, or 10d.",
        ),
    ],
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
    action_id: Annotated[
        str | None,
        typer.Option("--action", metavar="ACTION_ID", help="The request for this action, not the stage's own."),
    ] = None,
    password_stdin: PasswordStdin = False,
    as_json: Json = False,
) -> None:
    """Approve or reject a pending extension request (a manager of the requester's line, or quality; not the
    requester); signed with your password."""
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
        action_id=action_id,
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
    *,
    record_id: RecordId,
    reason: Reason,
    category: Annotated[
        CancelCategory | None, typer.Option(help="Why, in one word of the list (required for current records).")
    ] = None,
    duplicate_of: Annotated[
        str | None, typer.Option(metavar="ID", help="The record this one duplicates (category duplicate).")
    ] = None,
    password_stdin: PasswordStdin = False,
    as_json: Json = False,
) -> None:
    """Cancel an invalid record (quality; managers for records under the earlier rules); every timer stops. Signed
    with your password."""
    password = signing_password(password_stdin)
    take_step(
        ctx,
        as_json,
        "cancelled",
        record_id,
        "cancel",
        reason=reason,
        category=category,
        duplicate_of=duplicate_of,
        password=password,
    )


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


def _action(text: str, now: datetime) -> dict[str, object]:
    """A plan's ``--action``, as OWNER:DUE:DESCRIPTION or as ``key=value`` pairs."""
    return parse_action_pairs(text, now) if is_action_pairs(text) else parse_action(text, now)


def _rescope(text: str) -> dict[str, str]:
    action_id, description = parse_assignment(text, "ACTION_ID", "SCOPE")
    return {"action_id": action_id, "description": description}


def _share(text: str) -> dict[str, object]:
    disposition, quantity = parse_assignment(text, "DISPOSITION", "QTY")
    choices = [choice.value for choice in Disposition]
    if disposition not in choices:
        raise ValueError(f"{disposition!r} is not a disposition: {', '.join(choices)}")
    if not quantity.isdigit():
        raise ValueError(f"{quantity!r} is not a number of pieces")
    return {"disposition": disposition, "quantity": int(quantity)}


def _link_ref(text: str) -> dict[str, str]:
    kind, record_id = parse_assignment(text, "KIND", "ID")
    kinds = [choice.value for choice in LinkKind]
    if kind not in kinds:
        raise ValueError(f"{kind!r} is not a kind of link: {', '.join(kinds)}")
    return {"kind": kind, "record_id": record_id}


# --- honest pauses ---


@app.command("pause")
def request_pause(
    ctx: typer.Context,
    *,
    record_id: RecordId,
    waiting_on: Annotated[str, typer.Option(metavar="supplier|customer", help="Who the step waits on.")],
    until: Annotated[
        str,
        typer.Option(
            metavar="DATE_OR_DURATION",
            help="When the answer is expected: 2026-03-31 (the end of that day at the record's site), ISO, or 10d.",
        ),
    ],
    reason: Reason,
    action_id: Annotated[
        str | None, typer.Option("--action", metavar="ACTION_ID", help="For this action, not the stage.")
    ] = None,
    as_json: Json = False,
) -> None:
    """Ask quality to pause the clock of the step you hold while a supplier or a customer answers."""
    expected = due_option(until, "--until")
    take_step(
        ctx,
        as_json,
        "pause requested",
        record_id,
        "request-pause",
        waiting_on=waiting_on,
        expected_until=expected,
        reason=reason,
        action_id=action_id,
    )


@app.command("decide-pause")
def decide_pause(
    ctx: typer.Context,
    *,
    record_id: RecordId,
    approve: Annotated[
        bool | None, typer.Option("--approve/--decline", help="Pause the clock or refuse the request.")
    ] = None,
    reason: Annotated[str | None, typer.Option(help="Why; required when declining.")] = None,
    action_id: Annotated[
        str | None,
        typer.Option("--action", metavar="ACTION_ID", help="The request for this action, not the stage's own."),
    ] = None,
    password_stdin: PasswordStdin = False,
    as_json: Json = False,
) -> None:
    """Approve or decline a pending pause request (quality, not the requester); signed with your password."""
    if approve is None:
        raise UsageProblem("pass --approve or --decline")
    password = signing_password(password_stdin)
    take_step(
        ctx,
        as_json,
        "pause approved" if approve else "pause declined",
        record_id,
        "decide-pause",
        approve=approve,
        reason=reason,
        action_id=action_id,
        password=password,
    )


@app.command("resume")
def resume(
    ctx: typer.Context,
    *,
    record_id: RecordId,
    reason: Annotated[str | None, typer.Option(help="Why, e.g. the supplier answered.")] = None,
    action_id: Annotated[
        str | None, typer.Option("--action", metavar="ACTION_ID", help="Resume this action's clock.")
    ] = None,
    as_json: Json = False,
) -> None:
    """Start a paused clock again (its holder or quality): it falls due with the time it had left."""
    take_step(ctx, as_json, "resumed", record_id, "resume", reason=reason, action_id=action_id)
