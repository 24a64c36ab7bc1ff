"""The CAPA policy: per severity, how long each stage may take, when to remind and when to escalate.

A policy is read from TOML once, by the worker, and each record keeps the severity policy it was raised under
(a copy travels in the workflow's state), so editing the file never changes the rules of a record in flight.
"""

import hashlib
import tomllib
from datetime import date, timedelta
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    model_validator,
)

from models.durations import format_window, parse_window
from models.enums import Severity, Source, Stage
from models.sentinels import SentinelRule, check_rules


def _to_timedelta(value: Any) -> Any:
    # working-day calendars: ``5wd`` / ``16wh`` keep their working kind (plain durations parse as before).
    return parse_window(value) if isinstance(value, str) else value


Duration = Annotated[
    timedelta,
    BeforeValidator(_to_timedelta),
    PlainSerializer(format_window, return_type=str),
]


class SeverityPolicy(BaseModel):
    """Time allowed per stage, the effectiveness window, reminder lead times and the escalation ladder."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    containment: Duration
    root_cause: Duration
    action_plan: Duration
    verification: Duration
    effectiveness_after: Duration
    effectiveness_review: Duration
    remind_before: list[Duration] = Field(default_factory=list)
    escalate_after: list[Duration] = Field(min_length=1)
    # The process rules of this class (records pinned under the earlier rules ignore them; see ``ProcessRules``).
    # The latest an action may fall due, counted from the plan; a later one needs quality's approval with a reason.
    latest_action_due: Duration | None = None
    # Whether quality approves every plan (and amendment) of this class before it is verified.
    plan_approval: bool = False
    # How many extensions of one step a manager of the requester's line may approve; later ones go to quality.
    extensions_by_line: int = Field(default=1, ge=0)
    # No step is extended more often than this.
    max_extensions: int = Field(default=3, ge=0)
    # Whether the effectiveness reviewer must be someone other than the verifier.
    independent_review: bool = False
    # Whether verification must record that the actions cause no adverse effect, with its evidence.
    adverse_effect_check: bool = True
    # Whether a concession (use-as-is, rework) needs the customer's approval reference.
    customer_concession: bool = False
    # The fewest whys a five-whys analysis may give.
    min_whys: int = Field(default=1, ge=1, le=20)
    # Whether the root cause must name the escape point and why it did not detect the nonconformity.
    escape_required: bool = False
    # recurrence: whether a matching nonconformity raised during the effectiveness window ends the window at once
    # (the review falls due from then) instead of only being recorded on the record.
    review_forward_on_recurrence: bool = False

    @model_validator(mode="after")
    def _check_offsets(self) -> "SeverityPolicy":
        for name in (
            "containment",
            "root_cause",
            "action_plan",
            "verification",
            "effectiveness_after",
            "effectiveness_review",
        ):
            if getattr(self, name) <= timedelta(0):
                raise ValueError(f"{name} must be longer than 0s")
        if any(lead <= timedelta(0) for lead in self.remind_before):
            raise ValueError("remind_before entries must be longer than 0s")
        if any(offset < timedelta(0) for offset in self.escalate_after):
            raise ValueError("escalate_after entries must be 0s or later")
        if self.escalate_after != sorted(set(self.escalate_after)):
            raise ValueError("escalate_after must be strictly increasing: level 1 first, then level 2, ...")
        return self

    def stage_window(self, stage: Stage) -> timedelta:
        """How long the holder has for a stage's own step (the action stage's step is submitting the plan)."""
        windows = {
            Stage.CONTAINMENT: self.containment,
            Stage.ROOT_CAUSE: self.root_cause,
            Stage.ACTION: self.action_plan,
            Stage.VERIFICATION: self.verification,
            Stage.EFFECTIVENESS: self.effectiveness_review,
        }
        return windows[stage]


# The process rules a policy can choose: the current ones, or the earlier ones (no triage, no quality role) for
# a site still moving over; each record keeps the rules it was raised under.
CURRENT_RULES = "2026-12"
EARLIER_RULES = "earlier"

_SEVERITY_WORDS = {
    1: "negligible: no effect on fit, form or function",
    2: "minor: cosmetic, unlikely to be noticed by the customer",
    3: "moderate: degraded performance or a dissatisfied customer",
    4: "serious: loss of a primary function or a requirement not met",
    5: "critical: safety, regulatory or field-action impact",
}
_OCCURRENCE_WORDS = {
    1: "isolated: first known occurrence",
    2: "rare: once a year or less",
    3: "occasional: a few times a year",
    4: "frequent: about monthly",
    5: "persistent: weekly or more",
}
# Rows: severity 1 to 5; columns: occurrence 1 to 5.
_MATRIX = [
    ["minor", "minor", "minor", "minor", "major"],
    ["minor", "minor", "minor", "major", "major"],
    ["minor", "minor", "major", "major", "critical"],
    ["minor", "major", "major", "critical", "critical"],
    ["major", "major", "critical", "critical", "critical"],
]
_DEFECT_CODES = {
    "DIM": "dimension out of tolerance",
    "SURF": "surface defect: burr, scratch, dent",
    "MAT": "wrong or defective material",
    "ASSY": "assembly error",
    "LABEL": "labelling or packaging error",
    "FUNC": "functional failure",
    "CONTAM": "contamination",
    "DOC": "documentation or record error",
    "PROC": "procedure not followed",
    "OTHER": "other",
}


class ProcessRules(BaseModel):
    """The rules of the CAPA process beyond the deadlines: the risk matrix triage uses, its wording, the defect
    codes intake offers and the sources whose findings concern no product. Pinned with each record."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rules: str = CURRENT_RULES
    severity_levels: dict[int, str] = Field(default_factory=lambda: dict(_SEVERITY_WORDS))
    occurrence_levels: dict[int, str] = Field(default_factory=lambda: dict(_OCCURRENCE_WORDS))
    matrix: list[list[Severity]] = Field(default_factory=lambda: [[Severity(c) for c in row] for row in _MATRIX])
    defect_codes: dict[str, str] = Field(default_factory=lambda: dict(_DEFECT_CODES))
    no_product_sources: list[Source] = Field(
        default_factory=lambda: [Source.INTERNAL_AUDIT, Source.EXTERNAL_AUDIT, Source.OTHER]
    )

    @model_validator(mode="after")
    def _check(self) -> "ProcessRules":
        if self.rules not in (CURRENT_RULES, EARLIER_RULES):
            raise ValueError(f"rules must be {CURRENT_RULES!r} or {EARLIER_RULES!r}")
        for name, words in (("severity_levels", self.severity_levels), ("occurrence_levels", self.occurrence_levels)):
            if sorted(words) != [1, 2, 3, 4, 5]:
                raise ValueError(f"{name} must word each level 1 to 5")
        if len(self.matrix) != 5 or any(len(row) != 5 for row in self.matrix):
            raise ValueError("matrix must have 5 rows (severity 1-5) of 5 classes (occurrence 1-5)")
        return self

    def risk_class(self, severity: int, occurrence: int) -> Severity:
        return self.matrix[severity - 1][occurrence - 1]


