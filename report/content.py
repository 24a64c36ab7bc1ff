"""What the CAPA report says, as plain JSON values: every fact of a record in the words and forms people read.

The layout (``capa_report.typ``) only places these texts; nothing here is markup. Signatures, evidence files and
the timeline's chain hashes are shown when the record carries them and left out when it does not: a record
written before they existed reads as it always did, and each appears however it reached the state (a model, or
a field kept as its JSON values).
"""

from collections.abc import Iterable, Mapping
from datetime import datetime
from enum import Enum
from typing import Any

from models import recurrence
from models.formatting import moment
from models.payloads import CapaState, Event
from models.sentences import sentence

ReportContent = dict[str, Any]

# The steps a file can be attached to besides the actions (which it names by their ids).
_TARGETS = frozenset({"containment", "root_cause", "verification", "review"})
# A run of this many characters without a space is given places to break, so a long link or part number wraps
# inside its column instead of running over the page's edge.
_LONGEST_RUN = 36
_BREAK = "\u200b"


def report_content(
    state: CapaState,
    *,
    names: Mapping[str, str],
    generated_by: str,
    generated_at: datetime,
    stale: str | None = None,
) -> ReportContent:
    """The report of ``state``: ``names`` maps login names to printed (full) names, ``generated_by`` is the login
    name of who asked for it; ``stale`` says why the record is shown as last recorded, when it is."""

    def person(name: str | None) -> str:
        """``Maria Keller (maria)``; a login name alone when the directory has no other name for it."""
        if not name:
            return "-"
        printed = names.get(name)
        return f"{printed} ({name})" if printed and printed != name else name

    files = [_file(item, person) for item in _values(_get(state, "files"))]
    action_ids = {action.id for action in state.actions}
    generated = f"Generated at {moment(generated_at)} by {person(generated_by)}"
    return {
        "id": state.id,
        "title": _wrap(state.title),
        "stage": _words(state.stage),
        "severity": _words(state.severity),
        "description": _wrap(state.description),
        "facts": _facts(state, person),
        "notes": [_wrap(f"Shown as last recorded: {stale}.")] if stale else [],
        "containment": _containment(state, person),
        "containment_files": [f for f in files if f["to"] == "containment"],
        "root_causes": [_root_cause(cause, person, len(state.root_causes) > 1) for cause in state.root_causes],
        "root_cause_files": [f for f in files if f["to"] == "root_cause"],
        "actions": [_action(action, person) for action in state.actions],
        "action_files": [f for f in files if f["to"] in action_ids],
        "verifications": [_verification(v, person, len(state.verifications) > 1) for v in state.verifications],
        "verification_files": [f for f in files if f["to"] == "verification"],
        "reviews": [_review(r, person, len(state.reviews) > 1) for r in state.reviews],
        "review_files": [f for f in files if f["to"] == "review"],
        "other_files": [f for f in files if f["to"] not in action_ids and f["to"] not in _TARGETS],
        "signatures": _signatures(state),
        "timeline": [_entry(event, person) for event in state.events],
        "chain_head": _text(_get(state, "chain_head")),
        "generated": generated,
    }


# --- reading fields that may be a model's or a mapping's -------------------------------------------------------


def _get(item: Any, key: str) -> Any:
    """``item``'s field ``key``, whether ``item`` is a model (declared or kept extra field) or a mapping."""
    if isinstance(item, Mapping):
        return item.get(key)
    return getattr(item, key, None)


def _values(items: Any) -> list[Any]:
    return list(items) if isinstance(items, Iterable) and not isinstance(items, str | bytes | Mapping) else []


