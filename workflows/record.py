"""One nonconformity, from raise to close, as a durable workflow whose commands never depend on arrival order.

Why it commutes. Within one workflow task the SDK can hand a record a step (an update) together with anything
else that happened meanwhile (an activity's result, another step), and the order it hands them over differs
between the live run and a replay: live, in the order they reached the worker; on replay, updates first.
Temporal checks the commands a replay emits against the history, in order, so the record keeps three rules:

1. Every command is emitted by a step, synchronously, inside its handler. Handlers are plain ``def``s: they
   re-check the rule, change the state, append the timeline entry and start, without awaiting, the one
   ``settle_step`` activity that writes the read model, sends the step's notices and starts and stops its
   alarms (records started before it start ``record_state``, ``send_notice`` and ``arm_alarms`` instead).
   ``__init__`` emits the opening commands before any handler can run.
2. Activity results only touch bookkeeping (a done-callback that forgets the handle and logs a failure). They
   never emit a command or decide a branch, so it makes no difference whether they arrive before a step or after.
3. The record keeps no timer. Each running deadline has an alarm workflow (``workflows.alarm``) started with the
   clock's schedule; when an alarm falls due it applies itself through the ``alarm`` update, a step like any
   other. A clock that changes gets a new alarm workflow, and the step terminates the old one; a ring that
   gets in first is refused as stale (refused updates leave nothing in history). Nothing is cancelled: an alarm
   workflow has no outside input that could share a task with its own timer, and termination runs none of
   its code.

What a step hands the read model is what it changed (``RecordChange``: the state's changed fields, the actions
it added or changed, its new timeline entries), worked out against the state this run last published; a run's
first publish sends the whole state. Each timeline entry's payload is the model of its kind: for a step, the
step's own input without the actor, and what the record adds (``models.payloads``).

The main coroutine only waits: for a step to end the record or to ask for continue-as-new, then for the
activities in flight to finish (so no write or notice is lost), and then emits its one last command. From the
moment a step ends the record or asks to continue, every further update is refused by its validator, which
leaves nothing in history, so that last command never shares a workflow task with an accepted step.
"""

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.alarms import AlarmActivities
    from activities.notifications import NotificationActivities
    from activities.records import RecordActivities
    from activities.steps import StepActivities
    from models import chain, notices, pauses, qms, rules
    from models.calendars import WorkCalendar
    from models.durations import WorkingSpan, format_duration
    from models.enums import EventKind, Stage
    from models.payloads import (
        ALARM_RUNG,
        ALARM_STALE,
        RECENT_UPDATES,
        RECORD_MOVING,
        STEP_REPEATED,
        SYSTEM_ACTOR,
        AlarmInput,
        AlarmKind,
        AlarmSchedule,
        AmendEntry,
        AmendInput,
        ArmAlarmsInput,
        AttachFileInput,
        CancelEntry,
        CancelInput,
        CapaState,
        ChainStartedEntry,
        Clock,
        ClosedEntry,
        CommentEntry,
        CommentInput,
        CompleteActionInput,
        CompletionEntry,
        ConcessionEntry,
        ConcessionInput,
        ContainmentEntry,
        ContainmentInput,
        EffectivenessDueEntry,
        EscalationEntry,
        Event,
        ExtensionDecisionEntry,
        ExtensionDecisionInput,
        ExtensionRequestEntry,
        ExtensionRequestInput,
        ExtensionRequestStep,
        FileRef,
        LinkInput,
        LinkStep,
        MoveProcedureInput,
        Notice,
        PauseDecisionEntry,
        PauseDecisionInput,
        PauseRequest,
        PauseRequestEntry,
        PauseRequestInput,
        PauseRequestStep,
        Payload,
        PlanAmendmentEntry,
        PlanAmendmentInput,
        PlanDecisionEntry,
        PlanDecisionInput,
        PlanEntry,
        PlanInput,
        PlannedAlarm,
        RaiseStep,
        ReassignEntry,
        ReassignInput,
        RecordChange,
        RecordInput,
        RecordSnapshot,
        RecordTrainingInput,
        RecurrenceEntry,
        RecurrenceInput,
        ReminderEntry,
        ResumeEntry,
        ResumeInput,
        RetiredClock,
        ReviewEntry,
        ReviewInput,
        RootCauseEntry,
        RootCauseInput,
        SignedInput,
        StepEffects,
        StepInput,
        StepResult,
        TrainingEntry,
        TriageEntry,
        TriageInput,
        VerifyEntry,
        VerifyInput,
        step_of,
    )
    from models.refusals import ErrorKind
    from models.rules import Step
    from models.timers import clock_schedule, escalation_times, reminder_times
    from workflows import transitions
    from workflows.transitions import guard, new_clock, refusal

# Read-model writes, notices and alarm starts must eventually happen; an outage delays them but never fails the
# record, and the activities are idempotent, so they retry without limit, at most 5 s apart: the read model
# catches up within seconds of a database outage ending.
_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=5))
_TIMEOUT = timedelta(seconds=15)
# ``settle_step`` heartbeats while it runs, so an attempt lost with its worker is retried after this long rather
# than after the whole ``_TIMEOUT`` (its heartbeats reach the server at least every 0.5 s, so 2 s leaves a live
# attempt on a busy worker room); and it is retried every second, so once the database is back the steps it
# missed reach the read model within seconds (an attempt mostly waits on the database, not on the retry).
_SETTLE_HEARTBEAT = timedelta(seconds=2)
_SETTLE_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), backoff_coefficient=1.0)
_UNSET = object()
# Records started before one activity settled each step replay with an activity per side effect (``record_state``,
# ``send_notice``, ``arm_alarms``). A run decides once, in ``__init__``, and a continued run starts patched, so
# the unpatched branches (every ``not self._settles``) may go once no CapaRecord run without this marker is open
# or within the namespace's retention: the visibility query ``WorkflowType = 'CapaRecord' AND StartTime < T``,
# T the moment the first workers with this patch started, finds only runs closed longer ago than the retention.
# Records still on ``CapaWorkflow`` reach CapaRecord as new runs, so they start patched.
_ONE_ACTIVITY_PER_STEP = "one-activity-per-step"
# Each timeline entry carries a hash chained to the one before (``models.chain``). A record raised under it chains
# from its first entry. A record in flight starts its chain the first time it appends under this code, with a
# ``chain_started`` entry sealing its existing timeline. The SDK keeps a patch's first answer for the whole run,
# and in a replay the first ask comes from entries appended before this code: so a record whose chain has not
# started asks under an id of its own for each position (``_CHAINED_AT``-<seq>) until it starts.
_CHAINED = "chained-timeline"
_CHAINED_AT = "chained-timeline-at"

