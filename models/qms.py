"""QMS updates that gate closure: the typed details of document change, training, FMEA/control plan, risk file,
change control and read-across actions, and the pure checks the plan, completion and verification rules apply.

Corrective and preventive actions carry no details and are never gated here."""

from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from models.enums import ActionKind

# The action kinds whose QMS update gates verification.
QMS_KINDS = frozenset(
    {
        ActionKind.DOCUMENT_CHANGE,
        ActionKind.TRAINING,
        ActionKind.FMEA_UPDATE,
        ActionKind.RISK_FILE,
        ActionKind.CHANGE_CONTROL,
        ActionKind.READ_ACROSS,
    }
)


class ReadAcross(BaseModel):
    """One other product or line the fix is read across to, with its outcome once known."""

    model_config = ConfigDict(extra="forbid")

    target: str = Field(min_length=1, max_length=200, description="The other product or line")
    outcome: str | None = Field(default=None, max_length=2000, description="What was found or done there")


class QmsDetails(BaseModel):
    """The typed details of a QMS update action; which fields apply depends on the action's kind."""

    model_config = ConfigDict(extra="forbid")

    # document change; FMEA / control plan (document + revision_to)
    document_id: str | None = Field(default=None, max_length=100, description="The document, e.g. WI-042")
    revision_from: str | None = Field(default=None, max_length=20, description="Its revision before the change")
    revision_to: str | None = Field(default=None, max_length=20, description="Its new revision")
    effective_date: date | None = Field(default=None, description="When the new revision takes effect")
    # training
    course: str | None = Field(default=None, max_length=200, description="The course or instruction trained")
    audience: list[str] | None = Field(default=None, max_length=500, description="Who is to be trained")
    threshold_percent: int | None = Field(default=None, ge=1, le=100, description="Share of the audience trained")
    threshold_count: int | None = Field(default=None, ge=1, le=10000, description="Number of people trained")
    completions: list[str] = Field(default_factory=list, max_length=10000, description="Who completed the training")
    # risk file; change control
    reference: str | None = Field(default=None, max_length=200, description="The risk file or change reference")
    # read-across
    read_across: list[ReadAcross] = Field(default_factory=list, max_length=50, description="Products or lines")


# What completing an action records: what only becomes known once the work is done. The plan's own facts (the
# document, the course, its audience and threshold, the read-across targets) stay as they were planned and approved,
# and who was trained comes from recording training alone.
COMPLETION_FIELDS = frozenset({"revision_from", "revision_to", "effective_date", "reference", "read_across"})
_PLANNED_ONLY = frozenset({"course", "audience", "threshold_percent", "threshold_count", "completions"})


def completion_problems(old: QmsDetails | None, new: QmsDetails | None) -> list[tuple[str, str]]:
    """What a completion's details may not change: (field, problem) pairs."""
    if new is None:
        return []
    problems: list[tuple[str, str]] = []
    planned = old or QmsDetails()
    for name, value in new.model_dump(exclude_defaults=True).items():
        if name in COMPLETION_FIELDS:
            continue
        if name == "completions":
            problems.append((name, "who was trained is recorded with record-training, not at completion"))
        elif (name in _PLANNED_ONLY or getattr(planned, name) not in (None, [])) and getattr(planned, name) != value:
            problems.append((name, "stated by the approved plan; change it by amending the plan"))
    targets = {item.target for item in planned.read_across}
    for item in new.read_across:
        if item.target not in targets:
            problems.append(("read_across", f"{item.target} is not one of the plan's read-across targets"))
    return problems


def merge(old: QmsDetails | None, new: QmsDetails | None) -> QmsDetails | None:
    """The details with ``new``'s given fields over ``old``'s; completions are added, each person once, and
    read-across outcomes are recorded per target, keeping every target."""
    if new is None:
        return old
    if old is None:
        return new
    data = old.model_dump()
    for name, value in new.model_dump().items():
        if name == "completions":
            data["completions"] = old.completions + [p for p in new.completions if p not in old.completions]
        elif name == "read_across":
            given = {item.target: item for item in new.read_across}
            kept = [given.pop(item.target, item).model_dump() for item in old.read_across]
            data["read_across"] = kept + [item.model_dump() for item in given.values()]
        elif value not in (None, []):  # a field left out keeps what was recorded
            data[name] = value
    return QmsDetails.model_validate(data)