class Procedure(BaseModel):
    """The CAPA procedure (a controlled document) records are raised under: its id, revision and effective date."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    document: str = Field(min_length=1, max_length=100)
    revision: str = Field(min_length=1, max_length=20)
    effective: date | None = None

    def label(self) -> str:
        """``SOP-QA-014 rev C``."""
        return f"{self.document} rev {self.revision}"


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = "default"
    digest: str = ""
    severity: dict[Severity, SeverityPolicy]
    process: ProcessRules = Field(default_factory=ProcessRules)
    # Procedure-version pinning: the CAPA procedure revision in force (TOML ``[procedure]``); None: not stated.
    procedure: Procedure | None = None
    # recurrence sentinels: the policy's ``[[sentinel]]`` rules (models/sentinels.py)
    sentinels: list[SentinelRule] = Field(default_factory=list)

    @model_validator(mode="after")
    def _every_severity(self) -> "Policy":
        missing = [s.value for s in Severity if s not in self.severity]
        if missing:
            raise ValueError(f"missing section(s): {', '.join(f'[severity.{m}]' for m in missing)}")
        check_rules(self.sentinels)  # recurrence sentinels
        return self

    def for_severity(self, severity: Severity) -> "PinnedPolicy":
        """What a record raised now as ``severity`` keeps: that class's rules and, under the current process
        rules, every class's (triage may reclassify it) and the process rules."""
        if self.process.rules == EARLIER_RULES:
            return PinnedPolicy(
                name=self.name, digest=self.digest, rules=self.severity[severity], procedure=self.procedure
            )
        return PinnedPolicy(
            name=self.name,
            digest=self.digest,
            rules=self.severity[severity],
            classes=dict(self.severity),
            process=self.process,
            procedure=self.procedure,
        )


class PinnedPolicy(BaseModel):
    """The part of a policy one record lives by, with the name and digest of the file it came from."""

    model_config = ConfigDict(frozen=True)

    name: str
    digest: str
    rules: SeverityPolicy
    # Set for records raised under the current process rules; None: the earlier rules (no triage, no quality
    # role, no plan approval), under which records raised before them keep running.
    process: ProcessRules | None = None
    # Every class's rules, so a triage that reclassifies the record re-arms its clocks by the new class's.
    classes: dict[Severity, SeverityPolicy] = Field(default_factory=dict)
    # Procedure-version pinning: the CAPA procedure revision the record was raised (or last moved) under;
    # None for records raised before policies stated one ("not recorded").
    procedure: Procedure | None = None

    def raised_under(self) -> str:
        """``raised under SOP-QA-014 rev C, policy 2026-11``."""
        procedure = self.procedure.label() if self.procedure is not None else "procedure not recorded"
        return f"raised under {procedure}, policy {self.name}"

    def reclassified(self, severity: Severity) -> "PinnedPolicy":
        return self.model_copy(update={"rules": self.classes[severity]})


class PolicyError(ValueError):
    """An unusable policy file; the message names the file and the key at fault."""


def _describe(error: ValidationError) -> str:
    first = error.errors()[0]
    key = ".".join(str(part) for part in first["loc"]) or "(top level)"
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        message = "unknown key"
    return f"{key}: {message}"


def parse_policy(text: str, *, origin: str = "<policy>") -> Policy:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{origin}: not valid TOML: {exc}") from exc
    meta = raw.pop("policy", {})
    if "sentinel" in raw:  # recurrence sentinels: ``[[sentinel]]`` tables
        raw["sentinels"] = raw.pop("sentinel")
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    try:
        return Policy.model_validate({**raw, "name": meta.get("name", "default"), "digest": digest})
    except ValidationError as exc:
        raise PolicyError(f"{origin}: {_describe(exc)}") from exc


def load_policy(path: str | Path | None) -> Policy:
    """Load the policy at ``path``, or the bundled default when no path is given."""
    if path is None or str(path) == "":
        text = resources.files("models").joinpath("default_policy.toml").read_text(encoding="utf-8")
        return parse_policy(text, origin="bundled default policy")
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(f"{file}: cannot read policy file: {exc.strerror}") from exc
    return parse_policy(text, origin=str(file))
