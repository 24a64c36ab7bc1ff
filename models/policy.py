"""The CAPA policy: per severity, how long each stage may take, when to remind and when to escalate.

A policy is read from TOML once, by the worker, and each record keeps the severity policy it was raised under
(a copy travels in the workflow's state), so editing the file never changes the rules of a record in flight.
"""

import hashlib
import tomllib
from datetime import timedelta
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

from models.durations import format_duration, parse_duration
from models.enums import Severity, Stage


def _to_timedelta(value: Any) -> Any:
    return parse_duration(value) if isinstance(value, str) else value


Duration = Annotated[
    timedelta,
    BeforeValidator(_to_timedelta),
    PlainSerializer(format_duration, return_type=str),
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


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = "default"
    digest: str = ""
    severity: dict[Severity, SeverityPolicy]

    @model_validator(mode="after")
    def _every_severity(self) -> "Policy":
        missing = [s.value for s in Severity if s not in self.severity]
        if missing:
            raise ValueError(f"missing section(s): {', '.join(f'[severity.{m}]' for m in missing)}")
        return self

    def for_severity(self, severity: Severity) -> "PinnedPolicy":
        return PinnedPolicy(name=self.name, digest=self.digest, rules=self.severity[severity])


class PinnedPolicy(BaseModel):
    """The part of a policy one record lives by, with the name and digest of the file it came from."""

    model_config = ConfigDict(frozen=True)

    name: str
    digest: str
    rules: SeverityPolicy


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
