"""Seconds-scale policies for tests that run against a real server, where time is not skipped."""

import json

from models.enums import Severity

_HOUR = "1h"


def uniform_policy(
    name: str,
    *,
    remind_before: list[str],
    escalate_after: list[str],
    containment: str = _HOUR,
    root_cause: str = _HOUR,
    effectiveness_after: str = _HOUR,
) -> str:
    """Policy TOML giving every severity the same windows; what a test does not name lasts an hour."""
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
    return f"[policy]\nname = {json.dumps(name)}\n" + "".join(
        f"\n[severity.{severity.value}]\n{section}" for severity in Severity
    )
