"""The earlier shape of a record's workflow (type ``CapaWorkflow``), kept only for records still in flight.

New records run ``workflows.record.RecordWorkflow`` (type ``CapaRecord``), whose commands never depend on the
order in which a step and an activity result or timer reach it. Records started as ``CapaWorkflow`` go on here
until the ``migrate`` update (sent to every running one by ``capa records migrate``) wakes them: they then finish
what they are doing and continue as new into ``CapaRecord``, carrying their state. The update is new, so no
recorded history contains it and no patch is needed for replay. What a step does to the state is shared with
``CapaRecord`` (``workflows.transitions``); what stays here is this shape's own commands: a timer loop, activities
awaited inside the steps, and timeline entries whose details are plain dicts.

When it may go: once no ``CapaWorkflow`` execution is running in any namespace (``capa records migrate`` says
"nothing to move", or the visibility query ``WorkflowType = 'CapaWorkflow' AND ExecutionStatus = 'Running'``
finds none) and the closed ones are past the namespace's retention (a query on one replays it). Then delete this
module, its entry in ``worker.WORKFLOWS``, the ``migrate`` path of the client layer and CLI, ``CapaWorkflowInput``
and the ``CapaWorkflow`` histories under tests/replay; its patches below go with it.

Every user step is an update whose validator calls ``models.rules`` before anything reaches history, so a
rejected step leaves no trace. Every deadline (the stage's own and each action's) lives in the state as a
``Clock``; a single loop in ``run`` sleeps until the earliest reminder, escalation or effectiveness window
of all of them, and wakes early whenever a step changes the clocks, which is how extensions, reassignments,
completions and cancellation re-arm or stop the timers.
"""

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.notifications import NotificationActivities
    from activities.policy import PolicyActivities
    from activities.records import RecordActivities
    from models import notices, rules
    from models.durations import format_duration
    from models.enums import EventKind
    from models.formatting import duration, stored_duration
    from models.payloads import (
        RECENT_UPDATES,
        SYSTEM_ACTOR,
        CancelInput,
        CapaState,
        CapaWorkflowInput,
        Clock,
        CompleteActionInput,
        ContainmentInput,
        EscalationEntry,
        Event,
        ExtensionDecisionInput,
        ExtensionRequestInput,
        PlanInput,
        ReassignInput,
        RecipientsInput,
        RecordInput,
        RecordSnapshot,
        ReviewInput,
        RootCauseInput,
        SignedInput,
        StepResult,
        VerifyInput,
    )
    from models.rules import Step
    from models.timers import Alarm, AlarmKind, next_alarm
    from workflows import transitions
    from workflows.transitions import guard


def _signed(inp: SignedInput) -> dict[str, Any]:
    """A signed step's signature, for its entry's details (the validator has checked it; see ``workflows.record``)."""
    return {"signature": inp.signature.model_dump(mode="json")} if inp.signature is not None else {}


# Read-model writes must eventually happen; a database outage delays them but never fails the record.
_DB_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30))
# A write that has not finished by then is retried (it is idempotent): a worker killed mid-write delays the step by
# this much, which stays below the client layer's 20 s wait for an answer. SQLite's busy wait is 10 s of it.
_DB_TIMEOUT = timedelta(seconds=15)
# The patches of this shape. Each unpatched branch replays runs started before its patch, which may stay open as
# long as the shape does: the branches go when the module goes (see above).
# Records started (or resumed) under this patch sleep before every alarm, even one already due (see ``run``).
_SLEEP_BEFORE_EVERY_ALARM = "sleep-before-every-alarm"
_SHORTEST_SLEEP = timedelta(milliseconds=1)
# Records under this patch record an escalation as its alarm is handled, before its recipients are looked up.
_ESCALATE_WHEN_DUE = "escalate-when-due"
# Records under this patch upsert only the search attributes a step changed, and none when it changed none.
_INDEX_CHANGES_ONLY = "index-changes-only"
# Records under this patch count the effectiveness review's deadline from the end of the window (see ``_fire``).
_REVIEW_FROM_WINDOW_END = "effectiveness-review-from-window-end"


