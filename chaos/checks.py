"""What a chaos run must leave behind, checked record by record against Temporal and the read model.

Each check returns how many things it looked at and every failure, described so that someone can go and look.
"""

import asyncio
import re
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select
from temporalio.api.enums.v1 import EventType, WorkflowTaskFailedCause
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowHandle, WorkflowHistory, WorkflowQueryFailedError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError
from temporalio.worker import Replayer

from activities.digest import DIGEST_PREFIX
from chaos.lifecycle import STOPPED, LifecycleResult, StepSent, Timings
from chaos.outage import Window
from core import readmodel
from models.enums import ActionStatus, Channel, EventKind, OutboxStatus, Stage
from models.payloads import SYSTEM_ACTOR, CapaState, Event
from models.tables import Nonconformity, OutboxMessage
from worker import WORKFLOWS
from workflows.capa import CapaWorkflow
from workflows.record import RecordWorkflow

# An escalation due within this much of the step that ended its clock may or may not have fired: either is right.
_TOLERANCE = timedelta(seconds=1)
_QUERY_TIMEOUT = timedelta(seconds=20)
# A step sent this close to the database's return may be accepted just after it: it proves nothing either way.
_SETTLE = timedelta(seconds=2)
# The timeline entry each step writes, to find when the workflow accepted it.
_STEP_EVENTS = {
    "contain": EventKind.CONTAINMENT_SUBMITTED,
    "triage": EventKind.TRIAGED,
    "root cause": EventKind.ROOT_CAUSE_SUBMITTED,
    "plan": EventKind.PLAN_SUBMITTED,
    "approve plan": EventKind.PLAN_DECIDED,
    "verify": EventKind.VERIFIED,
    "review": EventKind.EFFECTIVENESS_REVIEWED,
    "cancel": EventKind.CANCELLED,
}
# Workflow task failures the faults themselves explain; anything else is a bug in the workflow or the worker.
_EXPLAINED_TASK_FAILURES: frozenset[str] = frozenset()
# A non-determinism error the Temporal SDK causes rather than the workflow code: a step (an update) and an
# activity's result or a timer arrived in one workflow task; the live worker handed them to the workflow one after
# the other, the result first, while a replay of the same history hands over both at once and applies the step
# first (temporalio/sdk-python#1591). Such a failure still fails the run; it is named.
_SDK_UPDATE_ORDER_CAUSE = (
    "a step and an activity result or timer arrived in one workflow task; the SDK applies them in another order "
    "on replay than it did live (temporalio/sdk-python#1591)"
)
_DIVERGED_AT = re.compile(r"HistoryEvent\(id: (\d+)")
_REFUSED_APPLIED = re.compile(r"for Update (\S+): received \*update\.Rejection message while in state Completed")
_TASK_ENDS = {
    EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT,
}
_WAKERS = {EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED, EventType.EVENT_TYPE_TIMER_FIRED}


@dataclass
class Check:
    name: str
    checked: int = 0
    failures: list[str] = field(default_factory=list)
    detail: str = ""
    # Deviations traced to a known cause outside capaflow: shown and counted, but they do not fail the run.
    known: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures


@dataclass
class EscalationTally:
    due: int = 0  # due before the step was sent: must have fired exactly once
    fired: int = 0  # ESCALATED timeline entries
    optional: int = 0  # due within the tolerance of the step: may have fired
    outbox_rows: int = 0  # log-channel rows of those entries, each sent


@dataclass
class TaskTally:
    timed_out: int = 0  # workflow tasks lost with a killed worker (or a restarting server)
    activities_retried: int = 0  # activities that needed more than one attempt (killed worker, database down)
    failed: Counter[str] = field(default_factory=Counter)  # by cause
    # Of those, tasks that failed only on a worker's cached copy of the workflow and completed when replayed.
    healed: int = 0


@dataclass
class Evidence:
    """Everything the checks read, gathered once after the run."""

    states: dict[str, CapaState]
    unreadable: dict[str, str]  # records whose workflow did not answer its query, and why
    histories: list[WorkflowHistory]
    temporal_ids: Counter[str]
    stored_ids: set[str]