InputT = TypeVar("InputT", bound=StepInput)
ChangeT = TypeVar("ChangeT", bound=StepInput | AlarmInput | RecurrenceInput)
EntryT = TypeVar("EntryT", bound=Payload)
# What a raise submits for its timeline entry: its input without the record id and the person raising.
_RAISED = set(RaiseStep.model_fields)


def _entry(entry: type[EntryT], inp: StepInput, **facts: Any) -> EntryT:
    """A step's timeline entry: the fields it submitted (its input without the actor) and what the record adds."""
    return entry.model_validate({**inp.model_dump(exclude={"actor"}), **facts})


def _reached(ring: AlarmInput, levels: list[int]) -> list[str]:
    """Who an escalation standing for ``levels`` reaches: each level's people, once."""
    if not ring.by_level:
        return ring.recipients
    return list(dict.fromkeys(name for level in levels for name in ring.by_level.get(level, [])))


@workflow.defn(name="CapaRecord")
class RecordWorkflow:
    @workflow.init
    def __init__(self, inp: RecordInput) -> None:
        self._settles = workflow.patched(_ONE_ACTIVITY_PER_STEP)
        self._notices: list[Notice] = []
        self._max_events = inp.max_history_events
        self._carried_updates = set(inp.recent_updates)
        self._recent_updates: list[str] = list(inp.recent_updates)
        self._pending: set[asyncio.Future[Any]] = set()
        self._continuing = False
        # The search attributes as this run last set them (a new run sets them all again).
        self._indexed: dict[str, object] = {}
        # The state as this run last handed it to the read model (its fields, its actions by id, its entry count),
        # so each step sends only what changed; a run's first publish sends the whole state.
        self._published: tuple[dict[str, Any], dict[str, dict[str, Any]], int] | None = None
        if inp.carried_state is not None:
            # A run carried over (from this workflow or from a record of the earlier shape): write the read
            # model again and start an alarm for every clock that has none. Both are idempotent.
            self._s = inp.carried_state
            self._s.policy = self._s.policy or inp.policy
            self._effects(0, stop=[])
            return
        raised = inp.raised
        self._s = transitions.raised_state(raised, inp.policy)
        self._s.calendar = inp.calendar  # working-day calendars: pinned like the policy
        self._s.clock = new_clock(
            raised.owner, inp.policy.rules.containment, start=self._s.raised_at, calendar=self._s.calendar
        )
        self._append(
            EventKind.RAISED, raised.raised_by.name, RaiseStep.model_validate(raised.model_dump(include=_RAISED))
        )
        self._notify_steps(0)
        self._effects(0, stop=[])

    @workflow.run
    async def run(self, inp: RecordInput) -> CapaState:
        await workflow.wait_condition(lambda: not self._s.stage.is_open or self._continuing)
        # The last steps' writes, notices and alarms finish before the run ends; a continued run would
        # re-issue the writes, but not a notice.
        # A record that ended with an escalation due before its last step and not yet rung waits for that ring
        # (its alarm rings at once): the timeline records every escalation that fell due.
        await workflow.wait_condition(
            lambda: (
                not self._pending
                and workflow.all_handlers_finished()
                and not (self._settles and not self._s.stage.is_open and self._s.retired_clocks)
            )
        )
        if self._s.stage.is_open:
            workflow.continue_as_new(
                inp.model_copy(
                    update={"carried_state": self._s, "recent_updates": self._recent_updates[-RECENT_UPDATES:]}
                )
            )
        return self._s

    # --- queries --------------------------------------------------------------------------------------------

    @workflow.query
    def state(self) -> CapaState:
        return self._s

    # --- steps ----------------------------------------------------------------------------------------------

    @workflow.update
    def opened(self) -> StepResult:
        """Answer with the whole record, so the client layer can write its first row before returning its id."""
        s = self._s
        return StepResult(
            record_id=s.id,
            stage=s.stage,
            seq=len(s.events),
            due_at=s.due_at,
            snapshot=RecordSnapshot.of(s),
        )

    @opened.validator
    def _check_opened(self) -> None:
        self._check_open()
        if not self._s.stage.is_open:
            # Its last command may share a task with this answer; a refusal leaves nothing in history.
            raise refusal(ErrorKind.WRONG_STAGE.value, f"{self._s.id} is {self._s.stage.value}")

    @workflow.update
    def contain(self, inp: ContainmentInput) -> StepResult:
        self._check_step(rules.check_containment, inp)
        return self._step(self._contain, inp)

    @contain.validator
    def _check_contain(self, inp: ContainmentInput) -> None:
        self._check_step(rules.check_containment, inp)

    def _contain(self, inp: ContainmentInput) -> None:
        s = self._s
        on_time = self._on_time()
        closes = transitions.contain(s, inp)
        self._append(EventKind.CONTAINMENT_SUBMITTED, inp.actor.name, _entry(ContainmentEntry, inp, on_time=on_time))
        if closes:
            self._append(EventKind.CLOSED, inp.actor.name, ClosedEntry(cycles=s.cycle))
        elif s.containment is not None and s.containment.needs_concession and s.under_current_rules:
            self._notify(notices.concession_needed(s, s.events[-1]))

    # The steps of the current process rules (triage, plan approval and amendment, concessions, amendments,
    # links) are updates records raised before them never received: they replay as before, with no patch marker.
    @workflow.update
    def triage(self, inp: TriageInput) -> StepResult:
        self._check_step(rules.check_triage, inp)
        return self._step(self._triage, inp)

    @triage.validator
    def _check_triage(self, inp: TriageInput) -> None:
        self._check_step(rules.check_triage, inp)
        self._check_signed(Step.TRIAGE, inp)

    def _triage(self, inp: TriageInput) -> None:
        s = self._s
        previous, closes = transitions.triage(s, inp)
        entry = _entry(TriageEntry, inp, risk_class=s.severity, previous_class=previous)
        self._append(EventKind.TRIAGED, inp.actor.name, entry)
        if closes:
            self._append(EventKind.CLOSED, inp.actor.name, ClosedEntry(cycles=s.cycle))

    @workflow.update
    def amend_plan(self, inp: PlanAmendmentInput) -> StepResult:
        self._check_step(rules.check_plan_amendment, inp, None)
        return self._step(self._amend_plan, inp)

    @amend_plan.validator
    def _check_amend_plan(self, inp: PlanAmendmentInput) -> None:
        self._check_step(rules.check_plan_amendment, inp, workflow.now())

    def _amend_plan(self, inp: PlanAmendmentInput) -> None:
        added, previous = transitions.amend_plan(self._s, inp)
        entry = _entry(PlanAmendmentEntry, inp, action_ids=added, previous=previous)
        event = self._append(EventKind.PLAN_AMENDED, inp.actor.name, entry)
        self._notify(notices.approval_needed(self._s, event))

    @workflow.update
    def decide_plan(self, inp: PlanDecisionInput) -> StepResult:
        self._check_step(rules.check_plan_decision, inp)
        return self._step(self._decide_plan, inp)

    @decide_plan.validator
    def _check_decide_plan(self, inp: PlanDecisionInput) -> None:
        self._check_step(rules.check_plan_decision, inp)
        self._check_signed(Step.DECIDE_PLAN, inp)

    def _decide_plan(self, inp: PlanDecisionInput) -> None:
        pending = transitions.decide_plan(self._s, inp)
        entry = _entry(PlanDecisionEntry, inp, what=pending.what, action_ids=pending.added)
        self._append(EventKind.PLAN_DECIDED, inp.actor.name, entry)

    @workflow.update
    def concede(self, inp: ConcessionInput) -> StepResult:
        self._check_step(rules.check_concession, inp)
        return self._step(self._concede, inp)

    @concede.validator
    def _check_concede(self, inp: ConcessionInput) -> None:
        self._check_step(rules.check_concession, inp)
        self._check_signed(Step.CONCEDE, inp)

    def _concede(self, inp: ConcessionInput) -> None:
        transitions.concede(self._s, inp)
        self._append(EventKind.CONCESSION_GRANTED, inp.actor.name, _entry(ConcessionEntry, inp))

    @workflow.update
    def amend(self, inp: AmendInput) -> StepResult:
        self._check_step(rules.check_amend, inp)
        return self._step(self._amend, inp)

    @amend.validator
    def _check_amend(self, inp: AmendInput) -> None:
        self._check_step(rules.check_amend, inp)
        self._check_signed(Step.AMEND, inp)

    def _amend(self, inp: AmendInput) -> None:
        previous = transitions.amend(self._s, inp)
        self._append(EventKind.AMENDED, inp.actor.name, _entry(AmendEntry, inp, previous=previous))

    @workflow.update
    def link(self, inp: LinkInput) -> StepResult:
        self._check_step(rules.check_link, inp)
        return self._step(self._link_record, inp)

    @link.validator
    def _check_link(self, inp: LinkInput) -> None:
        self._check_step(rules.check_link, inp)

    def _link_record(self, inp: LinkInput) -> None:
        transitions.link(self._s, inp)
        self._append(EventKind.LINKED, inp.actor.name, step_of(LinkStep, inp))

    @workflow.update
    def root_cause(self, inp: RootCauseInput) -> StepResult:
        self._check_step(rules.check_root_cause, inp)
        return self._step(self._root_cause, inp)

    @root_cause.validator
    def _check_root_cause(self, inp: RootCauseInput) -> None:
        self._check_step(rules.check_root_cause, inp)

    def _root_cause(self, inp: RootCauseInput) -> None:
        s = self._s
        on_time = self._on_time()
        transitions.root_cause(s, inp)
        entry = _entry(RootCauseEntry, inp, cycle=s.cycle, on_time=on_time)
        self._append(EventKind.ROOT_CAUSE_SUBMITTED, inp.actor.name, entry)

    @workflow.update
    def plan(self, inp: PlanInput) -> StepResult:
        self._check_step(rules.check_plan, inp, None)
        return self._step(self._plan, inp)

    @plan.validator
    def _check_plan(self, inp: PlanInput) -> None:
        self._check_step(rules.check_plan, inp, workflow.now())

    def _plan(self, inp: PlanInput) -> None:
        s = self._s
        on_time = self._on_time()
        added = [action.id for action in transitions.plan(s, inp)]
        needs_approval = s.pending_plan is not None if s.under_current_rules else None
        entry = _entry(PlanEntry, inp, action_ids=added, needs_approval=needs_approval, on_time=on_time)
        event = self._append(EventKind.PLAN_SUBMITTED, inp.actor.name, entry)
        if s.pending_plan is not None:
            self._notify(notices.approval_needed(s, event))

    @workflow.update
    def complete_action(self, inp: CompleteActionInput) -> StepResult:
        self._check_step(rules.check_complete_action, inp)
        return self._step(self._complete_action, inp)

    @complete_action.validator
    def _check_complete_action(self, inp: CompleteActionInput) -> None:
        self._check_step(rules.check_complete_action, inp)

    def _complete_action(self, inp: CompleteActionInput) -> None:
        action = transitions.complete_action(self._s, inp)
        assert action.completed_at is not None
        on_time = action.completed_at <= action.clock.original_due_at
        self._append(EventKind.ACTION_COMPLETED, inp.actor.name, _entry(CompletionEntry, inp, on_time=on_time))

    @workflow.update
    def verify(self, inp: VerifyInput) -> StepResult:
        self._check_step(rules.check_verify, inp)
        return self._step(self._verify, inp)

    @verify.validator
    def _check_verify(self, inp: VerifyInput) -> None:
        self._check_step(rules.check_verify, inp)
        self._check_signed(Step.VERIFY, inp)

    def _verify(self, inp: VerifyInput) -> None:
        on_time = self._on_time()
        transitions.verify(self._s, inp)
        self._append(EventKind.VERIFIED, inp.actor.name, _entry(VerifyEntry, inp, on_time=on_time))

    @workflow.update
    def review(self, inp: ReviewInput) -> StepResult:
        self._check_step(rules.check_review, inp)
        return self._step(self._review, inp)

    @review.validator
    def _check_review(self, inp: ReviewInput) -> None:
        self._check_step(rules.check_review, inp)
        self._check_signed(Step.REVIEW, inp)

    def _review(self, inp: ReviewInput) -> None:
        s = self._s
        self._append(
            EventKind.EFFECTIVENESS_REVIEWED, inp.actor.name, _entry(ReviewEntry, inp, on_time=self._on_time())
        )
        if transitions.review(s, inp):
            self._append(EventKind.CLOSED, inp.actor.name, ClosedEntry(cycles=s.cycle))

    @workflow.update
    def request_extension(self, inp: ExtensionRequestInput) -> StepResult:
        self._check_step(rules.check_extension_request, inp, None)
        return self._step(self._request_extension, inp)

    @request_extension.validator
    def _check_request_extension(self, inp: ExtensionRequestInput) -> None:
        self._check_step(rules.check_extension_request, inp, workflow.now())

    def _request_extension(self, inp: ExtensionRequestInput) -> None:
        s = self._s
        clock = transitions.request_extension(s, inp)
        request = s.pending_request(inp.action_id)
        assert request is not None
        entry = ExtensionRequestEntry.model_validate(
            {
                **step_of(ExtensionRequestStep, inp).model_dump(exclude={"line"}),
                "target": inp.action_id or s.stage.value,
                "current_due_at": clock.due_at,
                "late": request.late if s.under_current_rules else None,
                "number": request.number if s.under_current_rules else None,
            }
        )
        self._append(EventKind.EXTENSION_REQUESTED, inp.actor.name, entry)

    @workflow.update
    def decide_extension(self, inp: ExtensionDecisionInput) -> StepResult:
        self._check_step(rules.check_extension_decision, inp)
        return self._step(self._decide_extension, inp)

    @decide_extension.validator
    def _check_decide_extension(self, inp: ExtensionDecisionInput) -> None:
        self._check_step(rules.check_extension_decision, inp, workflow.now())
        self._check_signed(Step.DECIDE_EXTENSION, inp)

    def _decide_extension(self, inp: ExtensionDecisionInput) -> None:
        s = self._s
        request, clock = transitions.decide_extension(s, inp)
        entry = _entry(
            ExtensionDecisionEntry,
            inp,
            target=request.action_id or s.stage.value,
            requested_by=request.requested_by,
            original_due_at=clock.original_due_at if clock else None,
            due_at=clock.due_at if clock else None,
        )
        self._append(EventKind.EXTENSION_DECIDED, inp.actor.name, entry)

    @workflow.update
    def reassign(self, inp: ReassignInput) -> StepResult:
        self._check_step(rules.check_reassign, inp)
        return self._step(self._reassign, inp)

    @reassign.validator
    def _check_reassign(self, inp: ReassignInput) -> None:
        self._check_step(rules.check_reassign, inp)

    def _reassign(self, inp: ReassignInput) -> None:
        previous = transitions.reassign(self._s, inp)
        entry = _entry(ReassignEntry, inp, target=inp.action_id or "record", previous=previous)
        self._append(EventKind.REASSIGNED, inp.actor.name, entry)

    @workflow.update
    def cancel(self, inp: CancelInput) -> StepResult:
        self._check_step(rules.check_cancel, inp)
        return self._step(self._cancel, inp)

    @cancel.validator
    def _check_cancel(self, inp: CancelInput) -> None:
        self._check_step(rules.check_cancel, inp)
        self._check_signed(Step.CANCEL, inp)

    def _cancel(self, inp: CancelInput) -> None:
        previous = transitions.cancel(self._s, inp)
        self._append(EventKind.CANCELLED, inp.actor.name, _entry(CancelEntry, inp, stage=previous))

    # A new update: records that never received it replay as before, so it needs no patch marker. It changes no
    # stage or clock; its one command is the step's ``settle_step``, like any other step's.
    @workflow.update
    def attach_file(self, inp: AttachFileInput) -> StepResult:
        self._check_step(rules.check_attach_file, inp)
        return self._step(self._attach_file, inp)

    @attach_file.validator
    def _check_attach_file(self, inp: AttachFileInput) -> None:
        self._check_step(rules.check_attach_file, inp)

    def _attach_file(self, inp: AttachFileInput) -> None:
        ref = _entry(FileRef, inp, uploaded_by=inp.actor.name, uploaded_at=workflow.now())
        self._s.files.append(ref)
        self._append(EventKind.FILE_ATTACHED, inp.actor.name, ref)

    # A new update, like ``attach_file``: records that never received it replay as before, with no patch marker.
    # It changes no stage or clock; its notice (to the people it mentions, and the watchers) goes with the step's
    # one ``settle_step``.
    @workflow.update
    def comment(self, inp: CommentInput) -> StepResult:
        self._check_step(rules.check_comment, inp)
        return self._step(self._comment, inp)

    @comment.validator
    def _check_comment(self, inp: CommentInput) -> None:
        self._check_step(rules.check_comment, inp)

    def _comment(self, inp: CommentInput) -> None:
        self._append(EventKind.COMMENTED, inp.actor.name, _entry(CommentEntry, inp, mentions=inp.mentions or []))

    # --- QMS updates that gate closure: training completions ----------------------------------------------
    # A new update, like ``comment``: records that never received it replay as before, with no patch marker.

    @workflow.update
    def record_training(self, inp: RecordTrainingInput) -> StepResult:
        self._check_step(rules.check_record_training, inp)
        return self._step(self._record_training, inp)

    @record_training.validator
    def _check_record_training(self, inp: RecordTrainingInput) -> None:
        self._check_step(rules.check_record_training, inp)

    def _record_training(self, inp: RecordTrainingInput) -> None:
        action = self._s.action(inp.action_id)
        assert action is not None
        action.details = qms.merge(action.details, qms.QmsDetails(completions=inp.people))
        assert action.details is not None
        entry = _entry(TrainingEntry, inp, progress=qms.training_progress(action.details))
        self._append(EventKind.TRAINING_RECORDED, inp.actor.name, entry)

    # --- recurrence: a system step ------------------------------------------------------------------------
    # A new update, like ``comment``: records that never received it replay as before, with no patch marker.
    # A sentinel that fired, or the watch of an effectiveness window, sends it with the new nonconformities' ids.

    @workflow.update
    def recurrence(self, inp: RecurrenceInput) -> StepResult:
        self._check_recurrence(inp)
        return self._step(self._recurrence, inp)

    @recurrence.validator
    def _check_recurrence(self, inp: RecurrenceInput) -> None:
        # A system step: no actor, so not ``_check_step``'s shape, but the same checks.
        self._check_open()
        guard(rules.check_recurrence, self._s, inp)

    def _recurrence(self, inp: RecurrenceInput) -> None:
        s = self._s
        assert s.policy is not None
        target: str | None = None
        level: int | None = None
        review_due_at = None
        clocks = s.open_clocks()
        if inp.escalate and clocks:
            # The stage's own deadline, else the soonest action's, one level up; the alarm's own ring for that level
            # is then refused as rung, and the next rings on time.
            action_id, clock = clocks[0] if s.clock is not None else min(clocks, key=lambda held: held[1].due_at)
            clock.escalation_level += 1
            target, level = action_id or s.stage.value, clock.escalation_level
        window = s.effectiveness_due_at
        if inp.bring_review_forward and s.stage is Stage.EFFECTIVENESS and s.clock is None and window is not None:
            # The window ends now and the review falls due from now; the window's alarm stops with this step.
            now = workflow.now()
            s.effectiveness_due_at = min(window, now)
            s.clock = new_clock(s.owner, s.policy.rules.effectiveness_review, start=now, calendar=s.calendar)
            review_due_at = s.clock.due_at
        entry = RecurrenceEntry.model_validate(
            {**inp.model_dump(), "target": target, "level": level, "review_due_at": review_due_at}
        )
        event = self._append(EventKind.RECURRENCE_DETECTED, SYSTEM_ACTOR, entry)
        self._notify(notices.recurrence(s, event))

    # --- alarms ---------------------------------------------------------------------------------------------

    @workflow.update
    def alarm(self, inp: AlarmInput) -> StepResult:
        """A reminder, an escalation or the end of the effectiveness window, rung by the clock's alarm workflow."""
        self._check_alarm(inp)
        # The alarm workflow needs no snapshot: it writes nothing to the read model.
        return self._step(self._ring, inp).model_copy(update={"snapshot": None})

    @alarm.validator
    def _validate_alarm(self, inp: AlarmInput) -> None:
        # Only the validator looks at the stage: a ring already on its way when the record ended is refused (unless
        # it records an escalation that fell due before the last step), and validators do not run on replay, so
        # records that accepted one before this check still replay.
        s = self._s
        if not s.stage.is_open and not (self._settles and inp.alarm in s.retired_clocks):
            raise refusal(ALARM_STALE, f"{s.id} is {s.stage.value}: alarm {inp.alarm} no longer applies")
        self._check_alarm(inp)

    def _check_alarm(self, inp: AlarmInput) -> None:
        self._check_open()
        s = self._s
        if inp.kind is AlarmKind.EFFECTIVENESS_DUE:
            if s.effectiveness_due_at is None or s.clock is not None or s.effectiveness_alarm != inp.alarm:
                raise refusal(ALARM_STALE, f"alarm {inp.alarm} no longer applies to {s.id}")
            return
        found = self._clock_of(inp.alarm)
        if found is None:
            if not self._overtaken_levels(inp):
                raise refusal(ALARM_STALE, f"alarm {inp.alarm} no longer applies to {s.id}")
            return
        _, clock = found
        if clock.paused_at is not None:  # honest pauses: a ring already on its way when the clock paused
            raise refusal(ALARM_STALE, f"alarm {inp.alarm} of {s.id} no longer applies: its clock is paused")
        if inp.kind is AlarmKind.REMINDER:
            rung = clock.reminders_sent >= inp.index
        else:
            rung = clock.escalation_level >= inp.level
        if rung:
            raise refusal(ALARM_RUNG, f"alarm {inp.alarm} of {s.id} has already rung")

    def _ring(self, inp: AlarmInput) -> None:
        s = self._s
        assert s.policy is not None
        if inp.kind is AlarmKind.EFFECTIVENESS_DUE:
            # The review falls due a fixed time after the window ends, however late the alarm rang.
            s.clock = new_clock(
                s.owner, s.policy.rules.effectiveness_review, start=inp.scheduled_at, calendar=s.calendar
            )
            due = EffectivenessDueEntry(review_due_at=s.clock.due_at)
            event = self._append(EventKind.EFFECTIVENESS_DUE, SYSTEM_ACTOR, due)
            self._notify(notices.effectiveness_due(s, event))
            return
        found = self._clock_of(inp.alarm)
        if found is None:
            self._ring_overtaken(inp)
            return
        action_id, clock = found
        rung = ReminderEntry(
            target=action_id or s.stage.value,
            holder=clock.holder,
            due_at=clock.due_at,
            scheduled_at=inp.scheduled_at,
            recipients=[clock.holder],
        )
        if inp.kind is AlarmKind.REMINDER:
            clock.reminders_sent = inp.index
            event = self._append(EventKind.REMINDER_SENT, SYSTEM_ACTOR, rung)
            self._notify(notices.reminder(s, event, clock, inp.scheduled_at))
            return
        # A ring retried after levels below it rang stands only for the levels that had not.
        levels = [level for level in inp.covers or [inp.level] if level > clock.escalation_level]
        clock.escalation_level = inp.level
        # An escalation comes after the due time, so every reminder before it is spent.
        clock.reminders_sent = max(clock.reminders_sent, len(reminder_times(clock, s.policy.rules, s.calendar)))
        late = format_duration(max(workflow.now(), inp.scheduled_at) - clock.due_at)
        escalation = EscalationEntry(
            **rung.model_dump(exclude={"recipients"}),
            recipients=_reached(inp, levels),
            level=inp.level,
            late_by=late,
            levels=levels if len(levels) > 1 else None,
        )
        event = self._append(EventKind.ESCALATED, SYSTEM_ACTOR, escalation)
        self._notify(notices.escalation(s, event, clock, late))

    def _overtaken_levels(self, inp: AlarmInput) -> list[int]:
        """The escalation levels of a retired clock that fell due before the step that ended it and have not
        rung: a ring that arrives after such a step still records them."""
        retired = self._s.retired_clocks.get(inp.alarm)
        if retired is None or inp.kind is not AlarmKind.ESCALATION:
            return []
        assert self._s.policy is not None
        times = escalation_times(retired.clock, self._s.policy.rules, self._s.calendar)
        return [
            level
            for level in inp.covers or [inp.level]
            if retired.clock.escalation_level < level <= len(times) and times[level - 1] < retired.ended_at
        ]

    def _ring_overtaken(self, inp: AlarmInput) -> None:
        s = self._s
        levels = self._overtaken_levels(inp)
        retired = s.retired_clocks[inp.alarm]
        clock = retired.clock
        assert s.policy is not None
        # The entry stands for the highest level that fell due before the step, and says when that one was due.
        scheduled_at = escalation_times(clock, s.policy.rules, s.calendar)[max(levels) - 1]
        clock.escalation_level = max(levels)
        late = format_duration(retired.ended_at - clock.due_at)
        escalation = EscalationEntry(
            target=retired.target,
            holder=clock.holder,
            due_at=clock.due_at,
            scheduled_at=scheduled_at,
            recipients=_reached(inp, levels),
            level=clock.escalation_level,
            late_by=late,
            levels=levels if len(levels) > 1 else None,
            step_done_at=retired.ended_at,
        )
        event = self._append(EventKind.ESCALATED, SYSTEM_ACTOR, escalation)
        self._notify(notices.escalation(s, event, clock, late, done=True))
        self._retire_if_due(inp.alarm, retired)

    def _retire_if_due(self, alarm: int, retired: RetiredClock) -> None:
        """Keep a retired clock only while one of its escalations fell due before it ended and has not rung."""
        s = self._s
        assert s.policy is not None
        times = escalation_times(retired.clock, s.policy.rules, s.calendar)
        if any(at < retired.ended_at for at in times[retired.clock.escalation_level :]):
            s.retired_clocks[alarm] = retired
        else:
            s.retired_clocks.pop(alarm, None)

    def _clock_of(self, alarm: int) -> tuple[str | None, Clock] | None:
        return next(((a, c) for a, c in self._s.open_clocks() if c.alarm == alarm), None)

    # --- the shape of every step ----------------------------------------------------------------------------

    def _on_time(self) -> bool | None:
        """Under the current rules, whether the stage's own step is taken by its clock's original due (an
        extension does not make a late step on time); None under the earlier rules, or with no clock running."""
        s = self._s
        if not s.under_current_rules or s.clock is None:
            return None
        return workflow.now() <= s.clock.original_due_at

    def _check_open(self) -> None:
        if self._continuing:
            raise ApplicationError(
                f"{self._s.id} is moving to a new run of its workflow; try again in a moment",
                type=RECORD_MOVING,
                non_retryable=True,
            )
        update = workflow.current_update_info()
        if update is not None and update.id in self._carried_updates:
            raise refusal(STEP_REPEATED, f"step {update.id} was already applied to {self._s.id}")

    def _check_step(self, check: Callable[..., None], inp: InputT, *args: Any) -> None:
        """Validator and handler alike: the handler checks again, because of two steps handed over in one task
        the second is validated before the first has run. The handler passes no clock (see ``rules.check_plan``)."""
        self._check_open()
        guard(check, self._s, inp, *args)

    def _check_signed(self, step: Step, inp: SignedInput) -> None:
        """A signed step's signature: its taker's, with the step's meaning, made on this content of this record.

        Only validators check it. It depends on the step's input alone, so the handler's re-check (for two steps
        handed over in one task) would find nothing new; and validators do not run on replay, so records that
        accepted unsigned steps before signatures existed replay unchanged, with no patch: a refused update leaves
        nothing in history."""
        guard(rules.check_signature, self._s.id, step, inp)

    def _step(self, apply: Callable[[ChangeT], None], inp: ChangeT) -> StepResult:
        """Apply a step, then emit its commands: start the alarms its new clocks need, update the search attributes
        it changed and publish its entries (with the alarms' numbers in the state). Nothing here awaits."""
        s = self._s
        first = len(s.events)
        in_use = self._alarms_in_use()
        running = {
            clock.alarm: (target or s.stage.value, clock.model_copy())
            for target, clock in s.open_clocks()
            if clock.paused_at is None  # honest pauses: a paused clock's alarm was stopped when it paused
        }
        apply(inp)
        self._notify_steps(first)
        live = {clock.alarm for _, clock in s.open_clocks()}
        for alarm, (target, clock) in running.items():
            if alarm and alarm not in live:
                self._retire_if_due(alarm, RetiredClock(target=target, clock=clock, ended_at=workflow.now()))
        update = workflow.current_update_info()
        if update is not None:
            self._recent_updates.append(update.id)
        # The alarms of clocks this step ended stop now; the one ringing, if any, ends by itself.
        ringing = {inp.alarm} if isinstance(inp, AlarmInput) else set()
        ended = in_use - self._alarms_in_use() - ringing
        snapshot, change = self._effects(first, stop=sorted(ended))
        info = workflow.info()
        if info.is_continue_as_new_suggested() or info.get_current_history_length() >= self._max_events:
            # Keep history bounded for records that stay open for months; ``run`` carries the state over.
            self._continuing = True
        return StepResult(
            record_id=s.id, stage=s.stage, seq=len(s.events), due_at=s.due_at, snapshot=snapshot, change=change
        )

    def _append(self, kind: EventKind, actor: str, details: Payload) -> Event:
        """Add the next entry; once the chain has started, with its hash (a record in flight starts it first)."""
        s = self._s
        if not self._chained():
            return transitions.append(s, kind, actor, details)
        if s.chain_head is None and s.events:
            sealed = chain.seal(s.id, s.events)
            started = transitions.append(s, EventKind.CHAIN_STARTED, SYSTEM_ACTOR, ChainStartedEntry(sealed=sealed))
            self._link(started, sealed[-1])
        event = transitions.append(s, kind, actor, details)
        self._link(event, s.chain_head or chain.GENESIS)
        return event

    def _chained(self) -> bool:
        s = self._s
        if s.chain_head is not None:
            return True
        if not s.events:
            return workflow.patched(_CHAINED)
        return workflow.patched(f"{_CHAINED_AT}-{len(s.events) + 1}")

    def _link(self, event: Event, previous: str) -> None:
        event.hash = chain.event_hash(self._s.id, event, previous)
        self._s.chain_head = event.hash

    # --- commands -------------------------------------------------------------------------------------------

    def _start(self, activity: Any, arg: Any, heartbeat: timedelta | None = None, retry: RetryPolicy = _RETRY) -> None:
        """Start an activity without awaiting it; its result is bookkeeping only (see the module docstring)."""
        handle = workflow.start_activity_method(
            activity, arg, start_to_close_timeout=_TIMEOUT, heartbeat_timeout=heartbeat, retry_policy=retry
        )
        self._pending.add(handle)
        handle.add_done_callback(self._settled)

    def _settled(self, handle: asyncio.Future[Any]) -> None:
        self._pending.discard(handle)
        if not handle.cancelled() and (error := handle.exception()) is not None:
            workflow.logger.warning("an activity of %s failed: %s", self._s.id, error, extra={"record_id": self._s.id})

    def _effects(self, first: int, stop: list[int]) -> tuple[RecordSnapshot | None, RecordChange | None]:
        """Emit what a step sets going: the alarms of its new clocks, the search attributes it changed and what
        the read model needs (returned), with the step's notices and the alarms to ``stop`` in one
        ``settle_step`` activity. Records started before it have an activity each, and a whole snapshot."""
        s = self._s
        schedules = self._arm()
        if schedules and not self._settles:
            self._start(AlarmActivities.arm_alarms, ArmAlarmsInput(record_id=s.id, start=schedules))
        self._index()
        if not self._settles:
            whole = RecordSnapshot.of(s, first)
            self._start(RecordActivities.record_state, whole)
            return whole, None
        snapshot, change = self._for_read_model(first)
        effects = StepEffects(
            record_id=s.id,
            snapshot=snapshot,
            change=change,
            notices=self._notices,
            notices_decided=True,
            start=schedules,
            stop=stop,
        )
        self._notices = []
        self._start(StepActivities.settle_step, effects, heartbeat=_SETTLE_HEARTBEAT, retry=_SETTLE_RETRY)
        return snapshot, change

    def _for_read_model(self, first: int) -> tuple[RecordSnapshot | None, RecordChange | None]:
        """What the read model needs after a step: what changed since this run's last publish, or the whole
        state with the entries from ``first`` on when this run has published nothing yet."""
        s = self._s
        fields = s.model_dump(mode="json", exclude={"events", "actions"})
        actions = {a.id: a.model_dump(mode="json") for a in s.actions}
        published, self._published = self._published, (fields, actions, len(s.events))
        if published is None or len(s.events) == published[2]:
            return RecordSnapshot.of(s, first), None
        before, acted, after = published
        change = RecordChange(
            record_id=s.id,
            after=after,
            fields={name: value for name, value in fields.items() if before.get(name, _UNSET) != value},
            actions=[a for a in s.actions if acted.get(a.id) != actions[a.id]],
            new_events=s.events[after:],
        )
        return None, change

    def _notify_steps(self, first: int) -> None:
        """The notices of the people's steps among the entries from ``first`` on (records started before one
        activity settled each step leave them to ``record_state``)."""
        if self._settles:
            for event in self._s.events[first:]:
                if event.actor != SYSTEM_ACTOR:
                    self._notify(notices.for_step(self._s, event))

    def _notify(self, notice: Notice | None) -> None:
        if notice is None:
            return
        if self._settles:
            self._notices.append(notice)  # sent by the step's ``settle_step``
        else:
            self._start(NotificationActivities.send_notice, notice)

    def _alarms_in_use(self) -> set[int]:
        """The alarm workflows that may still ring this record: its running clocks', the effectiveness window's
        while it runs, and those of ended clocks with an escalation that fell due before they ended."""
        s = self._s
        # Honest pauses: a paused clock's alarm is not in use (it stops; a new one is armed on resume).
        used = {clock.alarm for _, clock in s.open_clocks() if clock.paused_at is None} | set(s.retired_clocks)
        if s.effectiveness_due_at is not None and s.clock is None:
            used.add(s.effectiveness_alarm)
        return used - {0}

    def _arm(self) -> list[AlarmSchedule]:
        """Number a new alarm for every clock that has none (a clock that changed has had its alarm reset) and
        return their schedules, for the step to start."""
        s = self._s
        assert s.policy is not None
        schedules = []
        if s.stage.is_open:
            for action_id, clock in s.open_clocks():
                if not clock.alarm and clock.paused_at is None:
                    s.alarms_started += 1
                    clock.alarm = s.alarms_started
                    alarms = clock_schedule(clock, s.policy.rules, s.calendar)
                    schedules.append(
                        AlarmSchedule(
                            record_id=s.id, alarm=clock.alarm, target=action_id, holder=clock.holder, alarms=alarms
                        )
                    )
            window = s.effectiveness_due_at
            if s.stage is Stage.EFFECTIVENESS and s.clock is None and window is not None and not s.effectiveness_alarm:
                s.alarms_started += 1
                s.effectiveness_alarm = s.alarms_started
                due = PlannedAlarm(at=window, kind=AlarmKind.EFFECTIVENESS_DUE)
                schedules.append(AlarmSchedule(record_id=s.id, alarm=s.effectiveness_alarm, alarms=[due]))
        return schedules

    def _index(self) -> None:
        """Upsert the search attributes that changed since this run last set them."""
        if updates := transitions.index_updates(self._s, self._indexed):
            workflow.upsert_search_attributes(updates)

    # --- procedure-version pinning ----------------------------------------------------------------------------
    # Quality moves the record to the procedure and policy in force (signed). Running clocks and their alarms are
    # kept; only windows started afterwards follow the new policy.

    @workflow.update
    def move_procedure(self, inp: MoveProcedureInput) -> StepResult:
        self._check_step(rules.check_move_procedure, inp)
        return self._step(self._move_procedure, inp)

    @move_procedure.validator
    def _check_move_procedure(self, inp: MoveProcedureInput) -> None:
        self._check_step(rules.check_move_procedure, inp)
        self._check_signed(Step.MOVE_PROCEDURE, inp)

    def _move_procedure(self, inp: MoveProcedureInput) -> None:
        entry = transitions.move_procedure(self._s, inp)
        self._append(EventKind.PROCEDURE_MOVED, inp.actor.name, entry)

    # --- honest pauses ----------------------------------------------------------------------------------------
    # The holder asks, quality decides (signed), the holder or quality resumes. A paused clock keeps its alarm
    # number but is not in use, so the step stops its alarm workflow; resume clears the number and a new alarm is
    # armed for the clock's new due.

    @workflow.update
    def request_pause(self, inp: PauseRequestInput) -> StepResult:
        self._check_step(rules.check_pause_request, inp, None)
        return self._step(self._request_pause, inp)

    @request_pause.validator
    def _check_request_pause(self, inp: PauseRequestInput) -> None:
        self._check_step(rules.check_pause_request, inp, workflow.now())

    def _request_pause(self, inp: PauseRequestInput) -> None:
        s = self._s
        clock = s.clock_for(inp.action_id)
        assert clock is not None
        s.pending_pauses = [r for r in s.pending_pauses if r.action_id != inp.action_id]
        s.pending_pauses.append(
            PauseRequest(
                action_id=inp.action_id,
                stage=s.stage.value,
                requested_by=inp.actor.name,
                requested_at=workflow.now(),
                waiting_on=inp.waiting_on,
                expected_until=inp.expected_until,
                reason=inp.reason,
            )
        )
        entry = PauseRequestEntry.model_validate(
            {
                **step_of(PauseRequestStep, inp).model_dump(),
                "target": inp.action_id or s.stage.value,
                "due_at": clock.due_at,
            }
        )
        self._append(EventKind.PAUSE_REQUESTED, inp.actor.name, entry)

    @workflow.update
    def decide_pause(self, inp: PauseDecisionInput) -> StepResult:
        self._check_step(rules.check_pause_decision, inp)
        return self._step(self._decide_pause, inp)

    @decide_pause.validator
    def _check_decide_pause(self, inp: PauseDecisionInput) -> None:
        self._check_step(rules.check_pause_decision, inp, workflow.now())
        self._check_signed(Step.DECIDE_PAUSE, inp)

    def _decide_pause(self, inp: PauseDecisionInput) -> None:
        s = self._s
        request = rules.pending_pause(s, inp.action_id)
        assert request is not None
        s.pending_pauses = [r for r in s.pending_pauses if r is not request]
        remaining = None
        if inp.approve:
            clock = s.clock_for(inp.action_id)
            assert clock is not None
            paused = pauses.pause_clock(
                clock,
                workflow.now(),
                self._working_calendar(),
                waiting_on=request.waiting_on,
                expected_until=request.expected_until,
            )
            self._set_clock(inp.action_id, paused)
            remaining = paused.remaining
        entry = _entry(
            PauseDecisionEntry,
            inp,
            target=request.action_id or s.stage.value,
            requested_by=request.requested_by,
            waiting_on=request.waiting_on,
            expected_until=request.expected_until,
            remaining=remaining,
        )
        self._append(EventKind.PAUSE_DECIDED, inp.actor.name, entry)

    @workflow.update
    def resume(self, inp: ResumeInput) -> StepResult:
        self._check_step(rules.check_resume, inp)
        return self._step(self._resume, inp)

    @resume.validator
    def _check_resume(self, inp: ResumeInput) -> None:
        self._check_step(rules.check_resume, inp)

    def _resume(self, inp: ResumeInput) -> None:
        s = self._s
        clock = s.clock_for(inp.action_id)
        assert clock is not None
        assert clock.paused_at is not None
        now = workflow.now()
        resumed = pauses.resume_clock(clock, now, s.calendar).model_copy(update={"alarm": 0})
        self._set_clock(inp.action_id, resumed)
        entry = _entry(
            ResumeEntry,
            inp,
            target=inp.action_id or s.stage.value,
            paused_at=clock.paused_at,
            paused_for=now - clock.paused_at,
            due_at=resumed.due_at,
            waiting_on=clock.waiting_on,
        )
        self._append(EventKind.RESUMED, inp.actor.name, entry)

    def _working_calendar(self) -> WorkCalendar | None:
        """The record's calendar when its current stage's window counts working time (else calendar time)."""
        s = self._s
        if s.calendar is None or s.policy is None:
            return None
        window = s.policy.rules.stage_window(s.stage)
        return s.calendar if isinstance(window, WorkingSpan) else None

    def _set_clock(self, action_id: str | None, clock: Clock) -> None:
        s = self._s
        if action_id is None:
            s.clock = clock
            return
        action = s.action(action_id)
        assert action is not None
        action.clock = clock
