"""Policies for tests: seconds-scale ones for a real server, where time is not skipped, and the bundled default
under either process rules.

Tests of what the earlier rules do (no triage, no quality role: what records raised before the current rules
keep) run under ``EARLIER``; tests of the current process (``tests/process``) under ``CURRENT``."""

import json
from importlib import resources

from models.enums import Severity
from models.policy import EARLIER_RULES, Policy, ProcessRules, load_policy

CURRENT = load_policy(None)


def earlier(policy: Policy) -> Policy:
    """``policy`` raising records under the earlier rules."""
    return policy.model_copy(update={"process": ProcessRules(rules=EARLIER_RULES)})


EARLIER = earlier(CURRENT)
# The bundled default policy's TOML under the earlier rules, for a worker started from a file.
EARLIER_TOML = (
    resources.files("models")
    .joinpath("default_policy.toml")
    .read_text(encoding="utf-8")
    .replace('rules = "2026-12"', f'rules = "{EARLIER_RULES}"')
)

_HOUR = "1h"


def uniform_policy(
    name: str,
    *,
    remind_before: list[str],
    escalate_after: list[str],
    containment: str = _HOUR,
    root_cause: str = _HOUR,
    effectiveness_after: str = _HOUR,
    rules: str = EARLIER_RULES,
) -> str:
    """Policy TOML giving every severity the same windows; what a test does not name lasts an hour. Under the
    earlier process rules unless ``rules`` names the current ones (``models.policy.CURRENT_RULES``)."""
    windows = {
        "containment": containment,
        "root_cause": root_cause,
        "action_plan": _HOUR,
        "verification": _HOUR,
        "effectiveness_after": effectiveness_after,
        "effectiveness_review": _HOUR,
        "remind_before": remind_before,
        "escalate_after": escalate_after,
    }
    section = "".join(f"{key} = {json.dumps(value)}\n" for key, value in windows.items())
    return (
        f"[policy]\nname = {json.dumps(name)}\n"
        + "".join(f"\n[severity.{severity.value}]\n{section}" for severity in Severity)
        + f"\n[process]\nrules = {json.dumps(rules)}\n"
    )