async def gather(client: Client, engine: Engine, results: list[LifecycleResult]) -> Evidence:
    """Every record's live state, every workflow history in the namespace and the read model's record ids."""
    states: dict[str, CapaState] = {}
    unreadable: dict[str, str] = {}
    for result in results:
        if result.record_id is not None:
            try:
                states[result.record_id] = await query_state(client, result.record_id)
            except (RPCError, WorkflowQueryFailedError) as exc:
                unreadable[result.record_id] = str(exc).splitlines()[0][:300]
    histories = []
    temporal_ids: Counter[str] = Counter()
    async for execution in client.list_workflows():
        if execution.workflow_type in (CapaWorkflow.__name__, "CapaRecord"):
            temporal_ids[execution.id] += 1
        handle = client.get_workflow_handle(execution.id, run_id=execution.run_id)
        histories.append(await handle.fetch_history())
    with Session(engine) as session:
        stored_ids = set(session.exec(select(col(Nonconformity.id))))
    return Evidence(states, unreadable, histories, temporal_ids, stored_ids)


async def query_state(client: Client, record_id: str, within: float = 120) -> CapaState:
    """The workflow's own state; retried while a restarted worker picks the record up again."""
    deadline = time.monotonic() + within
    handle = client.get_workflow_handle_for(RecordWorkflow.run, record_id)
    while True:
        try:
            return await handle.query(RecordWorkflow.state, rpc_timeout=_QUERY_TIMEOUT)
        except (RPCError, WorkflowQueryFailedError) as exc:
            # A workflow stopped on a failed task answers no query until someone repairs it: no use waiting.
            if STOPPED in str(exc) or time.monotonic() > deadline or await _stopped(handle):
                raise
        await asyncio.sleep(1)


async def _stopped(handle: WorkflowHandle[Any, Any]) -> bool:
    """Whether the workflow's last task failed (a task lost with a killed worker times out instead)."""
    last = None
    async for event in handle.fetch_history_events():
        if event.event_type in _TASK_ENDS:
            last = event.event_type
    return last == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED


def expected_stages(results: list[LifecycleResult], evidence: Evidence) -> Check:
    check = Check("every record reached its expected stage", len(results))
    reached: Counter[str] = Counter()
    for result in results:
        state = evidence.states.get(result.record_id or "")
        if result.error is not None:
            check.failures.append(f"record #{result.plan.number} ({result.record_id}): {result.error}")
        elif result.record_id in evidence.unreadable:
            check.failures.append(
                f"{result.record_id}: its workflow cannot answer: {evidence.unreadable[result.record_id]}"
            )
        elif state is None or state.stage is not result.plan.expected_stage:
            stage = state.stage.value if state else "missing"
            check.failures.append(f"{result.record_id}: {stage}, expected {result.plan.expected_stage.value}")
        if state is not None:
            reached[state.stage.value] += 1
    check.detail = ", ".join(f"{count} {stage}" for stage, count in sorted(reached.items()))
    return check


def nothing_lost_or_doubled(results: list[LifecycleResult], evidence: Evidence) -> Check:
    """The same records in the driver's hands, in Temporal (one workflow each) and in the read model."""
    driven = Counter(r.record_id for r in results if r.record_id is not None)
    check = Check("no record lost or doubled (driver = Temporal = read model)", len(driven))
    check.failures += [f"{rid} was handed out {n} times" for rid, n in driven.items() if n > 1]
    check.failures += [f"{rid} has {n} workflow runs" for rid, n in evidence.temporal_ids.items() if n > 1]
    for rid in sorted(set(driven) - set(evidence.temporal_ids)):
        check.failures.append(f"{rid} has no workflow")
    for rid in sorted(set(evidence.temporal_ids) - set(driven)):
        check.failures.append(f"{rid} runs in Temporal but was never handed to anyone")
    for rid in sorted(set(driven) ^ evidence.stored_ids):
        where = "read model only" if rid in evidence.stored_ids else "missing from the read model"
        check.failures.append(f"{rid}: {where}")
    check.detail = f"{len(driven)} driven, {len(evidence.temporal_ids)} workflows, {len(evidence.stored_ids)} rows"
    return check