def training_target(details: QmsDetails) -> int | None:
    """How many people must be trained to meet the threshold."""
    if details.threshold_count is not None:
        return details.threshold_count
    if details.threshold_percent is not None and details.audience:
        return -(-len(details.audience) * details.threshold_percent // 100)
    return None


def training_progress(details: QmsDetails) -> str:
    """E.g. ``7 of 10 trained (70%), threshold 90%``."""
    done = len(details.completions)
    if details.audience:
        total = len(details.audience)
        text = f"{done} of {total} trained ({done * 100 // total}%)"
    else:
        text = f"{done} trained"
    if details.threshold_percent is not None:
        return f"{text}, threshold {details.threshold_percent}%"
    if details.threshold_count is not None:
        return f"{text}, threshold {details.threshold_count}"
    return text


def plan_problems(kind: ActionKind, details: QmsDetails | None) -> list[tuple[str, str]]:
    """What a planned action of ``kind`` lacks: (field, problem) pairs."""
    if kind not in QMS_KINDS:
        return [("details", "only QMS update actions carry details")] if details is not None else []
    if details is None:
        return [("details", f"a {kind.value} action states its details")]
    problems: list[tuple[str, str]] = []
    if kind in (ActionKind.DOCUMENT_CHANGE, ActionKind.FMEA_UPDATE) and not details.document_id:
        problems.append(("document_id", f"name the document the {kind.value} changes"))
    if kind is ActionKind.TRAINING:
        if not details.course:
            problems.append(("course", "name the course"))
        if details.threshold_percent is None and details.threshold_count is None:
            problems.append(("threshold_percent", "give the completion threshold (a percentage or a count)"))
        if details.threshold_percent is not None and not details.audience:
            problems.append(("audience", "name the audience a percentage threshold counts"))
        if details.audience and details.threshold_count is not None and details.threshold_count > len(details.audience):
            problems.append(
                (
                    "threshold_count",
                    f"{details.threshold_count} is more than the {len(details.audience)} in the audience",
                )
            )
        if details.completions:
            problems.append(("completions", "who was trained is recorded once the training is done"))
    if kind is ActionKind.READ_ACROSS and not details.read_across:
        problems.append(("read_across", "name the other products or lines"))
    return problems


def closure_problems(kind: ActionKind, details: QmsDetails | None) -> list[tuple[str, str]]:
    """What a QMS update action still lacks before the record may be verified: (field, problem) pairs."""
    if kind not in QMS_KINDS:
        return []
    if details is None:
        return [("details", f"record the {kind.value}'s details")]
    problems: list[tuple[str, str]] = []
    if kind in (ActionKind.DOCUMENT_CHANGE, ActionKind.FMEA_UPDATE):
        if not details.document_id:
            problems.append(("document_id", "name the document"))
        if not details.revision_to:
            problems.append(("revision_to", "record the new revision"))
    if kind is ActionKind.DOCUMENT_CHANGE and details.effective_date is None:
        problems.append(("effective_date", "record the effective date"))
    if kind in (ActionKind.RISK_FILE, ActionKind.CHANGE_CONTROL) and not details.reference:
        problems.append(("reference", f"record the {kind.value.replace('_', ' ')} reference"))
    if kind is ActionKind.TRAINING:
        target = training_target(details)
        if target is None or len(details.completions) < target:
            problems.append(("completions", f"training below its threshold: {training_progress(details)}"))
    if kind is ActionKind.READ_ACROSS:
        if not details.read_across:
            problems.append(("read_across", "name the other products or lines"))
        for item in details.read_across:
            if not item.outcome:
                problems.append(("read_across", f"record the outcome for {item.target}"))
    return problems


def documents_problems(
    kinds: list[ActionKind], affected_documents: list[str] | None, justification: str | None
) -> list[tuple[str, str]]:
    """A plan states its affected QMS documents, or none with a justification; a plan of corrective and
    preventive actions only that states nothing is left as it was."""
    if affected_documents is None:
        if any(k in QMS_KINDS for k in kinds):
            return [("affected_documents", "state the affected QMS documents, or none with a justification")]
        return []
    if not affected_documents and not (justification and justification.strip()):
        return [("no_documents_justification", "justify why no QMS document is affected")]
    return []


def summary(kind: ActionKind, details: QmsDetails | None) -> list[str]:
    """A QMS update action's details as lines people read (the record page, ``capa show``)."""
    if details is None:
        return []
    lines: list[str] = []
    if details.document_id:
        revisions = " → ".join(r for r in (details.revision_from, details.revision_to) if r)
        lines.append(f"document {details.document_id}" + (f" rev {revisions}" if revisions else ""))
    if details.effective_date:
        lines.append(f"effective {details.effective_date.isoformat()}")
    if details.course:
        lines.append(f"course {details.course}")
    if details.audience:
        lines.append(f"audience {', '.join(details.audience)}")
    if kind is ActionKind.TRAINING:
        lines.append(training_progress(details))
    if details.reference:
        lines.append(f"{kind.value.replace('_', ' ')} reference {details.reference}")
    for item in details.read_across:
        lines.append(f"read across to {item.target}" + (f": {item.outcome}" if item.outcome else " (outcome pending)"))
    return lines