def _text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _when(value: Any) -> str:
    """A moment in the one form people read (``2026-03-01 14:02:11 UTC``), from a datetime or its ISO text."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return str(value)
    return moment(value) if isinstance(value, datetime) else "-"


def _words(value: Any) -> str:
    text = str(value.value if isinstance(value, Enum) else value)
    return text.replace("_", " ").replace("-", " ")


def _wrap(text: str) -> str:
    """``text`` with a place to break in every run of more than ``_LONGEST_RUN`` characters without a space."""
    words = text.split(" ")
    if all(len(word) <= _LONGEST_RUN for word in words):
        return text
    return " ".join(
        _BREAK.join(word[i : i + _LONGEST_RUN] for i in range(0, len(word), _LONGEST_RUN)) for word in words
    )


# --- the sections ---------------------------------------------------------------------------------------------


def _facts(state: CapaState, person: Any) -> list[list[str]]:
    facts = [
        ["Record", state.id],
        ["Stage", _words(state.stage)],
        ["Severity", _words(state.severity)],
        ["Found by", _words(state.source)],
        ["Raised", f"{moment(state.raised_at)} by {person(state.raised_by)}"],
        ["Owner", person(state.owner)],
        ["Product", state.product or "-"],
        ["Lot", state.lot or "-"],
        ["Quantity affected", "-" if state.quantity is None else f"{state.quantity} pcs"],
    ]
    for label, value in (
        ("Defect code", state.defect_code),
        ("Supplier", state.supplier),
        ("Customer", state.customer),
    ):
        if value:
            facts.append([label, value])
    triage = state.triage
    if triage is not None:
        raised_as = state.provisional_severity or triage.risk_class
        facts.append(
            [
                "Triage",
                f"severity {triage.severity_level}, occurrence {triage.occurrence_level}: class"
                f" {_words(triage.risk_class)} (raised as {_words(raised_as)}), {_words(triage.decision)},"
                f" {person(triage.by)}, {moment(triage.at)}",
            ]
        )
        reported = [
            name
            for name, on in (
                ("customer notification", triage.customer_notification),
                ("regulatory report", triage.regulatory_report),
                ("field action", triage.field_action),
            )
            if on
        ]
        facts.append(["To report", ", ".join(reported) or "nothing"])
        if triage.rationale:
            facts.append(["Triage rationale", triage.rationale])
    for number, c in enumerate(state.criteria, 1):
        window = ", ".join(
            f"{value} {unit}"
            for value, unit in ((c.window_days, "days"), (c.window_lots, "lots"), (c.window_units, "units"))
            if value
        )
        facts.append(
            [
                f"Effectiveness criterion {number}",
                f"{c.measure}: {c.baseline} to {c.threshold} ({c.data_source}, {window})",
            ]
        )
    # recurrence: the effectiveness window's data beside each criterion, once a matching raise was recorded
    watched = recurrence.window_data(state)
    if any(row.count for row in watched):
        for row in watched:
            beside = f"criterion {row.number}" if row.number is not None else recurrence.OWN_KEY
            facts.append([f"Effectiveness window, {beside}", row.said()])
    for link in state.links:
        facts.append(["Linked", f"{_words(link.kind)} {link.record_id}"])
    if state.cycle > 1:
        facts.append(["Cycle", str(state.cycle)])
    if state.closed_at is not None:
        facts.append(["Closed" if state.cancel_reason is None else "Cancelled", moment(state.closed_at)])
    if state.cancel_reason:
        category = f"{_words(state.cancel_category)}: " if state.cancel_category else ""
        facts.append(["Cancelled because", category + state.cancel_reason])
    if state.stage.is_open and state.due_at is not None:
        facts.append(["Next due", moment(state.due_at)])
    if state.policy is not None:
        facts.append(["Policy", f"{state.policy.name} (sha256 {state.policy.digest})"])
        facts.append(["Procedure", state.procedure_line()])  # procedure-version pinning
    amended = _amendments(state, person)
    marked = [[label, value + amended[label]] if label in amended else [label, value] for label, value in facts]
    return [[label, _wrap(value)] for label, value in marked]


# The facts' labels of the fields a signed amendment may correct.
_AMENDED_LABELS = {
    "title": "Title",
    "description": "Description",
    "product": "Product",
    "lot": "Lot",
    "quantity": "Quantity affected",
    "defect_code": "Defect code",
    "supplier": "Supplier",
    "customer": "Customer",
}


def _amendments(state: CapaState, person: Any) -> dict[str, str]:
    """For each fact a signed amendment corrected: `` (amended from “L42” by Quinn Rivera (quinn), <when>)``."""
    marks: dict[str, str] = {}
    for event in state.events:
        details = event.details
        field = _get(details, "field")
        if event.kind.value != "amended" or field is None:
            continue
        label = _AMENDED_LABELS.get(str(_get(field, "value") or field))
        if label is not None:
            before = _get(details, "previous")
            shown = before if before is not None else "-"
            marks[label] = f" (amended from “{shown}” by {person(event.actor)}, {moment(event.at)})"
    return marks


def _containment(state: CapaState, person: Any) -> dict[str, Any] | None:
    c = state.containment
    if c is None:
        return None
    if c.dispositions or c.no_product_affected:
        disposition = _words(c.disposed())
    else:
        disposition = _words(c.disposition) + (f", {c.quantity} pcs" if c.quantity is not None else "")
    if c.shipped:
        told = {True: ", customers told", False: ", customers not told", None: ""}[c.customers_told]
        disposition += f"; {c.shipped} pcs already shipped{told}"
    rows = [
        ["What was done", _wrap(c.summary)],
        ["Disposition", _wrap(disposition)],
        ["Recorded", f"{person(c.by)}, {moment(c.at)}"],
    ]
    if c.concession is not None:
        customer = f" (customer approval {c.concession.customer_approval})" if c.concession.customer_approval else ""
        rows.append(
            [
                "Concession",
                _wrap(f"{c.concession.justification}{customer}; {person(c.concession.by)}, {moment(c.concession.at)}"),
            ]
        )
    return {
        "summary": _wrap(c.summary),
        "disposition": disposition,
        "by": f"{person(c.by)}, {moment(c.at)}",
        "rows": rows,
    }


def _root_cause(cause: Any, person: Any, numbered: bool) -> dict[str, Any]:
    details = [["Method", _words(cause.method)]]
    if cause.category is not None:
        details.append(["6M category", _words(cause.category)])
    if cause.escape_point:
        details.append(["Escape point", _wrap(cause.escape_point)])
    if _get(cause, "non_detection_cause"):
        details.append(["Not detected because", _wrap(cause.non_detection_cause)])
    if cause.similar_checked:
        details.append(["Similar cases checked", _wrap(cause.similar_checked)])
    if _get(cause, "similar"):
        details.append(["Similar records", ", ".join(cause.similar)])
    details.append(["Found", f"{person(cause.by)}, {moment(cause.at)}"])
    return {
        "heading": f"Root cause, cycle {cause.cycle}" if numbered else "Root cause",
        "cause": _wrap(cause.cause),
        "whys": [_wrap(why) for why in cause.whys],
        "details": details,
    }


def _action(action: Any, person: Any) -> dict[str, Any]:
    kind = _words(action.kind) + (
        f", cycle {action.cycle} round {action.round}" if action.cycle > 1 or action.round > 1 else ""
    )
    done = f"{person(action.completed_by)}, {moment(action.completed_at)}" if action.completed_at else None
    description = action.description
    if _get(action, "late_due_reason"):
        description += f" (due after the policy's latest date: {action.late_due_reason})"
    due = moment(action.clock.due_at)
    if action.clock.original_due_at != action.clock.due_at:
        due += f" (originally {moment(action.clock.original_due_at)}, extended)"
    return {
        "id": action.id,
        "kind": kind,
        "description": _wrap(description),
        "owner": person(action.owner),
        "due": _wrap(due),
        "status": _words(action.status),
        "evidence": _wrap(action.evidence) if action.evidence else None,
        "done": done,
    }


def _verification(v: Any, person: Any, numbered: bool) -> dict[str, Any]:
    evidence = v.evidence
    if _get(v, "no_adverse_effect"):
        evidence += f". No adverse effect on meeting requirements: {v.adverse_effect_evidence}"
    return {
        "heading": (f"Verification, round {v.round}" if numbered else "Verification") + f": {_words(v.result)}",
        "evidence": _wrap(evidence),
        "by": f"{person(v.by)}, {moment(v.at)}",
        "signature": _signature(_get(v, "signature")),
    }


def _review(r: Any, person: Any, numbered: bool) -> dict[str, Any]:
    evidence = r.evidence
    for result in _get(r, "criteria_results") or []:
        evidence += f". Criterion {result.criterion} {'met' if result.met else 'not met'}: {result.data}"
    return {
        "heading": (f"Effectiveness review, cycle {r.cycle}" if numbered else "Effectiveness review")
        + f": {_words(r.result)}",
        "evidence": _wrap(evidence),
        "by": f"{person(r.by)}, {moment(r.at)}",
        "signature": _signature(_get(r, "signature")),
    }


def _file(item: Any, person: Any) -> dict[str, Any]:
    size = _get(item, "size")
    return {
        "to": str(_get(item, "to") or ""),
        "name": _wrap(str(_get(item, "name") or "-")),
        "size": _size(size) if isinstance(size, int) else "-",
        "type": str(_get(item, "media_type") or "-"),
        "sha256": str(_get(item, "sha256") or "-"),
        "uploaded": f"{person(_get(item, 'uploaded_by'))}, {_when(_get(item, 'uploaded_at'))}",
    }


def _size(size: int) -> str:
    """``812 bytes``, ``245.3 KB (251,187 bytes)`` (1 KB = 1024 bytes): readable, and exact."""
    if size < 1024:
        return f"{size} bytes"
    value = size / 1024
    for unit in ("KB", "MB"):
        if value < 1024:
            return f"{value:.1f} {unit} ({size:,} bytes)"
        value /= 1024
    return f"{value:.1f} GB ({size:,} bytes)"


# --- signatures and the timeline -----------------------------------------------------------------------------


def manifestation(signature: Any) -> str | None:
    """``Signed by Maria Keller (maria), approved: effective, record closed, 2026-03-01 14:02:11 UTC``: what a
    signature says, from the signature's own ``manifestation()`` or, for one kept as JSON values, its fields."""
    if signature is None:
        return None
    own = getattr(signature, "manifestation", None)
    if callable(own):
        return str(own())
    signer = _get(signature, "signer")
    if not signer:
        return None
    full = _get(signature, "full_name") or signer
    who = f"{full} ({signer})" if full != signer else signer
    return f"Signed by {who}, {_get(signature, 'meaning') or 'signed'}, {_when(_get(signature, 'signed_at'))}"


