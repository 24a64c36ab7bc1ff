"""Recording a recurrence on a record: the system's ``recurrence`` step, sent by a recurrence sentinel that fired or
by the watch of an effectiveness window when a matching nonconformity is raised.

Nobody signs in for it: the caller (an activity, with its worker's Temporal client) names the new nonconformities,
whether the record escalates one level (and who that reaches, looked up as alarms do:
``activities.records.escalation_recipients``) and whether its effectiveness review is brought forward. The record's
rule (``rules.check_recurrence``) refuses it, leaving nothing, when the record has ended or already records one of
those nonconformities, so sending it again is harmless.
"""

import asyncio
from datetime import timedelta

import structlog
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from client.errors import CapaError, ErrorKind
from client.temporal import recovering, refusal
from models.payloads import RECORD_MOVING, SYSTEM_ACTOR, RecurrenceInput, StepResult

log = structlog.get_logger(__name__)

# How long one sending waits for the record to answer, and how often a record refusing it for a moment (continuing
# as new, or recovering from a lost worker) is asked again.
_UPDATE_TIMEOUT = timedelta(seconds=8)
_MOVING_ATTEMPTS = 50
_MOVING_PAUSE = 0.2


def recurrence_update_id(record_id: str, inp: RecurrenceInput) -> str:
    """One id per record and set of new nonconformities: Temporal applies an update id once per run."""
    return f"recurrence:{record_id}:{','.join(sorted(inp.record_ids))}"


async def record_recurrence(temporal: Client, record_id: str, inp: RecurrenceInput) -> StepResult:
    """Record ``inp`` on ``record_id``; the step's result (stage, sequence, due), or ``CapaError`` with the record's
    refusal: WRONG_STAGE when it has ended, INVALID when it already records one of the nonconformities, NOT_FOUND
    when there is no such record."""
    # By the update's name: the record's workflow module starts the activity that calls this.
    handle = temporal.get_workflow_handle(record_id)
    fields = {"record_id": record_id, "workflow_id": record_id, "actor": SYSTEM_ACTOR}
    update_id = recurrence_update_id(record_id, inp)
    for attempt in range(_MOVING_ATTEMPTS + 1):
        try:
            result: StepResult = await handle.execute_update(
                "recurrence", inp, id=update_id, result_type=StepResult, rpc_timeout=_UPDATE_TIMEOUT
            )
        except WorkflowUpdateFailedError as exc:
            cause = exc.cause
            if not isinstance(cause, ApplicationError):
                raise CapaError(ErrorKind.NOT_ALLOWED, f"{record_id}: the recurrence failed: {cause}") from None
            if cause.type != RECORD_MOVING or attempt == _MOVING_ATTEMPTS:
                refused = refusal(cause)
                log.info("recurrence refused", kind=refused.kind.value, reason=refused.message, **fields)
                raise refused from None
        except RPCError as exc:
            if recovering(exc) and attempt < _MOVING_ATTEMPTS:
                await asyncio.sleep(_MOVING_PAUSE)
                continue
            if exc.status is RPCStatusCode.NOT_FOUND:
                raise CapaError(ErrorKind.NOT_FOUND, f"{record_id} does not exist") from None
            raise
        else:
            log.info(
                "recurrence recorded",
                source=inp.source.value,
                rule=inp.rule,
                records=inp.record_ids,
                seq=result.seq,
                **fields,
            )
            return result
        await asyncio.sleep(_MOVING_PAUSE)
    raise AssertionError("unreachable")  # pragma: no cover
