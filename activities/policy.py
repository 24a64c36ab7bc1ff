"""Hands each new record the policy the worker was started with, so the record keeps it for life."""

from temporalio import activity

from models.enums import Severity
from models.policy import PinnedPolicy, Policy


class PolicyActivities:
    def __init__(self, policy: Policy) -> None:
        self._policy = policy

    @activity.defn(name="pin_policy")
    def pin_policy(self, severity: Severity) -> PinnedPolicy:
        """Read-only and deterministic for one worker configuration, hence safe to retry."""
        return self._policy.for_severity(severity)