@workflow.defn
class CapaWorkflow:
    @workflow.init
    def __init__(self, inp: CapaWorkflowInput) -> None:
        self._wake = False
        self._migrating = False
        # The ids of this run's steps, carried into the new shape so a step retried across the move is refused
        # as already applied (bookkeeping only: no command depends on it).
        self._update_ids: list[str] = []
        self._unpublished_from: int | None = None
        self._publish_lock = asyncio.Lock()
        self._synced_seq = inp.synced_seq
        # The search attributes as this run last set them (a new run sets them all again at its first change).
        self._indexed: dict[str, object] = {}
        if inp.carried_state is not None:
            self._s = inp.carried_state
            return
        raised = inp.raised
        self._s = transitions.raised_state(raised)
        self._append(
            EventKind.RAISED,
            raised.raised_by.name,
            severity=raised.severity.value,
            source=raised.source.value,
            owner=raised.owner,
            title=raised.title,
        )

    # --- the timer loop -------------------------------------------------------------------------------------

    @workflow.run
    async def run(self, inp: CapaWorkflowInput) -> CapaState:
        s = self._s
        if s.policy is None:
            s.policy = await workflow.execute_activity_method(
                PolicyActivities.pin_policy,
                s.severity,
                start_to_close_timeout=timedelta(seconds=30),
            )
            # Containment time runs from the moment the nonconformity was raised, not from when the policy arrived.
            s.clock = transitions.new_clock(s.owner, s.policy.rules.containment, start=s.raised_at)
            self._index()
            await self._publish()
        while s.stage.is_open:
            if self._migrating:
                await workflow.wait_condition(workflow.all_handlers_finished)
                moved = RecordInput(
                    raised=inp.raised,
                    policy=s.policy,
                    carried_state=s,
                    recent_updates=self._update_ids[-RECENT_UPDATES:],
                )
                workflow.continue_as_new(args=[moved], workflow="CapaRecord")
            info = workflow.info()
            if info.is_continue_as_new_suggested() or info.get_current_history_length() >= inp.max_history_events:
                # Keep history bounded for records that stay open for months; the state travels on.
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(
                    inp.model_copy(update={"carried_state": self._s, "synced_seq": self._synced_seq})
                )
            alarm = next_alarm(s)
            self._wake = False
            timeout = None if alarm is None else alarm.at - workflow.now()
            if timeout is not None and workflow.patched(_SLEEP_BEFORE_EVERY_ALARM):
                # An alarm already due still gets a (shortest) timer, so whether this task starts a timer or an
                # activity depends on the state alone. A worker that takes a record over after a lost task can
                # see a workflow.now() seconds older than a later replay does; branching on it broke replay.
                timeout = max(timeout, _SHORTEST_SLEEP)
            if timeout is None or timeout > timedelta(0):
                try:
                    await workflow.wait_condition(lambda: self._wake, timeout=timeout)
                    continue  # a step changed the clocks: work out the next alarm again
                except TimeoutError:
                    pass
            if alarm is not None:
                await self._fire(alarm)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._s

    async def _fire(self, alarm: Alarm) -> None:
        s = self._s
        if alarm.kind is AlarmKind.EFFECTIVENESS_DUE:
            assert s.policy is not None
            # The review falls due a fixed time after the window ends, however late a worker got to the alarm.
            # Counting from the alarm (state) rather than workflow.now() also keeps a replay's deadlines identical
            # to the first run's: after a lost workflow task the SDK can hand the first activation a stale clock.
            start = alarm.at if workflow.patched(_REVIEW_FROM_WINDOW_END) else None
            s.clock = transitions.new_clock(s.owner, s.policy.rules.effectiveness_review, start=start)
            event = self._append(EventKind.EFFECTIVENESS_DUE, SYSTEM_ACTOR, review_due_at=s.clock.due_at.isoformat())
            await self._notify(event, [s.owner], "effectiveness review due")
            self._index()
            await self._publish()
            return
        clock = s.clock_for(alarm.action_id)
        assert clock is not None
        if alarm.kind is AlarmKind.ESCALATION and workflow.patched(_ESCALATE_WHEN_DUE):
            await self._escalate(alarm, clock)
            return
        target = alarm.action_id or s.stage.value
        if alarm.kind is AlarmKind.REMINDER:
            recipients = [clock.holder]
        else:
            recipients = await self._recipients(clock.holder, alarm.level)
            # A step may have landed while the directory was read; then this escalation no longer applies.
            if next_alarm(s) != alarm:
                return
        details: dict[str, Any] = {
            "target": target,
            "holder": clock.holder,
            "due_at": clock.due_at.isoformat(),
            "scheduled_at": alarm.at.isoformat(),
            "recipients": recipients,
        }
        if alarm.kind is AlarmKind.REMINDER:
            clock.reminders_sent += 1
            event = self._append(EventKind.REMINDER_SENT, SYSTEM_ACTOR, **details)
            what = f"{target} due in {duration(clock.due_at - workflow.now())}"
        else:
            clock.escalation_level = alarm.level
            late = format_duration(workflow.now() - clock.due_at)
            event = self._append(EventKind.ESCALATED, SYSTEM_ACTOR, level=alarm.level, late_by=late, **details)
            what = (
                f"{target} held by {clock.holder} is overdue by {stored_duration(late)}"
                f" (escalation level {alarm.level})"
            )
        await self._notify(event, recipients, what)
        await self._publish()

    async def _escalate(self, alarm: Alarm, clock: Clock) -> None:
        """Escalate the moment the alarm is handled: the level and the timeline entry are in the state before the
        reporting line is read, so a step that lands meanwhile can neither cancel nor precede an escalation that
        was already due. The entry is published once its recipients are known."""
        target, holder = alarm.action_id or self._s.stage.value, clock.holder
        clock.escalation_level = alarm.level
        late = format_duration(workflow.now() - clock.due_at)
        event = self._append(
            EventKind.ESCALATED,
            SYSTEM_ACTOR,
            level=alarm.level,
            late_by=late,
            target=target,
            holder=holder,
            due_at=clock.due_at.isoformat(),
            scheduled_at=alarm.at.isoformat(),
            recipients=[],
        )
        self._unpublished_from = event.seq
        recipients = await self._recipients(holder, alarm.level)
        assert isinstance(event.details, EscalationEntry)
        event.details.recipients = recipients
        self._unpublished_from = None
        what = f"{target} held by {holder} is overdue by {stored_duration(late)} (escalation level {alarm.level})"
        await self._notify(event, recipients, what)
        await self._publish()

    # --- queries --------------------------------------------------------------------------------------------

    @workflow.query
    def state(self) -> CapaState:
        return self._s

    # --- steps ----------------------------------------------------------------------------------------------

    @workflow.update
    def migrate(self) -> None:
        """Move this record to the new shape: the timer loop continues it as new at its next turn."""
        self._migrating = True
        self._wake = True

    @migrate.validator
    def _check_migrate(self) -> None:
        if self._s.policy is None or not self._s.stage.is_open:
            raise ApplicationError(f"{self._s.id} is not open; nothing to migrate", type="NotOpen", non_retryable=True)

    @workflow.update
    async def opened(self) -> StepResult:
        """Answer once the record is open: its policy pinned and its first row in the read model.

        The client layer waits on this after starting the workflow, so a raise returns an id that is ready for
        its first step without polling the database. Records that never receive it are unaffected.
        """
        await workflow.wait_condition(lambda: self._synced_seq > 0)
        s = self._s
        return StepResult(record_id=s.id, stage=s.stage, seq=self._synced_seq, due_at=s.due_at)

    @workflow.update
    async def contain(self, inp: ContainmentInput) -> StepResult:
        transitions.contain(self._s, inp)
        event = self._append(
            EventKind.CONTAINMENT_SUBMITTED,
            inp.actor.name,
            summary=inp.summary,
            disposition=inp.disposition.value if inp.disposition else None,
            quantity=inp.quantity,
        )
        return await self._accepted(event)

    @contain.validator
    def _check_contain(self, inp: ContainmentInput) -> None:
        guard(rules.check_containment, self._s, inp)

    @workflow.update
    async def root_cause(self, inp: RootCauseInput) -> StepResult:
        s = self._s
        transitions.root_cause(s, inp)
        event = self._append(
            EventKind.ROOT_CAUSE_SUBMITTED,
            inp.actor.name,
            cycle=s.cycle,
            method=inp.method.value,
            cause=inp.cause,
            whys=inp.whys,
            category=inp.category.value if inp.category else None,
        )
        return await self._accepted(event)

    @root_cause.validator
    def _check_root_cause(self, inp: RootCauseInput) -> None:
        guard(rules.check_root_cause, self._s, inp)

    @workflow.update
    async def plan(self, inp: PlanInput) -> StepResult:
        added = [
            {"id": action.id, "owner": action.owner, "due_at": action.clock.due_at.isoformat()}
            for action in transitions.plan(self._s, inp)
        ]
        event = self._append(EventKind.PLAN_SUBMITTED, inp.actor.name, actions=added)
        return await self._accepted(event)

    @plan.validator
    def _check_plan(self, inp: PlanInput) -> None:
        guard(rules.check_plan, self._s, inp, workflow.now())

    @workflow.update
    async def complete_action(self, inp: CompleteActionInput) -> StepResult:
        action = transitions.complete_action(self._s, inp)
        assert action.completed_at is not None
        event = self._append(
            EventKind.ACTION_COMPLETED,
            inp.actor.name,
            action_id=action.id,
            evidence=inp.evidence,
            on_time=action.completed_at <= action.clock.original_due_at,
        )
        return await self._accepted(event)

    @complete_action.validator
    def _check_complete_action(self, inp: CompleteActionInput) -> None:
        guard(rules.check_complete_action, self._s, inp)

    @workflow.update
    async def verify(self, inp: VerifyInput) -> StepResult:
        transitions.verify(self._s, inp)
        event = self._append(
            EventKind.VERIFIED, inp.actor.name, result=inp.result.value, evidence=inp.evidence, **_signed(inp)
        )
        return await self._accepted(event)

    @verify.validator
    def _check_verify(self, inp: VerifyInput) -> None:
        guard(rules.check_verify, self._s, inp)
        guard(rules.check_signature, self._s.id, Step.VERIFY, inp)

    @workflow.update
    async def review(self, inp: ReviewInput) -> StepResult:
        s = self._s
        event = self._append(
            EventKind.EFFECTIVENESS_REVIEWED,
            inp.actor.name,
            result=inp.result.value,
            evidence=inp.evidence,
            **_signed(inp),
        )
        if transitions.review(s, inp):
            event = self._append(EventKind.CLOSED, inp.actor.name, cycles=s.cycle)
        return await self._accepted(event)

    @review.validator
    def _check_review(self, inp: ReviewInput) -> None:
        guard(rules.check_review, self._s, inp)
        guard(rules.check_signature, self._s.id, Step.REVIEW, inp)

    @workflow.update
    async def request_extension(self, inp: ExtensionRequestInput) -> StepResult:
        s = self._s
        clock = transitions.request_extension(s, inp)
        event = self._append(
            EventKind.EXTENSION_REQUESTED,
            inp.actor.name,
            target=inp.action_id or s.stage.value,
            current_due_at=clock.due_at.isoformat(),
            until=inp.until.isoformat(),
            reason=inp.reason,
        )
        return await self._accepted(event)

    @request_extension.validator
    def _check_request_extension(self, inp: ExtensionRequestInput) -> None:
        guard(rules.check_extension_request, self._s, inp)

    @workflow.update
    async def decide_extension(self, inp: ExtensionDecisionInput) -> StepResult:
        s = self._s
        request, clock = transitions.decide_extension(s, inp)
        event = self._append(
            EventKind.EXTENSION_DECIDED,
            inp.actor.name,
            target=request.action_id or s.stage.value,
            approved=inp.approve,
            requested_by=request.requested_by,
            original_due_at=clock.original_due_at.isoformat() if clock else None,
            due_at=clock.due_at.isoformat() if clock else None,
            reason=inp.reason,
            **_signed(inp),
        )
        return await self._accepted(event)

    @decide_extension.validator
    def _check_decide_extension(self, inp: ExtensionDecisionInput) -> None:
        guard(rules.check_extension_decision, self._s, inp)
        guard(rules.check_signature, self._s.id, Step.DECIDE_EXTENSION, inp)

    @workflow.update
    async def reassign(self, inp: ReassignInput) -> StepResult:
        previous = transitions.reassign(self._s, inp)
        event = self._append(
            EventKind.REASSIGNED,
            inp.actor.name,
            target=inp.action_id or "record",
            previous=previous,
            new_owner=inp.new_owner,
            reason=inp.reason,
        )
        return await self._accepted(event)

    @reassign.validator
    def _check_reassign(self, inp: ReassignInput) -> None:
        guard(rules.check_reassign, self._s, inp)

    @workflow.update
    async def cancel(self, inp: CancelInput) -> StepResult:
        previous = transitions.cancel(self._s, inp)
        event = self._append(
            EventKind.CANCELLED, inp.actor.name, reason=inp.reason, stage=previous.value, **_signed(inp)
        )
        return await self._accepted(event)

    @cancel.validator
    def _check_cancel(self, inp: CancelInput) -> None:
        guard(rules.check_cancel, self._s, inp)
        guard(rules.check_signature, self._s.id, Step.CANCEL, inp)

    # --- helpers --------------------------------------------------------------------------------------------

    def _append(self, kind: EventKind, actor: str, **details: Any) -> Event:
        return transitions.append(self._s, kind, actor, details)

    async def _accepted(self, event: Event) -> StepResult:
        self._wake = True
        if (update := workflow.current_update_info()) is not None:
            self._update_ids.append(update.id)
        self._index()
        await self._publish()
        s = self._s
        return StepResult(record_id=s.id, stage=s.stage, seq=event.seq, due_at=s.due_at)

    def _index(self) -> None:
        # Under this patch a step upserts only the attributes it changed, and none when it changed none (most steps,
        # an action completed or an extension asked for, change none): each upsert costs a history event and a
        # visibility write on the server.
        indexed = self._indexed if workflow.patched(_INDEX_CHANGES_ONLY) else None
        if updates := transitions.index_updates(self._s, indexed):
            workflow.upsert_search_attributes(updates)

    async def _recipients(self, holder: str, level: int) -> list[str]:
        """Who hears of an escalation at ``level``: read from the directory's reporting lines."""
        return await workflow.execute_activity_method(
            RecordActivities.escalation_recipients,
            RecipientsInput(holder=holder, level=level),
            start_to_close_timeout=_DB_TIMEOUT,
            retry_policy=_DB_RETRY,
        )

    async def _notify(self, event: Event, recipients: list[str], what: str) -> None:
        await workflow.execute_activity_method(
            NotificationActivities.send_notice,
            notices.notice(self._s, event, recipients, what),
            start_to_close_timeout=_DB_TIMEOUT,
            retry_policy=_DB_RETRY,
        )

    async def _publish(self) -> None:
        """Bring the read model up to date; serialised so an older snapshot never lands after a newer one."""
        async with self._publish_lock:
            s = self._s
            # An escalation waiting for its recipients holds back its entry and the ones after it.
            last = len(s.events) if self._unpublished_from is None else self._unpublished_from - 1
            if last <= self._synced_seq:
                return
            snapshot = RecordSnapshot(
                state=s.model_copy(update={"events": []}),
                new_events=s.events[self._synced_seq : last],
            )
            await workflow.execute_activity_method(
                RecordActivities.record_state,
                snapshot,
                start_to_close_timeout=_DB_TIMEOUT,
                retry_policy=_DB_RETRY,
            )
            self._synced_seq = max(self._synced_seq, last)