def every_step_once(results: list[LifecycleResult], evidence: Evidence) -> Check:
    """A gap-free timeline with each step of the lifecycle exactly once."""
    check = Check("every step in the timeline exactly once, no gaps")
    for result in results:
        state = evidence.states.get(result.record_id or "")
        if state is None:
            continue
        check.checked += 1
        seqs = [e.seq for e in state.events]
        if seqs != list(range(1, len(seqs) + 1)):
            check.failures.append(f"{state.id}: timeline numbered {seqs}")
        kinds = Counter(e.kind for e in state.events)
        expected = {EventKind.RAISED: 1, EventKind.CONTAINMENT_SUBMITTED: 1}
        if result.plan.cancel:
            expected |= {EventKind.CANCELLED: 1, EventKind.TRIAGED: 0}
        else:
            # Quality approves the plan where the class's rules (pinned with the record) ask it to.
            approval = state.policy is not None and state.policy.rules.plan_approval
            expected |= {
                EventKind.TRIAGED: 1,
                EventKind.ROOT_CAUSE_SUBMITTED: 1,
                EventKind.PLAN_SUBMITTED: 1,
                EventKind.PLAN_DECIDED: int(approval),
                EventKind.ACTION_COMPLETED: result.plan.actions,
                EventKind.VERIFIED: 1,
                EventKind.EFFECTIVENESS_DUE: 1,
                EventKind.EFFECTIVENESS_REVIEWED: 1,
                EventKind.CLOSED: 1,
            }
        for kind, count in expected.items():
            if kinds[kind] != count:
                check.failures.append(f"{state.id}: {kinds[kind]} x {kind.value}, expected {count}")
    return check


def escalations_once(
    results: list[LifecycleResult], evidence: Evidence, engine: Engine, timings: Timings
) -> tuple[Check, Check, EscalationTally]:
    """Each escalation due before its step was sent fired exactly once; none fired after the step.

    And each fired one is in the outbox exactly once per recipient, sent; the outbox holds nothing else.
    """
    timeline = Check("every due escalation fired exactly once, none after its step")
    outbox = Check("every escalation in the outbox once per recipient, sent; no stray row")
    tally = EscalationTally()
    offsets = [timedelta(seconds=s) for s in timings.escalate_after]
    for result in results:
        state = evidence.states.get(result.record_id or "")
        if state is None:
            continue
        escalations = [e for e in state.events if e.kind is EventKind.ESCALATED]
        tally.fired += len(escalations)
        matched: set[int] = set()
        for step in result.steps:
            if step.target is None or step.due_at is None:
                continue
            timeline.checked += 1
            ended = _ending_event(state, step)
            if ended is None:
                timeline.failures.append(f"{state.id}: no timeline entry for {step.step}")
                continue
            # Each clock runs once per lifecycle here (one cycle, one round), so its target names it.
            mine = [e for e in escalations if e.facts().get("target") == step.target]
            matched.update(e.seq for e in mine)
            # An escalation standing for levels that fell due together (after an outage) counts for each of them.
            levels = Counter(int(level) for e in mine for level in e.facts().get("levels", [e.facts()["level"]]))
            for level, offset in enumerate(offsets, start=1):
                alarm = step.due_at + offset
                if alarm < step.sent_at:
                    tally.due += 1
                    if levels[level] != 1:
                        timeline.failures.append(
                            f"{state.id} {step.target} level {level}: due {alarm:%H:%M:%S}, before the step was "
                            f"sent at {step.sent_at:%H:%M:%S}, fired {levels[level]} times"
                        )
                elif levels[level] > 1 or (alarm > ended.at + _TOLERANCE and levels[level]):
                    timeline.failures.append(
                        f"{state.id} {step.target} level {level}: fired {levels[level]} times; due "
                        f"{alarm:%H:%M:%S}, step accepted {ended.at:%H:%M:%S}"
                    )
                else:
                    tally.optional += 1 if levels[level] else 0
            # An escalation that fell due before the step but rang after it is recorded after it, saying when the
            # step was done; any other after the step is wrong.
            late = [
                e
                for e in mine
                if e.seq > ended.seq
                and not ("step_done_at" in e.facts() and datetime.fromisoformat(e.facts()["scheduled_at"]) < ended.at)
            ]
            timeline.failures += [f"{state.id} {step.target}: escalated (seq {e.seq}) after its step" for e in late]
        stray = [e for e in escalations if e.seq not in matched]
        timeline.failures += [f"{state.id}: escalation seq {e.seq} of no clock the driver ended" for e in stray]
    _check_outbox(engine, evidence, outbox, tally)
    timeline.detail = f"{tally.due} due, {tally.fired} fired ({tally.optional} due as the step landed)"
    outbox.detail = f"{tally.outbox_rows} log rows for {tally.fired} escalations"
    return timeline, outbox, tally