def _signature(signature: Any) -> dict[str, str] | None:
    shown = manifestation(signature)
    if shown is None:
        return None
    return {"manifestation": shown, "content_sha256": str(_get(signature, "content_sha256") or "-")}


def _signatures(state: CapaState) -> list[dict[str, str]]:
    """Every signature on the record, in the order of the timeline: a signed step's entry carries its
    signature; one kept only on a verification or review (and not on an entry) is added after."""
    found: list[dict[str, str]] = []
    seen: set[str] = set()

    def add(signature: Any, what: str) -> None:
        shown = _signature(signature)
        if shown is not None and shown["manifestation"] not in seen:
            seen.add(shown["manifestation"])
            found.append({**shown, "of": what})

    for event in state.events:
        add(_get(event.details, "signature"), f"#{event.seq} {_words(event.kind)}")
    for v in state.verifications:
        add(_get(v, "signature"), f"verification, round {v.round}")
    for r in state.reviews:
        add(_get(r, "signature"), f"effectiveness review, cycle {r.cycle}")
    return found


def _entry(event: Event, person: Any) -> dict[str, Any]:
    try:
        said = sentence(event)
    except (KeyError, AssertionError, AttributeError):
        # A kind of entry this release has no sentence for: its kind and fields, as written.
        said = f"{_words(event.kind).capitalize()} by {event.actor}: " + "; ".join(
            f"{_words(key)}: {value}" for key, value in event.facts().items()
        )
    signature = manifestation(_get(event.details, "signature"))
    if signature and signature not in said:
        said = f"{said}. {signature}"
    return {
        "seq": str(event.seq),
        "at": moment(event.at),
        "by": person(event.actor),
        "what": _wrap(said),
        "hash": _text(_get(event, "hash")),
    }
