"""Delivers one outbox row: retried with backoff, then given up on and reported, never blocking a record.

Each e-mail or webhook row gets its own workflow (id ``deliver-<row id>``), so a slow or dead endpoint delays
only its own messages. Permanent refusals (webhook 4xx but 408/429, SMTP 5xx) are not retried.
"""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities import errors
    from activities.notifications import DeliveryActivities
    from models.delivery import (
        DELIVERY_WORKFLOW,
        DeliverMessageInput,
        DeliveryInput,
        DeliveryResult,
        MarkFailedInput,
    )
    from models.enums import OutboxStatus

# SMTP and HTTP calls time out well within this (30 s and 10 s).
_SEND_TIMEOUT = timedelta(minutes=1)
# Marking a row failed is a database write: it must happen eventually, whatever the outage.
_DB_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30))


@workflow.defn(name=DELIVERY_WORKFLOW)
class DeliveryWorkflow:
    @workflow.run
    async def run(self, inp: DeliveryInput) -> DeliveryResult:
        retry = RetryPolicy(
            initial_interval=timedelta(seconds=5),
            backoff_coefficient=2.0,
            maximum_interval=timedelta(minutes=10),
            maximum_attempts=inp.max_attempts,
            non_retryable_error_types=[errors.DELIVERY_REFUSED, errors.NO_SUCH_MESSAGE],
        )
        try:
            status = await workflow.execute_activity_method(
                DeliveryActivities.deliver_message,
                DeliverMessageInput(row_id=inp.row_id),
                start_to_close_timeout=_SEND_TIMEOUT,
                retry_policy=retry,
            )
        except ActivityError as failure:
            error = _reason(failure)
            workflow.logger.warning("delivery of outbox row %s failed: %s", inp.row_id, error)
            await workflow.execute_activity_method(
                DeliveryActivities.mark_failed,
                MarkFailedInput(row_id=inp.row_id, error=error),
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=_DB_RETRY,
            )
            return DeliveryResult(row_id=inp.row_id, status=OutboxStatus.FAILED.value, error=error)
        return DeliveryResult(row_id=inp.row_id, status=status)


def _reason(failure: ActivityError) -> str:
    """The channel's own words when the activity raised them; otherwise what Temporal saw (a timeout, say)."""
    cause = failure.cause
    if isinstance(cause, ApplicationError):
        return cause.message
    if cause is not None:
        return f"{type(cause).__name__}: {cause}"
    return str(failure)
