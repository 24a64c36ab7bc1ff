"""Activities of a record's alarms: start and stop its alarm workflows, and ring the record when one falls due.

All are idempotent. An alarm workflow has a fixed id per record and number and may run once, so starting it
again does nothing; it starts delayed until its first alarm. A ring the record has already applied is refused by
the record's ``alarm`` validator and counted as rung. The step that ends or changes a clock terminates its alarm
workflow; should that stop not get through (or for a record that predates it), the record refuses the alarm's next
ring as stale and it ends. Termination, not cancellation: a cancellation would hand the alarm workflow an outside
event that can share a task with its timer, the very ordering hazard the record is built to avoid."""

import asyncio
import contextlib
import time
from collections.abc import Callable
from datetime import datetime, timedelta

import structlog
from sqlalchemy import Engine
from temporalio import activity
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import WorkflowExecutionStatus
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from activities.records import escalation_recipients
from models.payloads import (
    ALARM_RUNG,
    ALARM_STALE,
    AlarmInput,
    AlarmKind,
    AlarmSchedule,
    ArmAlarmsInput,
    PlannedAlarm,
    RingResult,
    StepResult,
)

log = structlog.get_logger(__name__)

# How long a ring waits for the record to answer its update: less than the ring activity's own 10 s timeout.
_UPDATE_TIMEOUT = timedelta(seconds=8)


def alarm_workflow_id(record_id: str, alarm: int) -> str:
    return f"{record_id}-alarm-{alarm}"


def due_now(alarms: list[PlannedAlarm], now: object) -> list[PlannedAlarm]:
    """The alarms due at ``now``, earliest first; at least the first, which its workflow slept for."""
    due = [alarm for alarm in alarms if alarm.at <= now]  # type: ignore[operator]
    return due or alarms[:1]


def ring_for(schedule: AlarmSchedule, due: list[PlannedAlarm]) -> AlarmInput:
    """One ring for every alarm due together: after an outage, the highest escalation level stands for the
    levels below it (named in ``covers``), and a reminder already overtaken by an escalation is not sent."""
    escalations = [alarm for alarm in due if alarm.kind is AlarmKind.ESCALATION]
    chosen = max(escalations, key=lambda alarm: alarm.level) if escalations else due[-1]
    return AlarmInput(
        alarm=schedule.alarm,
        kind=chosen.kind,
        index=chosen.index,
        level=chosen.level,
        scheduled_at=chosen.at,
        covers=[alarm.level for alarm in escalations],
    )


async def _running(client: Client, record_id: str) -> bool:
    """Whether the record's workflow still runs. Read from the raw description: the SDK's own decodes search
    attributes, which a test server returns in a form it cannot parse."""
    request = DescribeWorkflowExecutionRequest(
        namespace=client.namespace, execution=WorkflowExecution(workflow_id=record_id)
    )
    try:
        described = await client.workflow_service.describe_workflow_execution(request)
    except RPCError as exc:
        if exc.status is RPCStatusCode.NOT_FOUND:
            return False
        raise
    return described.workflow_execution_info.status == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING


def server_clock() -> Callable[[], datetime]:
    """The server's time as an activity sees it: the attempt's start, stamped by the server (the clock's, except
    on a time-skipping test server), plus the time the activity has run since."""
    started, began = activity.info().started_time, time.monotonic()
    return lambda: started + timedelta(seconds=time.monotonic() - began)


async def start_alarms(
    client: Client, task_queue: str, schedules: list[AlarmSchedule], now: Callable[[], datetime]
) -> None:
    """Start an alarm workflow per schedule, each delayed until its first alarm: until then it is one event in
    Temporal and costs no workflow task. The delay counts from the moment of each start, so time spent waiting for
    a worker does not make the first alarm late. Idempotent: an alarm already started (by a retry, by a continued
    run re-arming, or stopped since) is left as it is."""
    for schedule in schedules:
        delay = schedule.alarms[0].at - now() if schedule.alarms else timedelta(0)
        with contextlib.suppress(WorkflowAlreadyStartedError):
            await client.start_workflow(
                "CapaAlarm",
                schedule.model_copy(update={"at_first_alarm": True}),
                id=alarm_workflow_id(schedule.record_id, schedule.alarm),
                task_queue=task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                start_delay=delay if delay > timedelta(0) else None,
            )