def _check_outbox(engine: Engine, evidence: Evidence, check: Check, tally: EscalationTally) -> None:
    with Session(engine) as session:
        rows = list(session.exec(select(OutboxMessage)))
    by_event: dict[tuple[str, int], list[OutboxMessage]] = defaultdict(list)
    # A run that spans the site's digest time also queues that day's digest: a notice of no record.
    for row in rows:
        if not row.record_id.startswith(DIGEST_PREFIX):
            by_event[(row.record_id, row.seq)].append(row)
    events = {(s.id, e.seq): e for s in evidence.states.values() for e in s.events}
    for key in by_event:
        if key not in events:
            check.failures.append(f"outbox rows for {key[0]} seq {key[1]}, which is in no timeline")
    for (rid, seq), event in events.items():
        if event.kind is not EventKind.ESCALATED:
            continue
        check.checked += 1
        logged = Counter(r.recipient for r in by_event.get((rid, seq), []) if r.channel == Channel.LOG.value)
        tally.outbox_rows += sum(logged.values())
        wanted = Counter(dict.fromkeys(event.facts().get("recipients", []), 1))
        if logged != wanted:
            check.failures.append(f"{rid} seq {seq}: outbox has {dict(logged)}, the timeline names {dict(wanted)}")
        unsent = [r for r in by_event.get((rid, seq), []) if r.status != OutboxStatus.SENT.value]
        check.failures += [f"{rid} seq {seq}: {r.recipient} via {r.channel} is {r.status}" for r in unsent]


def read_model_matches(engine: Engine, evidence: Evidence) -> Check:
    """The read model's row, actions and timeline say exactly what the workflow's query says.

    One difference is set apart: instants alone. The worker that picks a record up after a killed worker or a
    restarted server can run its first activation with the clock of an earlier workflow task (the Temporal
    SDK's ``workflow.now()`` is stale there); a replay later sees the true one. capaflow publishes what the
    workflow computed, so the read model keeps the stale instant.
    """
    check = Check("read model equals each workflow's query state", len(evidence.states))
    for rid, state in evidence.states.items():
        stored = readmodel.load_record_state(engine, rid)
        if stored is None:
            check.failures.append(f"{rid}: no row")
            continue
        differing = list(_differences(state.model_dump(mode="json"), stored.model_dump(mode="json"), ""))
        instants = [path for path, live, kept in differing if _instant(live) and _instant(kept)]
        # An escalation's "late by" is its instant less the due time: it moves with the instant.
        instants += [
            path
            for path, _, _ in differing
            if path.endswith(".details.late_by") and path.removesuffix(".details.late_by") + ".at" in instants
        ]
        if differing and len(instants) == len(differing):
            check.known.append(f"{rid}: instants differ between the first run and a replay: {', '.join(instants)}")
        elif differing:
            path, live, kept = differing[0]
            check.failures.append(f"{rid}: {len(differing)} difference(s), first {path}: {live!r} vs {kept!r}")
        with Session(engine) as session:
            row = session.get(Nonconformity, rid)
        if row is not None and (row.stage != state.stage.value or row.last_seq != len(state.events)):
            check.failures.append(
                f"{rid}: row says {row.stage} at seq {row.last_seq}, "
                f"the workflow {state.stage.value} at {len(state.events)}"
            )
        open_actions = [a.id for a in state.actions if a.status is ActionStatus.OPEN]
        if state.stage is Stage.CLOSED and open_actions:
            check.failures.append(f"{rid}: closed with open actions {open_actions}")
    if check.known:
        check.detail = f"{len(check.known)} with instants skewed by a stale workflow.now() (see below)"
    return check


def _differences(live: object, kept: object, path: str) -> Iterator[tuple[str, object, object]]:
    if isinstance(live, dict) and isinstance(kept, dict):
        for key in sorted(set(live) | set(kept)):
            yield from _differences(live.get(key), kept.get(key), f"{path}.{key}" if path else str(key))
    elif isinstance(live, list) and isinstance(kept, list) and len(live) == len(kept):
        for index, (a, b) in enumerate(zip(live, kept, strict=True)):
            yield from _differences(a, b, f"{path}[{index}]")
    elif live != kept:
        yield path, live, kept


