"""The daily overdue digest: one short workflow per run, started by the Temporal Schedule or ``capa digest --now``.

The schedule (``client.schedules``) owns the timing: the configured local time in the configured zone,
daylight-saving changes included. The workflow only fixes the moment the digest describes and lets the
activity queue and dispatch it.
"""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey

with workflow.unsafe.imports_passed_through():
    from activities import errors
    from activities.digest import DigestActivities
    from models.digest import DigestInput, DigestRequest, DigestResult

# Set by the server on every workflow a schedule starts: the time the action was due, not when it ran.
SCHEDULED_START = SearchAttributeKey.for_datetime("TemporalScheduledStartTime")

# A database or Temporal outage delays the digest; after six hours of failing it is news for the logs and the
# UI, and the next day's run is not held up behind it.
_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(minutes=1),
    non_retryable_error_types=[errors.INVALID_INPUT],
)


# Each run also publishes the audit trail's chain head of the day (``DigestActivities.publish_chain_head``), after
# the digest; runs started before it publish none.
_DAILY_CHAIN_HEAD = "daily-chain-head"


@workflow.defn
class DigestWorkflow:
    @workflow.run
    async def run(self, request: DigestRequest) -> DigestResult:
        # A scheduled run that waited for a worker, or caught up after an outage, describes its scheduled
        # moment and belongs to that day, not to whenever it got to run.
        at = request.at or workflow.info().typed_search_attributes.get(SCHEDULED_START) or workflow.now()
        result = await workflow.execute_activity_method(
            DigestActivities.send_overdue_digest,
            DigestInput(at=at),
            start_to_close_timeout=timedelta(minutes=2),
            schedule_to_close_timeout=timedelta(hours=6),
            retry_policy=_RETRY,
        )
        if workflow.patched(_DAILY_CHAIN_HEAD):
            await workflow.execute_activity_method(
                DigestActivities.publish_chain_head,
                DigestInput(at=at),
                start_to_close_timeout=timedelta(minutes=2),
                schedule_to_close_timeout=timedelta(hours=6),
                retry_policy=_RETRY,
            )
        return result
