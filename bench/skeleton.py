"""The ceiling: a workflow with CapaWorkflow's shape and none of its business logic.

It takes the same updates (one activity each, like ``_publish``), opens with the same two activities
(``pin_policy``, then ``record_state``), keeps one timer loop that is woken by every update and re-armed on the
next deadline, and fires its deadlines with the same activities as the product: two for the effectiveness
window (``send_notice``, ``record_state``), three for an escalation (``escalation_recipients``,
``send_notice``, ``record_state``). The activities do nothing, so what it reaches is what the server, the SDK
and this machine allow.
"""

from datetime import datetime, timedelta
from pathlib import Path

from pydantic import BaseModel
from temporalio import activity, workflow

_TIMEOUT = timedelta(seconds=30)


class SkeletonInput(BaseModel):
    record_id: str
    # The deadline every stage's step gets, as the bench policy's one-hour windows.
    window: timedelta = timedelta(hours=1)
    # The effectiveness window after a passing verification.
    effectiveness_after: timedelta = timedelta(seconds=1)


class SkeletonStep(BaseModel):
    """One step: its name, a line of text like a step's evidence, and for a plan the actions' due time."""

    name: str
    text: str = ""
    due_at: datetime | None = None


class SkeletonResult(BaseModel):
    record_id: str
    steps: int
    due_at: datetime | None


class SkeletonFired(BaseModel):
    """One fired escalation: when it was due and when its event was taken (after the first activity)."""

    record_id: str
    scheduled_at: datetime
    event_at: datetime


class SkeletonActivities:
    """No-op activities, run in a thread pool like the product's synchronous ones."""

    def __init__(self, fired_log: Path | None = None) -> None:
        self._fired_log = fired_log

    @activity.defn(name="skeleton_open")
    def open(self, record_id: str) -> str:
        return record_id

    @activity.defn(name="skeleton_publish")
    def publish(self, record_id: str) -> str:
        return record_id

    @activity.defn(name="skeleton_recipients")
    def recipients(self, record_id: str) -> list[str]:
        return [record_id]

    @activity.defn(name="skeleton_notify")
    def notify(self, fired: SkeletonFired | None) -> None:
        """The escalation's notice; its line in the fired log is how the bench reads the skeleton's lateness."""
        if fired is not None and self._fired_log is not None:
            with self._fired_log.open("a") as log:
                log.write(fired.model_dump_json() + "\n")


@workflow.defn
class SkeletonWorkflow:
    @workflow.init
    def __init__(self, inp: SkeletonInput) -> None:
        self._inp = inp
        self._opened = False
        self._wake = False
        self._closed = False
        self._steps = 0
        self._due: datetime | None = None
        self._escalate_at: datetime | None = None
        self._review_ready = False
        self._effectiveness_at: datetime | None = None

    @workflow.run
    async def run(self, inp: SkeletonInput) -> SkeletonResult:
        await workflow.execute_activity_method(SkeletonActivities.open, inp.record_id, start_to_close_timeout=_TIMEOUT)
        self._due = workflow.now() + inp.window
        await self._publish()
        self._opened = True
        while not self._closed:
            at = self._next()
            self._wake = False
            if at is None or at > workflow.now():
                timeout = None if at is None else at - workflow.now()
                try:
                    await workflow.wait_condition(lambda: self._wake, timeout=timeout)
                    continue
                except TimeoutError:
                    pass
            if at is not None:
                await self._fire(at)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._result()

    def _next(self) -> datetime | None:
        candidates = [t for t in (self._due, self._escalate_at, self._effectiveness_at) if t is not None]
        return min(candidates, default=None)

    async def _fire(self, at: datetime) -> None:
        if at == self._effectiveness_at:
            self._effectiveness_at = None
            await workflow.execute_activity_method(SkeletonActivities.notify, None, start_to_close_timeout=_TIMEOUT)
            self._due = workflow.now() + self._inp.window
            self._review_ready = True
            await self._publish()
            return
        if at == self._escalate_at:
            self._escalate_at = None
        else:
            self._due = None
        await workflow.execute_activity_method(
            SkeletonActivities.recipients, self._inp.record_id, start_to_close_timeout=_TIMEOUT
        )
        fired = SkeletonFired(record_id=self._inp.record_id, scheduled_at=at, event_at=workflow.now())
        await workflow.execute_activity_method(SkeletonActivities.notify, fired, start_to_close_timeout=_TIMEOUT)
        await self._publish()

    @workflow.query
    def review_ready(self) -> bool:
        return self._review_ready

    @workflow.update
    async def opened(self) -> SkeletonResult:
        """Started with the workflow (update-with-start): returns once the record is open, in one round trip."""
        await workflow.wait_condition(lambda: self._opened)
        return self._result()

    @workflow.update
    async def step(self, inp: SkeletonStep) -> SkeletonResult:
        self._steps += 1
        now = workflow.now()
        if inp.name == "plan":
            self._due = None
            self._escalate_at = inp.due_at
        elif inp.name == "complete_action":
            self._escalate_at = None
            self._due = now + self._inp.window
        elif inp.name == "verify":
            self._due = None
            self._effectiveness_at = now + self._inp.effectiveness_after
        elif inp.name in ("triage", "decide_plan"):
            pass  # a decision on the record: its deadlines stand
        elif inp.name == "review":
            self._due = None
            self._closed = True
        else:
            self._due = now + self._inp.window
        self._wake = True
        await self._publish()
        return self._result()

    async def _publish(self) -> None:
        await workflow.execute_activity_method(
            SkeletonActivities.publish, self._inp.record_id, start_to_close_timeout=_TIMEOUT
        )

    def _result(self) -> SkeletonResult:
        return SkeletonResult(record_id=self._inp.record_id, steps=self._steps, due_at=self._next())
