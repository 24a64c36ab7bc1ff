"""The policy's ``[[sentinel]]`` rules: parsed, validated (refusals name the field), keyed."""

from datetime import UTC, datetime, timedelta
from importlib import resources

import pytest

from models.enums import Severity, Source
from models.payloads import RaiseStep
from models.policy import PolicyError, parse_policy
from models.refusals import Rejection
from models.rules import check_raised_by_person
from models.sentinels import (
    Occurrence,
    SentinelRule,
    SentinelState,
    counts,
    in_window,
    key_of,
    linked_record_id,
    sentinel_id,
)

BASE = resources.files("models").joinpath("default_policy.toml").read_text(encoding="utf-8")
RULE = """
[[sentinel]]
name = "critical-product-defect"
match = ["product", "defect_code"]
count = 2
window = "365d"
severity = "critical"
owner = "quinn"
"""


def test_a_rule_is_parsed_with_its_window_and_severity() -> None:
    [rule] = parse_policy(BASE + RULE).sentinels
    assert rule.window == timedelta(days=365)
    assert rule.severity is Severity.CRITICAL
    assert rule.owner == "quinn"


def test_a_policy_without_rules_has_none() -> None:
    assert parse_policy(BASE).sentinels == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (('["product", "defect_code"]', '["colour"]'), "match"),
        (("count = 2", "count = 0"), "count"),
        (('"365d"', '"soon"'), "window"),
    ],
)
def test_a_bad_rule_is_refused_naming_the_field(change: tuple[str, str], field: str) -> None:
    with pytest.raises(PolicyError, match=f"sentinels.0.{field}"):
        parse_policy(BASE + RULE.replace(*change))


def test_two_rules_of_one_name_are_refused() -> None:
    with pytest.raises(PolicyError, match="used twice"):
        parse_policy(BASE + RULE + RULE)


def test_the_key_needs_every_fact_and_the_severity() -> None:
    rule = SentinelRule.model_validate(
        {
            "name": "r",
            "match": ["product", "defect_code"],
            "count": 2,
            "window": "90d",
            "owner": "q",
            "severity": "critical",
        }
    )
    facts = {"product": "H-200", "defect_code": "BURR", "severity": Severity.CRITICAL}
    assert key_of(rule, facts) == ["H-200", "BURR"]
    assert key_of(rule, {**facts, "severity": Severity.MINOR}) is None
    assert key_of(rule, {**facts, "defect_code": None}) is None
    assert sentinel_id("r", ["H-200", "BURR"]) == "sentinel:r:H-200/BURR"


def test_a_firing_has_one_fixed_record_id() -> None:
    assert linked_record_id("s", 1, 2026) == linked_record_id("s", 1, 2026) != linked_record_id("s", 2, 2026)


def test_the_window_slides() -> None:
    now = datetime(2026, 12, 1, tzinfo=UTC)
    assert in_window(now - timedelta(days=89), now, timedelta(days=90))
    assert not in_window(now - timedelta(days=90), now, timedelta(days=90))


def test_a_person_may_not_raise_as_a_rule() -> None:
    step = RaiseStep(title="t", description="d", severity=Severity.MINOR, source=Source.OTHER, owner="olivia")
    check_raised_by_person(step)
    with pytest.raises(Rejection) as refused:
        check_raised_by_person(step.model_copy(update={"raised_by_rule": "r"}))
    assert "raised_by_rule" in str(refused.value.problems)


def test_a_rule_armed_by_a_close_counts_raises_of_any_class_within_its_window_after_the_close() -> None:
    rule = SentinelRule.model_validate(
        {
            "name": "closed-critical",
            "match": ["product", "defect_code"],
            "count": 1,
            "window": "365d",
            "owner": "q",
            "severity": "critical",
            "after_closed": True,
        }
    )
    minor = {"product": "H-200", "defect_code": "BURR", "severity": Severity.MINOR}
    assert key_of(rule, minor) == ["H-200", "BURR"]  # a raise of any class
    assert key_of(rule, minor, closing=True) is None  # only a critical close arms it
    assert key_of(rule, {**minor, "severity": Severity.CRITICAL}, closing=True) == ["H-200", "BURR"]
    closed_at = datetime(2026, 1, 10, tzinfo=UTC)
    state = SentinelState(rule=rule, key=["H-200", "BURR"])
    assert not counts(state, Occurrence(record_id="NC-2026-0002", at=closed_at + timedelta(days=1)))  # not armed
    state.armed = Occurrence(record_id="NC-2026-0001", at=closed_at)
    assert counts(state, Occurrence(record_id="NC-2026-0002", at=closed_at + timedelta(days=364)))
    assert not counts(state, Occurrence(record_id="NC-2026-0003", at=closed_at + timedelta(days=366)))
    assert not counts(state, Occurrence(record_id="NC-2026-0004", at=closed_at - timedelta(days=1)))
