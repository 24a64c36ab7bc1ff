"""A recurrence sentinel: one durable workflow per policy rule and watched key (``sentinel:<rule>:<key values>``).

Fed by signal-with-start (``activities.sentinels.feed_sentinels``) when a record is raised with the key. It dedupes
occurrences by record id, keeps its sliding window with its own timers (an occurrence leaves the window when its
timer expires), and when the rule's count is reached fires: the ``sentinel_fire`` activity opens a linked CAPA raised
by the system under an ordinary record id allocated once per firing (sentinel, first run, firing number), so a
retried firing opens it once. While that CAPA is open, each
new occurrence is recorded on it as a ``recurrence`` step that escalates it one level. Continue-as-new carries the
window, the occurrences already fired and the linked CAPA. Once its window is empty and its linked CAPA has ended, a
sentinel completes; the next raise with its key starts it afresh (signal-with-start).
"""

import contextlib
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from models.sentinels import (
        FireInput,
        FireResult,
        Occurrence,
        SentinelState,
        counts,
        in_window,
        pending,
    )

_FIRE_TIMEOUT = timedelta(minutes=2)
# Sentinels started before this complete when idle; those started after complete once their window is empty and
# their linked CAPA has ended.
_COMPLETE_WHEN_IDLE = "sentinel-completes-when-idle"
_LINKED_CHECK = timedelta(days=7)


@workflow.defn(name="SentinelWorkflow")
class SentinelWorkflow:
    def __init__(self) -> None:
        self._inbox: list[Occurrence] = []
        self._closed: list[Occurrence] = []
        self._s: SentinelState | None = None

    @workflow.signal
    def occurrence(self, occ: Occurrence) -> None:
        self._inbox.append(occ)

    @workflow.signal
    def closed(self, occ: Occurrence) -> None:
        """A record of the key closed: arms a rule that counts recurrences after a close."""
        self._closed.append(occ)

    @workflow.query
    def state(self) -> SentinelState | None:
        return self._s

    @workflow.run
    async def run(self, inp: SentinelState) -> None:
        s = self._s = inp
        info = workflow.info()
        while True:
            now = workflow.now()
            window = s.rule.window
            s.occurrences = [o for o in s.occurrences if in_window(o.at, now, window)]
            kept = {o.record_id for o in s.occurrences}
            s.fired = [r for r in s.fired if r in kept]
            while self._closed:
                closed = self._closed.pop(0)
                if s.rule.after_closed and (s.armed is None or s.armed.at <= closed.at):
                    s.armed = closed  # the latest close arms the window
            if s.armed is not None and not in_window(s.armed.at, now, window):
                s.armed = None
            while self._inbox:
                occ = self._inbox.pop(0)
                if occ.record_id in kept or not in_window(occ.at, now, window):
                    continue  # already counted (a retried settle), or older than the window
                if not counts(s, occ):
                    continue  # a rule armed by a close: not armed, or raised outside the window after the close
                s.occurrences.append(occ)
                kept.add(occ.record_id)
                await self._on_occurrence(occ, info.workflow_id, info.first_execution_run_id)
            if info.is_continue_as_new_suggested() or info.get_current_history_length() > s.max_history:
                await workflow.wait_condition(workflow.all_handlers_finished)
                if not self._inbox:
                    workflow.continue_as_new(s)
            timeout = None
            ends = [o.at for o in s.occurrences] + ([s.armed.at] if s.armed is not None else [])
            if ends:
                timeout = max(min(ends) + window - workflow.now(), timedelta(seconds=1))
            elif not self._inbox and not self._closed and workflow.patched(_COMPLETE_WHEN_IDLE):
                # An empty window: once the linked CAPA has ended there is nothing left to watch, so the sentinel
                # completes (a later raise starts it again). Temporal refuses the completion if a signal came in
                # meanwhile, and the occurrence is handled in the task it retries with.
                if s.linked is not None and not await self._linked_open(s.linked):
                    s.linked = None
                if s.linked is None:
                    await workflow.wait_condition(workflow.all_handlers_finished)
                    if not self._inbox and not self._closed:
                        workflow.logger.info("sentinel idle: completes", extra={"rule": s.rule.name})
                        return
                    continue
                timeout = _LINKED_CHECK  # look again whether the linked CAPA has ended
            with contextlib.suppress(TimeoutError):  # on timeout the oldest occurrence (or the close) left the window
                await workflow.wait_condition(lambda: bool(self._inbox or self._closed), timeout=timeout)

    async def _on_occurrence(self, occ: Occurrence, sentinel: str, first_run: str) -> None:
        s = self._s
        assert s is not None
        if s.linked is not None:
            result = await self._fire(
                FireInput(sentinel=sentinel, rule=s.rule, facts=s.facts, record_ids=[occ.record_id], linked=s.linked)
            )
            if result.recorded:
                s.fired.append(occ.record_id)
                return
            s.linked = None  # the linked CAPA has ended: count afresh
        ids = pending(s)
        if len(ids) < s.rule.count:
            return
        s.firings += 1
        # A rule armed by a close names the closed record first among those that triggered it.
        triggered = [s.armed.record_id, *ids] if s.rule.after_closed and s.armed is not None else ids
        result = await self._fire(
            FireInput(
                sentinel=sentinel,
                rule=s.rule,
                facts=s.facts,
                record_ids=triggered,
                first_run=first_run,
                firing=s.firings,
            )
        )
        s.linked = result.record_id
        s.fired.extend(ids)
        s.last_fired = workflow.now()
        workflow.logger.info("sentinel fired", extra={"rule": s.rule.name, "record_id": s.linked, "records": ids})

    async def _linked_open(self, record_id: str) -> bool:
        is_open: bool = await workflow.execute_activity(
            "sentinel_linked_open",
            record_id,
            result_type=bool,
            start_to_close_timeout=_FIRE_TIMEOUT,
            retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=30)),
        )
        return is_open

    async def _fire(self, inp: FireInput) -> FireResult:
        result: FireResult = await workflow.execute_activity(
            "sentinel_fire",
            inp,
            result_type=FireResult,
            start_to_close_timeout=_FIRE_TIMEOUT,
            retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=30)),
        )
        return result
