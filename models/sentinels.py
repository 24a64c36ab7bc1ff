"""Recurrence sentinels: the policy's ``[[sentinel]]`` rules over what is known of a nonconformity at its raise
(product, defect code, supplier, customer, site) and after root cause (cause category).

Pure: parsing and validating a rule, the key a record gives a rule (None: the rule does not watch it), the
workflow id of the sentinel watching one key, and which occurrences are still in a sliding window.

    [[sentinel]]
    name = "same-product-defect"
    match = ["product", "defect_code"]
    count = 3
    window = "90d"
    owner = "quinn"            # the quality person who owns the CAPA the rule opens
    severity = "critical"      # optional: only records of this severity count
"""

import hashlib
from datetime import datetime, timedelta
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from models.durations import parse_duration
from models.enums import Severity

# The facts of a record a rule may match on.
MATCH_KEYS = ("product", "defect_code", "supplier", "customer", "site", "cause_category")

RuleName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")]


class SentinelRule(BaseModel):
    """One recurrence rule: ``count`` records sharing the ``match`` facts within ``window`` open a linked CAPA."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: RuleName
    match: list[str] = Field(min_length=1, max_length=len(MATCH_KEYS))
    count: int = Field(ge=1, le=100)
    window: timedelta
    owner: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._@-]{1,64}$")]
    severity: Severity | None = None
    # Armed by a record of the rule's key (and ``severity``) being closed: only raises within ``window`` after the
    # close count ("any recurrence of a closed critical record's product and defect code within a year").
    after_closed: bool = False
    # The severity of the CAPA the rule opens.
    raise_severity: Severity = Severity.MAJOR

    @field_validator("match")
    @classmethod
    def _known_keys(cls, value: list[str]) -> list[str]:
        unknown = [key for key in value if key not in MATCH_KEYS]
        if unknown:
            raise ValueError(f"unknown key(s) {', '.join(unknown)}; one of {', '.join(MATCH_KEYS)}")
        if len(set(value)) != len(value):
            raise ValueError("a key is named twice")
        return value

    @field_validator("window", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.startswith("P"):  # "90d"; ISO 8601 ("P90D") as pydantic reads it
            return parse_duration(value)
        return value

    @field_validator("window")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("must be longer than zero")
        return value


def check_rules(rules: list[SentinelRule]) -> list[SentinelRule]:
    """Refuse two rules of one name (a sentinel's workflow id carries it)."""
    names = [rule.name for rule in rules]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise ValueError(f"sentinel: rule name(s) used twice: {', '.join(twice)}")
    return rules


def key_of(rule: SentinelRule, facts: dict[str, Any], *, closing: bool = False) -> list[str] | None:
    """The values of ``rule.match`` in ``facts`` (a record's), or None when one is missing or the record's
    severity is not the one the rule watches. A rule armed by a close (``after_closed``) applies its severity to
    the closed record (``closing``), and counts a raise of any severity."""
    severity_applies = closing or not rule.after_closed
    if severity_applies and rule.severity is not None and facts.get("severity") != rule.severity:
        return None
    values = []
    for key in rule.match:
        value = facts.get(key)
        if value is None or str(value).strip() == "":
            return None
        values.append(str(value).strip())
    return values


def sentinel_id(rule: str, key: list[str]) -> str:
    """The workflow id of the sentinel watching ``key`` for ``rule``."""
    return f"sentinel:{rule}:{'/'.join(key)}"


def linked_record_id(sentinel: str, firing: int, year: int) -> str:
    """The id the CAPA a sentinel's ``firing``-th firing opened had before firings were numbered in the database
    (``core.sentinels``); kept for reading those records' ids, no longer given to new ones."""
    digits = int(hashlib.sha256(f"{sentinel}#{firing}".encode()).hexdigest(), 16) % 10**8
    return f"NC-{year:04d}-9{digits:08d}"


def in_window(at: datetime, now: datetime, window: timedelta) -> bool:
    """Whether an occurrence at ``at`` still counts at ``now``."""
    return now - at < window


# --- the sentinel workflow's payloads ---


class Occurrence(BaseModel):
    """A record raised with a sentinel's key, and when."""

    record_id: str
    at: datetime


class SentinelState(BaseModel):
    """A sentinel: its rule and key, the occurrences in its window, those a firing already counted, the CAPA its
    firings opened (None: none, or it has ended) and how often it fired. Carried whole across continue-as-new."""

    rule: SentinelRule
    key: list[str]
    # The facts of the key, by match name, for the CAPA a firing opens.
    facts: dict[str, str] = Field(default_factory=dict)
    occurrences: list[Occurrence] = Field(default_factory=list)
    fired: list[str] = Field(default_factory=list)
    linked: str | None = None
    firings: int = 0
    last_fired: datetime | None = None
    # The closed record that armed an ``after_closed`` rule, and when it closed (None: not armed).
    armed: Occurrence | None = None
    # Continue as new once the run's history is this long (well before Temporal's limits).
    max_history: int = Field(default=2_000, ge=10)


class FireInput(BaseModel):
    """One firing: open the linked CAPA (``linked`` None; its record id fixed per firing key) or record the
    recurrence on the open one."""

    sentinel: str
    rule: SentinelRule
    facts: dict[str, str]
    record_ids: list[str]
    linked: str | None = None
    # Runs scheduled before firings were numbered in the database carry the record id of the firing.
    record_id: str | None = None
    # The firing's key: the sentinel's first run id and the firing's number (the linked CAPA's id is allocated
    # once per key, from the record counter).
    first_run: str | None = None
    firing: int | None = None


class FireResult(BaseModel):
    """The CAPA a firing opened or reached; ``recorded`` False: the linked CAPA has ended, so the sentinel counts
    afresh."""

    record_id: str | None = None
    recorded: bool = True


def counts(state: SentinelState, occ: Occurrence) -> bool:
    """Whether a raise counts for the sentinel's rule: always, except that a rule armed by a close counts only raises
    within its window after the close."""
    if not state.rule.after_closed:
        return True
    armed = state.armed
    return (
        armed is not None
        and occ.record_id != armed.record_id
        and armed.at <= occ.at
        and in_window(armed.at, occ.at, state.rule.window)
    )


def pending(state: SentinelState) -> list[str]:
    """The occurrences in the window no firing counted yet."""
    return [o.record_id for o in state.occurrences if o.record_id not in state.fired]