def _instant(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def workflow_tasks(evidence: Evidence) -> tuple[Check, TaskTally]:
    """No workflow task failed for a reason the faults do not explain; lost tasks (timeouts) are counted."""
    tally = TaskTally()
    check = Check("no workflow task failed (kills only time tasks out)", len(evidence.histories))
    for history in evidence.histories:
        for event in history.events:
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT:
                tally.timed_out += 1
            elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
                tally.activities_retried += event.activity_task_started_event_attributes.attempt > 1
            elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
                attributes = event.workflow_task_failed_event_attributes
                cause = WorkflowTaskFailedCause.Name(attributes.cause).removeprefix("WORKFLOW_TASK_FAILED_CAUSE_")
                tally.failed[cause] += 1
                if _stale_cache(history, event) or _refused_an_applied_step(history, event):
                    tally.healed += 1
                elif cause not in _EXPLAINED_TASK_FAILURES and not _terminated_meanwhile(history, cause):
                    message = _named(history, attributes.failure.message)
                    check.failures.append(f"{history.workflow_id}: {cause}: {message[:300]}")
    check.detail = f"{tally.timed_out} timed out, {sum(tally.failed.values())} failed"
    if tally.healed:
        check.detail += (
            f" ({tally.healed} on a worker's stale cached copy or a step delivered again after it was applied, "
            "then completed; histories replay below)"
        )
    return check, tally


def _refused_an_applied_step(history: WorkflowHistory, failed: HistoryEvent) -> bool:
    """A task the server refused because the worker refused a step the history had already applied.

    After the server restarts, a step sent just before (a ring, say) can be delivered once more in a later task,
    although the history already holds its acceptance and completion; the record's validator refuses the repeat,
    and the server, which has that step completed, fails the task for the refusal. Nothing in the record changes.
    It counts as healed when the step named was completed earlier in this history and a later attempt completed.
    """
    attributes = failed.workflow_task_failed_event_attributes
    cause = WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_BAD_UPDATE_WORKFLOW_EXECUTION_MESSAGE
    refused = _REFUSED_APPLIED.search(attributes.failure.message)
    if attributes.cause != cause or refused is None:
        return False
    completed = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED
    applied = any(
        e.event_type == completed
        and e.workflow_execution_update_completed_event_attributes.meta.update_id == refused[1]
        for e in history.events
        if e.event_id < failed.event_id
    )
    return applied and _next_attempt_completed(history, failed)


def _stale_cache(history: WorkflowHistory, failed: HistoryEvent) -> bool:
    """A non-determinism error of a worker whose cached copy of the workflow was not its history, not of the code.

    Such a worker had applied a step in a task the server lost (a restart drops a step's task that it had not
    yet written), while another worker's task wrote that step into the history; the first worker's copy then
    cannot take the history's event, and the SDK drops it. It counts as healed when the event it could not take
    was written by another worker, the task bears no sign of the SDK's ordering issue, and a later attempt
    completed. What proves the code can replay the history is the run's replay check, which replays every
    history from the start: code that cannot would stop the record and fail that check.
    """
    attributes = failed.workflow_task_failed_event_attributes
    diverged = _DIVERGED_AT.search(attributes.failure.message)
    if attributes.cause != WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_NON_DETERMINISTIC_ERROR or not diverged:
        return False
    writer = _task_that_wrote(history, int(diverged[1]))
    if writer is None or writer.workflow_task_completed_event_attributes.identity == attributes.identity:
        return False
    if _update_met_a_result(history, attributes.failure.message):
        return False
    return _next_attempt_completed(history, failed)


def _next_attempt_completed(history: WorkflowHistory, failed: HistoryEvent) -> bool:
    """Whether the workflow task after the one that ``failed`` completed."""
    following = (e for e in history.events if e.event_id > failed.event_id and e.event_type in _TASK_ENDS)
    next_end = next(following, None)
    return next_end is not None and next_end.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED


def _task_that_wrote(history: WorkflowHistory, event_id: int) -> HistoryEvent | None:
    """The completion of the workflow task whose commands wrote ``event_id``: the last one before it."""
    completed = EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
    return next((e for e in reversed(history.events) if e.event_type == completed and e.event_id < event_id), None)


def _terminated_meanwhile(history: WorkflowHistory, cause: str) -> bool:
    """A task refused because its workflow was terminated while a worker held it: an alarm whose clock a step
    ended (the step's ``settle_step`` terminates it), not a fault. Nothing else in capaflow is terminated."""
    if cause != "FORCE_CLOSE_COMMAND" or not history.events:
        return False
    started = history.events[0].workflow_execution_started_event_attributes
    ended = history.events[-1].event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED
    return ended and started.workflow_type.name == "CapaAlarm"


def _named(history: WorkflowHistory, message: str) -> str:
    """The failure's message, led by its cause when it bears the signature of the SDK's ordering issue."""
    return f"{_SDK_UPDATE_ORDER_CAUSE}: {message}" if _update_met_a_result(history, message) else message


def _update_met_a_result(history: WorkflowHistory, message: str) -> bool:
    """Whether the workflow task whose command replay rejects both accepted a step and had an activity result or a
    timer to hand over: the signature of the SDK's ordering issue."""
    found = _DIVERGED_AT.search(message)
    if found is None:
        return False
    completions = [e.event_id for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED]
    written = _task_that_wrote(history, int(found[1]))
    task = written.event_id if written is not None else 0
    before = max((c for c in completions if c < task), default=0)
    after = min((c for c in completions if c > task), default=history.events[-1].event_id + 1)
    woken = any(before < e.event_id < task and e.event_type in _WAKERS for e in history.events)
    accepted = any(
        task < e.event_id < after and e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
        for e in history.events
    )
    return woken and accepted


def outage_steps(results: list[LifecycleResult], evidence: Evidence, window: Window | None, backend: str) -> Check:
    """Steps taken while the database was down were accepted by the workflow then, not held back until it returned.

    Only steps sent a little before the database returned count: one sent in the last moment may well be
    accepted just after, which proves nothing either way.
    """
    check = Check("steps accepted by the workflow while the database was down")
    if window is None:
        check.detail = "no outage in this run"
        return check
    accepted = 0
    for result in results:
        state = evidence.states.get(result.record_id or "")
        for step in result.steps:
            if state is None or not window.started <= step.sent_at <= window.ended - _SETTLE:
                continue
            check.checked += 1
            ended = _ending_event(state, step)
            if ended is not None and ended.at <= window.ended:
                accepted += 1
    check.detail = f"{check.checked} sent during the {window.seconds:.0f}s outage, {accepted} accepted before it ended"
    # With SQLite only writers are locked out: the directory is readable, so the client layer reaches the
    # workflow. With PostgreSQL the client cannot even look the person up, and steps wait for the database.
    if backend == "sqlite" and check.checked and not accepted:
        check.failures.append("no step sent during the outage was accepted before it ended")
    return check


async def replay(evidence: Evidence) -> Check:
    """Every history the run produced replays against the current workflow code."""
    check = Check("every history replays against the current code", len(evidence.histories))
    replayer = Replayer(workflows=WORKFLOWS, data_converter=pydantic_data_converter)
    async with replayer.workflow_replay_iterator(_each(evidence.histories)) as replays:
        async for outcome in replays:
            if outcome.replay_failure is not None:
                message = _named(outcome.history, str(outcome.replay_failure))
                check.failures.append(f"{outcome.history.workflow_id}: {message[:400]}")
    return check


async def _each(histories: list[WorkflowHistory]) -> AsyncIterator[WorkflowHistory]:
    for history in histories:
        # An alarm terminated before its delayed start ran no code: there is nothing to replay.
        if any(event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED for event in history.events):
            yield history


def _ending_event(state: CapaState, step: StepSent) -> Event | None:
    if step.step.startswith("complete "):
        action_id = step.step.removeprefix("complete ")
        return next(
            (
                e
                for e in state.events
                if e.kind is EventKind.ACTION_COMPLETED and e.facts().get("action_id") == action_id
            ),
            None,
        )
    kind = _STEP_EVENTS[step.step]
    return next((e for e in state.events if e.kind is kind and e.actor != SYSTEM_ACTOR), None)


def outbox_facts(engine: Engine) -> Counter[str]:
    """Outbox rows by status, for the report."""
    with Session(engine) as session:
        return Counter(row.status for row in session.exec(select(OutboxMessage)))
