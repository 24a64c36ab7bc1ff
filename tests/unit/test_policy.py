"""The policy file: durations as people write them, the bundled defaults, and refusal naming the bad key."""

from datetime import timedelta
from pathlib import Path

import pytest

from models.durations import format_duration, parse_duration
from models.enums import Severity, Stage
from models.policy import PolicyError, load_policy, parse_policy

VALID = """
[severity.critical]
containment = "24h"
root_cause = "7d"
action_plan = "7d"
verification = "7d"
effectiveness_after = "30d"
effectiveness_review = "7d"
remind_before = ["2h"]
escalate_after = ["0s", "1d"]
"""


def _with_all_severities(section: str) -> str:
    return "\n".join(section.replace("critical", name) for name in ("critical", "major", "minor"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("12h", timedelta(hours=12)),
        ("7d", timedelta(days=7)),
        ("1d12h", timedelta(hours=36)),
        ("2w", timedelta(days=14)),
    ],
)
def test_durations_parse_as_written(text: str, expected: timedelta) -> None:
    """Policy and CLI durations accept s, m, h, d and w, combined."""
    assert parse_duration(text) == expected
    assert parse_duration(format_duration(expected)) == expected


@pytest.mark.parametrize("text", ["", "7", "7 days", "-1d", "1.5h", "d7"])
def test_malformed_durations_are_refused_with_the_accepted_form(text: str) -> None:
    """A duration that is not of the accepted form says what the form is."""
    with pytest.raises(ValueError, match="write it like 30s"):
        parse_duration(text)


def test_bundled_default_matches_the_published_table() -> None:
    """The defaults are the severity table of the product notes (critical 24h/7d/7d/7d, then 30d and 7d)."""
    policy = load_policy(None)
    critical, major, minor = (policy.severity[s] for s in (Severity.CRITICAL, Severity.MAJOR, Severity.MINOR))
    assert (critical.containment, critical.root_cause, critical.effectiveness_after) == (
        timedelta(hours=24),
        timedelta(days=7),
        timedelta(days=30),
    )
    assert (major.containment, major.verification, major.effectiveness_after) == (
        timedelta(hours=72),
        timedelta(days=14),
        timedelta(days=60),
    )
    assert (minor.containment, minor.action_plan, minor.effectiveness_after, minor.effectiveness_review) == (
        timedelta(days=7),
        timedelta(days=30),
        timedelta(days=90),
        timedelta(days=30),
    )
    assert critical.stage_window(Stage.ACTION) == timedelta(days=7)


def test_a_record_pins_name_and_digest_of_its_policy(tmp_path: Path) -> None:
    """Two different files give two different digests, so a record shows exactly which rules it ran under."""
    first = tmp_path / "a.toml"
    first.write_text('[policy]\nname = "plant-7"\n' + _with_all_severities(VALID))
    second = tmp_path / "b.toml"
    second.write_text(_with_all_severities(VALID.replace('"24h"', '"12h"')))
    pinned = load_policy(first).for_severity(Severity.CRITICAL)
    assert pinned.name == "plant-7"
    assert pinned.digest != load_policy(second).digest
    assert pinned.rules.escalate_after == [timedelta(0), timedelta(days=1)]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('containment = "24h"', 'containment = "soon"'), "severity.critical.containment"),
        (('containment = "24h"', 'containment = "0s"'), "containment must be longer than 0s"),
        (('escalate_after = ["0s", "1d"]', 'escalate_after = ["1d", "0s"]'), "escalate_after must be strictly"),
        (('escalate_after = ["0s", "1d"]', "escalate_after = []"), "severity.critical.escalate_after"),
        (('root_cause = "7d"', 'root_cause = "7d"\nroot_causes = "7d"'), "severity.critical.root_causes: unknown key"),
        (('root_cause = "7d"\n', ""), "severity.critical.root_cause: Field required"),
    ],
)
def test_an_invalid_policy_is_refused_naming_the_key(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    """Each mistake in the file is reported with the file's path and the key at fault."""
    bad = VALID.replace(*change)
    path = tmp_path / "policy.toml"
    path.write_text(bad + "\n" + "\n".join(VALID.replace("critical", n) for n in ("major", "minor")))
    with pytest.raises(PolicyError, match=message) as caught:
        load_policy(path)
    assert str(path) in str(caught.value)


def test_a_missing_severity_or_broken_toml_is_refused() -> None:
    """A policy must cover every severity and be TOML at all."""
    with pytest.raises(PolicyError, match=r"\[severity.major\]"):
        parse_policy(VALID)
    with pytest.raises(PolicyError, match="not valid TOML"):
        parse_policy("[severity.critical\n")


def test_an_unreadable_policy_file_is_refused(tmp_path: Path) -> None:
    """A path that does not exist is named in the refusal."""
    with pytest.raises(PolicyError, match="cannot read policy file"):
        load_policy(tmp_path / "missing.toml")
