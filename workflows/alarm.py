"""One clock's alarms: sleep until each reminder, escalation or window end, then ring the record.

The record keeps no timers of its own (see ``workflows.record``): for every running deadline it starts one of
these with the clock's schedule, delayed until the first alarm, and terminates it when the clock ends. Each
ring is an activity that applies the alarm to the record through its ``alarm`` update, so the record sees it as
a step and its commands never depend on when a timer fired. The activity decides which alarms are due by the
server's clock and tells how many it applied, so this workflow only sleeps and counts: nothing it does branches
on its own clock. It stops when the record says the clock has ended or changed (a new alarm workflow rings the
new clock), or when every alarm has rung."""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.alarms import AlarmActivities
    from models.payloads import AlarmSchedule

_SHORTEST_SLEEP = timedelta(milliseconds=1)
# Ringing must eventually happen: a worker or database outage delays it, never drops it. At most 5 s apart, so a
# ring the record refused while recovering from a lost worker lands seconds after it has recovered.
_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=5))
_RING_TIMEOUT = timedelta(seconds=10)
# After a ring fails for good (an error the activity marks as not worth retrying, a fault in a release), wait this
# long, doubling up to ``_LONGEST_PAUSE``, and ring again: a clock never stops ringing because of one failure.
_FIRST_PAUSE = timedelta(minutes=1)
_LONGEST_PAUSE = timedelta(hours=1)


@workflow.defn(name="CapaAlarm")
class AlarmWorkflow:
    @workflow.run
    async def run(self, schedule: AlarmSchedule) -> int:
        """Returns how many alarms were applied to the record."""
        pending = list(schedule.alarms)
        applied = failures = 0
        due = schedule.at_first_alarm
        while pending:
            # One started at its first alarm rings it at once. Only the duration of the timer follows the clock;
            # Temporal does not compare it on replay.
            if not due:
                await workflow.sleep(max(pending[0].at - workflow.now(), _SHORTEST_SLEEP))
            due = False
            try:
                rung = await workflow.execute_activity_method(
                    AlarmActivities.ring,
                    schedule.model_copy(update={"alarms": pending}),
                    # Short: a ring held by a worker that was lost is tried again after this long, not later.
                    start_to_close_timeout=_RING_TIMEOUT,
                    retry_policy=_RETRY,
                )
            except ActivityError as failure:
                pause = min(_FIRST_PAUSE * 2**failures, _LONGEST_PAUSE)
                failures += 1
                workflow.logger.error(
                    "a ring of %s failed for good; ringing again in %s: %s",
                    schedule.record_id,
                    pause,
                    failure.cause,
                    extra={"record_id": schedule.record_id, "alarm": schedule.alarm},
                )
                await workflow.sleep(pause)
                due = True
                continue
            failures = 0
            if rung.stale:
                break
            applied += rung.rung
            pending = pending[max(rung.rung, 1) :]
        return applied