async def stop_alarms(client: Client, record_id: str, alarms: list[int]) -> None:
    """End the alarm workflows of clocks a step ended, so they never wake only to be refused as stale.

    Termination, not cancellation: it runs no workflow code, so nothing can share a task with the alarm's timer
    (see the module docstring). An alarm that has already ended is left alone. Should a stop not get through,
    the record still refuses the alarm's next ring as stale."""
    for alarm in alarms:
        handle = client.get_workflow_handle(alarm_workflow_id(record_id, alarm))
        try:
            await handle.terminate(reason=f"the clock of alarm {alarm} of {record_id} has ended")
        except RPCError as exc:
            if exc.status is not RPCStatusCode.NOT_FOUND:
                raise


def log_armed(record_id: str, started: list[AlarmSchedule], stopped: list[int]) -> None:
    """The log line of a record's step that started or stopped alarm workflows (from inside its activity)."""
    log.info(
        "alarms armed",
        record_id=record_id,
        workflow_id=activity.info().workflow_id,
        actor="system",
        started=[s.alarm for s in started],
        stopped=stopped,
    )


class AlarmActivities:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @activity.defn(name="arm_alarms")
    async def arm_alarms(self, inp: ArmAlarmsInput) -> None:
        """Start an alarm workflow for each new schedule (records that emit one activity per step start them
        through ``settle_step``)."""
        await start_alarms(activity.client(), activity.info().task_queue, inp.start, server_clock())
        log_armed(inp.record_id, inp.start, [])

    @activity.defn(name="ring")
    async def ring(self, schedule: AlarmSchedule) -> RingResult:
        """Apply the alarms due now to the record; say how many, or that the clock is gone."""
        # The server's time: the clock's, except on a time-skipping test server.
        due = due_now(schedule.alarms, activity.info().current_attempt_scheduled_time)
        ring = ring_for(schedule, due)
        if ring.kind is AlarmKind.REMINDER and schedule.holder is not None:
            ring.recipients = [schedule.holder]
        elif ring.kind is AlarmKind.ESCALATION and schedule.holder is not None:
            # Levels that fell due together reach everyone each of them would have reached (the record leaves out
            # those of levels that had already rung).
            for level in ring.covers or [ring.level]:
                found = await asyncio.to_thread(escalation_recipients, self._engine, schedule.holder, level)
                ring.by_level[level] = found
                ring.recipients += [name for name in found if name not in ring.recipients]
        handle = activity.client().get_workflow_handle(schedule.record_id)
        fields = {"record_id": schedule.record_id, "workflow_id": schedule.record_id, "actor": "system"}
        try:
            # Within the ring's own 10 s: a record slow to answer is rung again, not waited for.
            await handle.execute_update("alarm", ring, result_type=StepResult, rpc_timeout=_UPDATE_TIMEOUT)
        except WorkflowUpdateFailedError as exc:
            cause = exc.cause
            kind = cause.type if isinstance(cause, ApplicationError) else None
            if kind == ALARM_RUNG:
                return RingResult(rung=len(due))
            if kind == ALARM_STALE:
                log.info("alarm no longer applies", alarm=schedule.alarm, **fields)
                return RingResult(rung=len(due), stale=True)
            raise  # the record is moving to a new run, say: retried
        except RPCError as exc:
            # The record's workflow may have ended (closed, cancelled), and with it every clock. "Update not found"
            # also answers for an update lost while the server restarted, so ask; anything else is retried.
            ended = exc.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION)
            if not ended or await _running(activity.client(), schedule.record_id):
                raise
            log.info("alarm for a record that has ended", alarm=schedule.alarm, **fields)
            return RingResult(rung=len(due), stale=True)
        log.info("alarm rang", alarm=schedule.alarm, kind=ring.kind.value, level=ring.level, **fields)
        return RingResult(rung=len(due))
