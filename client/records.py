"""The one client layer every front-end shares: the CLI, the HTTP API and the web app.

It turns a request into a workflow start, update or query, and reads lists from the read model. It holds no
business rule: whether a step is accepted (stage, permission, payload) is decided by the workflow's update
validators. What it adds is what only a front-end can know: who the caller is in the directory, a free record
id, and one error type, ``CapaError``, whose ``kind`` a front-end turns into an exit code or an HTTP status.
"""

import asyncio
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import NamedTuple, ParamSpec, TypeVar

import structlog
from pydantic import BaseModel, ValidationError
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest, DescribeTaskQueueRequest
from temporalio.client import (
    Client,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import ActivityError, ApplicationError, WorkflowAlreadyStartedError
from temporalio.runtime import Runtime
from temporalio.service import RPCError, RPCStatusCode
from temporalio.workflow import UpdateMethodMultiParam

from activities.records import ReadModelBehind, write_change, write_snapshot
from client.directory import Directory
from client.errors import CapaError, ErrorKind, StepPending
from client.temporal import connect, is_namespace_missing, is_unreachable, is_workflow_missing
from core import outbox, readmodel
from core.database import make_engine
from core.readmodel import OverdueItem
from core.settings import Settings
from models import rules
from models.digest import DigestRequest, DigestResult
from models.enums import (
    ActionKind,
    CauseCategory,
    Disposition,
    EffectivenessResult,
    Role,
    RootCauseMethod,
    Severity,
    Source,
    Stage,
    VerificationResult,
)
from models.payloads import (
    RECORD_MOVING,
    Actor,
    CancelInput,
    CapaState,
    CompleteActionInput,
    ContainmentInput,
    ExtensionDecisionInput,
    ExtensionRequestInput,
    PlanInput,
    PlannedAction,
    RaiseInput,
    ReassignInput,
    RecordInput,
    RecordSnapshot,
    ReviewInput,
    RootCauseInput,
    StepInput,
    StepOutcome,
    StepResult,
    VerifyInput,
)
from models.policy import PinnedPolicy, Policy, PolicyError, load_policy
from models.tables import Nonconformity, OutboxMessage
from workflows.capa import CapaWorkflow
from workflows.digest import DigestWorkflow
from workflows.record import RecordWorkflow

log = structlog.get_logger(__name__)

T = TypeVar("T")
P = ParamSpec("P")
PayloadT = TypeVar("PayloadT", bound=BaseModel)
InputT = TypeVar("InputT", bound=StepInput)

# A raise is validated under this stand-in id before a real one is allocated, so bad input never burns a
# number: gaps in the NC sequence are the first thing an auditor asks about.
_DRAFT_ID = "NC-0000-0000"
# Each retry takes the next number; more collisions than this mean the database and Temporal disagree.
_ID_ATTEMPTS = 20
# A step refused for a moment (its record continuing as new, or recovering from a lost worker: ten seconds at
# most) is sent again this often, this far apart.
_MOVING_ATTEMPTS = 75
_MOVING_PAUSE = 0.2
# How long ``raise_record`` waits for a worker to open the new record before saying none is running.
OPEN_TIMEOUT = timedelta(seconds=15)
# How long a step or a query waits for a worker to answer; the SDK alone would wait for ever.
WORKER_TIMEOUT = timedelta(seconds=20)
# How long the client layer waits for a locked database to write the snapshot a step returned, in seconds.
_SNAPSHOT_PATIENCE = 1.0
# A worker that polled the task queue this recently is running (a poll waits up to about a minute for work).
_POLLED_LATELY = timedelta(seconds=90)
# How long a reader waits for a record's workflow before showing it from the read model instead.
QUERY_TIMEOUT = timedelta(seconds=5)
# How long ``send_digest_now`` waits for a worker to finish the digest before saying none is running.
DIGEST_TIMEOUT = timedelta(seconds=60)
# A digest asked for by hand that no worker has started within this time is stale: it is dropped.
_DIGEST_EXPIRY = timedelta(hours=1)


def _timed_out(exc: BaseException) -> bool:
    """Whether the client's own patience ran out (its own timeout; the SDK reports its rpc_timeout as CANCELLED,
    the server its deadline as DEADLINE_EXCEEDED)."""
    if isinstance(exc, TimeoutError | WorkflowUpdateRPCTimeoutOrCancelledError):
        return True
    return isinstance(exc, RPCError) and exc.status in (RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED)


def _recovering(exc: RPCError) -> bool:
    """Whether Temporal refused an update only because the record's last workflow task failed or timed out (a
    worker lost mid-task): it takes updates again once another worker has completed a task."""
    return exc.status is RPCStatusCode.FAILED_PRECONDITION and "Workflow Task in failed state" in exc.message


# Why ``migrate_records`` did not move a record that closed while it ran: nothing is left to move.
ENDED_MEANWHILE = "ended meanwhile"


def namespace_missing(settings: Settings) -> CapaError:
    return CapaError(
        ErrorKind.UNAVAILABLE,
        f"Temporal at {settings.temporal_address} has no namespace {settings.temporal_namespace}: "
        "set TEMPORAL_NAMESPACE to the namespace the workers use",
    )


def temporal_unavailable(settings: Settings) -> CapaError:
    return CapaError(
        ErrorKind.UNAVAILABLE,
        f"cannot reach Temporal at {settings.temporal_address} (namespace {settings.temporal_namespace}); "
        "start it with `make run` or point TEMPORAL_ADDRESS at a running server",
    )


class Shown(NamedTuple):
    """A record as ``show_record`` found it; ``stale`` says why it comes from the read model, when it had to."""

    state: CapaState
    stale: str | None


class NewAction(NamedTuple):
    """One action of a plan as a front-end collected it."""

    owner: str
    due_at: datetime
    description: str
    kind: ActionKind = ActionKind.CORRECTIVE


def _valid(build: Callable[[], PayloadT], where: str = "") -> PayloadT:
    """Build a payload; a pydantic error becomes InvalidInput naming the first field at fault (after ``where``)."""
    try:
        return build()
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "input"
        raise CapaError(ErrorKind.INVALID, f"{where}{field}: {first['msg']}") from None


def _rejection_kind(failure: ApplicationError) -> ErrorKind:
    try:
        return ErrorKind(failure.type or "")
    except ValueError:
        # Validators only raise the rule kinds; anything else is still the workflow refusing the step.
        return ErrorKind.NOT_ALLOWED


class CapaClient(Directory):
    """Raise records, take their steps and read them, on behalf of a named user; and the directory."""

    def __init__(self, temporal: Client, engine: Engine, settings: Settings) -> None:
        super().__init__(engine, settings)
        self._temporal = temporal
        self._policy: Policy | None = None
        # How long a step waits for the workers before it is answered as pending.
        self._step_wait = timedelta(seconds=settings.step_wait)

    async def _pinned_policy(self, severity: Severity) -> PinnedPolicy:
        """The deadlines a new record keeps for life: those of the policy the workers published as they started
        (``readmodel.publish_policy``); before any worker has, CAPA_POLICY_FILE's, as a worker would read it."""
        published = await self._db(readmodel.policy_in_force, self._engine)
        if published is not None:
            return published.for_severity(severity)
        if self._policy is None:
            try:
                self._policy = load_policy(self._settings.policy_file)
            except PolicyError as exc:
                raise CapaError(ErrorKind.UNAVAILABLE, f"CAPA_POLICY_FILE: {exc}") from None
        return self._policy.for_severity(severity)

    @classmethod
    async def open(cls, settings: Settings, runtime: Runtime | None = None) -> "CapaClient":
        """Connect lazily, so the directory and the read model stay usable while Temporal is down.

        ``runtime`` carries a metrics exporter (the API process's).
        """
        temporal = await connect(settings, lazy=True, runtime=runtime)
        return cls(temporal, make_engine(settings.sqlalchemy_url), settings)

    # --- raising ------------------------------------------------------------------------------------------

    async def raise_record(
        self,
        actor_name: str,
        *,
        title: str,
        description: str,
        severity: Severity,
        source: Source,
        owner: str,
        product: str | None = None,
        lot: str | None = None,
        quantity: int | None = None,
    ) -> str:
        """Start a record's workflow and return its id once a worker has opened it.

        Waiting for the worker means the id this returns is ready for the next step and shows in lists,
        so ``ID=$(capa raise ...); capa contain $ID ...`` never races the record's opening.
        """
        actor = await self._actor(actor_name)
        await self._check_holder("owner", owner)
        draft = _valid(
            lambda: RaiseInput(
                record_id=_DRAFT_ID,
                title=title,
                description=description,
                severity=severity,
                source=source,
                owner=owner,
                product=product,
                lot=lot,
                quantity=quantity,
                raised_by=actor,
            )
        )
        policy = await self._pinned_policy(severity)
        for _ in range(_ID_ATTEMPTS):
            record_id = await self._db(readmodel.allocate_record_id, self._engine, datetime.now(UTC).year)
            raised = draft.model_copy(update={"record_id": record_id})
            try:
                with self._temporal_errors(record_id):
                    await self._temporal.start_workflow(
                        RecordWorkflow.run,
                        RecordInput(raised=raised, policy=policy),
                        id=record_id,
                        task_queue=self._settings.task_queue,
                        # A record id names one nonconformity forever, even after its workflow closed.
                        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                    )
            except WorkflowAlreadyStartedError:
                log.warning("record id already used in Temporal; allocating the next", record_id=record_id)
                continue
            log.info("record raised", record_id=record_id, workflow_id=record_id, actor=actor.name)
            try:
                await self._wait_opened(record_id)
            except CapaError as exc:
                # The record exists from here on: every failure names it, so nobody raises it a second time.
                if exc.message.startswith(record_id):
                    raise
                raise CapaError(exc.kind, f"{record_id} was raised, but is not confirmed open: {exc.message}") from None
            return record_id
        raise CapaError(
            ErrorKind.UNAVAILABLE,
            f"no free record id after {_ID_ATTEMPTS} attempts: the database's record counter is behind "
            "the records Temporal holds",
        )

    async def _wait_opened(self, record_id: str) -> None:
        """Wait until a worker has opened the record, and write its first row from what it answers.

        One update (``opened``) that the record answers with its whole first state: no polling of the read model,
        which under many simultaneous raises cost more than the raises themselves. If no worker answers within
        ``OPEN_TIMEOUT``, the raise fails only when no worker polls the queue at all; busy workers open it later
        (the start is durable), and their ``settle_step`` writes its row.
        """
        handle = self._temporal.get_workflow_handle_for(RecordWorkflow.run, record_id)
        with self._temporal_errors(record_id):
            try:
                opened = await handle.execute_update(RecordWorkflow.opened, rpc_timeout=OPEN_TIMEOUT)
            except WorkflowUpdateFailedError:
                # Someone ended the record within the moment since it was raised: it exists, the worker writes it.
                return
            except (WorkflowUpdateRPCTimeoutOrCancelledError, RPCError) as exc:
                if not _timed_out(exc):
                    raise
                if not await self._workers_polling():
                    raise self._not_opened(record_id) from None
                # Raised for good (the start is durable): the busy worker opens it and writes its row soon.
                log.warning("record raised; the busy workers have not opened it yet", record_id=record_id)
                return
        await self._write_read_model(opened)

    async def _write_read_model(self, result: StepResult) -> StepOutcome:
        """Write what a step returned for the read model, so a list read right after it shows it; the step's
        own ``settle_step`` writes the same again (idempotent) and stays the durable path when this one fails."""
        try:
            # Briefly: while the database is locked, the answer does not wait (nor hold a thread other requests
            # need); the record's own write lands the same once the database is back.
            if result.snapshot is not None:
                await self._db(write_snapshot, self._engine, result.snapshot, _SNAPSHOT_PATIENCE)
            if result.change is not None:
                await self._db(write_change, self._engine, result.change, _SNAPSHOT_PATIENCE)
        except CapaError as exc:
            log.warning("read model not written after the step; the worker will", reason=exc.message)
        except ReadModelBehind:
            # A step before this one (an alarm's ring) is not stored yet: write the record whole, as it is now.
            await self._write_whole(result.record_id)
        if result.snapshot is None and result.change is None:
            return await self._outcome_of_earlier_shape(result)
        return result.outcome()

    async def _outcome_of_earlier_shape(self, result: StepResult) -> StepOutcome:
        """A record on the earlier workflow shape (until ``capa records migrate`` moves it) answers a step without
        its entries, and writes the read model itself: show the entry the step ended on, as its workflow has it."""
        try:
            state = await self._live_state(result.record_id)
        except (RPCError, WorkflowQueryFailedError) as exc:
            log.info("step answered without its entry", record_id=result.record_id, reason=str(exc))
            return result.outcome()
        return result.outcome().model_copy(update={"entries": [e for e in state.events if e.seq == result.seq]})

    async def _write_whole(self, record_id: str) -> None:
        """Write the record's whole state and timeline as its workflow answers them; the worker's writes land
        the same in order, and stay the durable path when this one cannot be made."""
        try:
            snapshot = RecordSnapshot.of(await self._live_state(record_id))
            await self._db(write_snapshot, self._engine, snapshot, _SNAPSHOT_PATIENCE)
        except (RPCError, WorkflowQueryFailedError, CapaError) as exc:
            log.info(
                "read model left to the worker: an earlier step is not stored yet", record_id=record_id, reason=str(exc)
            )

    async def _live_state(self, record_id: str) -> CapaState:
        """The record as its workflow answers now, within ``QUERY_TIMEOUT``."""
        handle = self._temporal.get_workflow_handle_for(RecordWorkflow.run, record_id)
        return await handle.query(RecordWorkflow.state, rpc_timeout=QUERY_TIMEOUT)

    def _not_opened(self, record_id: str) -> CapaError:
        return CapaError(
            ErrorKind.UNAVAILABLE,
            f"{record_id} was raised, but no worker opened it within {OPEN_TIMEOUT.total_seconds():.0f}s; "
            f"is a worker (capa worker) running on task queue {self._settings.task_queue}?",
        )

    # --- steps --------------------------------------------------------------------------------------------

    async def contain(
        self,
        record_id: str,
        actor_name: str,
        *,
        summary: str,
        disposition: Disposition,
        quantity: int | None = None,
    ) -> StepOutcome:
        actor = await self._actor(actor_name)
        inp = _valid(lambda: ContainmentInput(actor=actor, summary=summary, disposition=disposition, quantity=quantity))
        return await self._update(record_id, RecordWorkflow.contain, inp)

    async def root_cause(
        self,
        record_id: str,
        actor_name: str,
        *,
        method: RootCauseMethod,
        cause: str,
        whys: list[str],
        category: CauseCategory | None = None,
        escape_point: str | None = None,
        similar_checked: str | None = None,
    ) -> StepOutcome:
        actor = await self._actor(actor_name)
        inp = _valid(
            lambda: RootCauseInput(
                actor=actor,
                method=method,
                cause=cause,
                whys=whys,
                category=category,
                escape_point=escape_point,
                similar_checked=similar_checked,
            )
        )
        return await self._update(record_id, RecordWorkflow.root_cause, inp)

    async def plan(self, record_id: str, actor_name: str, *, actions: list[NewAction]) -> StepOutcome:
        actor = await self._actor(actor_name)
        for number, action in enumerate(actions, start=1):
            await self._check_holder(f"action {number} owner", action.owner)
        # One action at a time, so a refusal says which action of the plan is at fault ("action 2 kind: ...").
        planned = [
            _valid(
                partial(PlannedAction, owner=a.owner, due_at=a.due_at, description=a.description, kind=a.kind),
                f"action {number} ",
            )
            for number, a in enumerate(actions, start=1)
        ]
        inp = _valid(lambda: PlanInput(actor=actor, actions=planned))
        return await self._update(record_id, RecordWorkflow.plan, inp)

    async def complete_action(self, record_id: str, actor_name: str, *, action_id: str, evidence: str) -> StepOutcome:
        actor = await self._actor(actor_name)
        inp = _valid(lambda: CompleteActionInput(actor=actor, action_id=action_id, evidence=evidence))
        return await self._update(record_id, RecordWorkflow.complete_action, inp)

    async def verify(
        self, record_id: str, actor_name: str, *, result: VerificationResult, evidence: str
    ) -> StepOutcome:
        actor = await self._actor(actor_name)
        inp = _valid(lambda: VerifyInput(actor=actor, result=result, evidence=evidence))
        return await self._update(record_id, RecordWorkflow.verify, inp)

    async def review(
        self, record_id: str, actor_name: str, *, result: EffectivenessResult, evidence: str
    ) -> StepOutcome:
        actor = await self._actor(actor_name)
        inp = _valid(lambda: ReviewInput(actor=actor, result=result, evidence=evidence))
        return await self._update(record_id, RecordWorkflow.review, inp)

    async def request_extension(
        self, record_id: str, actor_name: str, *, until: datetime, reason: str, action_id: str | None = None
    ) -> StepOutcome:
        actor = await self._actor(actor_name)
        inp = _valid(lambda: ExtensionRequestInput(actor=actor, action_id=action_id, until=until, reason=reason))
        return await self._update(record_id, RecordWorkflow.request_extension, inp)

    async def decide_extension(
        self, record_id: str, actor_name: str, *, approve: bool, reason: str | None = None
    ) -> StepOutcome:
        actor = await self._actor(actor_name)
        inp = _valid(lambda: ExtensionDecisionInput(actor=actor, approve=approve, reason=reason))
        return await self._update(record_id, RecordWorkflow.decide_extension, inp)

    async def reassign(
        self, record_id: str, actor_name: str, *, owner: str, reason: str, action_id: str | None = None
    ) -> StepOutcome:
        actor = await self._actor(actor_name)
        await self._check_holder("owner", owner)
        inp = _valid(lambda: ReassignInput(actor=actor, new_owner=owner, action_id=action_id, reason=reason))
        return await self._update(record_id, RecordWorkflow.reassign, inp)

    async def cancel(self, record_id: str, actor_name: str, *, reason: str) -> StepOutcome:
        actor = await self._actor(actor_name)
        inp = _valid(lambda: CancelInput(actor=actor, reason=reason))
        return await self._update(record_id, RecordWorkflow.cancel, inp)

    async def _update(
        self, record_id: str, update: UpdateMethodMultiParam[[RecordWorkflow, InputT], StepResult], inp: InputT
    ) -> StepOutcome:
        handle = self._temporal.get_workflow_handle_for(RecordWorkflow.run, record_id)
        step = type(inp).__name__.removesuffix("Input")
        with structlog.contextvars.bound_contextvars(
            record_id=record_id, workflow_id=record_id, actor=inp.actor.name, step=step
        ):
            try:
                with self._temporal_errors(record_id, self._step_wait):
                    try:
                        result = await self._execute_step(handle, update, inp)
                    except RPCError as exc:
                        if not is_workflow_missing(exc):
                            raise
                        raise await self._gone(record_id) from None
            except StepPending as exc:
                log.info("step pending: the workers are busy", update_id=exc.update_id)
                raise
            except CapaError as exc:
                log.info("step rejected", kind=exc.kind.value, reason=exc.message)
                raise
            log.info("step accepted", seq=result.seq, stage=result.stage.value)
            return await self._write_read_model(result)

    async def _execute_step(
        self,
        handle: WorkflowHandle[RecordWorkflow, CapaState],
        update: UpdateMethodMultiParam[[RecordWorkflow, InputT], StepResult],
        inp: InputT,
    ) -> StepResult:
        """Send the step; a step the workers have not applied within ``CAPA_STEP_WAIT`` is pending."""
        # One id for every sending of this step: Temporal and the record apply an update id once.
        update_id = str(uuid.uuid4())
        step = re.sub(r"(?<!^)(?=[A-Z])", " ", type(inp).__name__.removesuffix("Input")).lower()
        try:
            # The SDK polls again whenever one call's deadline passes: only this bounds the whole wait.
            async with asyncio.timeout(self._step_wait.total_seconds()):
                return await self._send_step(handle, update, inp, update_id)
        except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError, RPCError) as exc:
            if not _timed_out(exc):
                raise
            if await self._workers_polling():
                raise StepPending(handle.id, step, update_id) from None
            # Temporal holds the step until a worker takes it (unless the server restarts before one does,
            # which ``step_outcome`` reports): it is pending either way, not failed.
            why = f"no worker is running on task queue {self._settings.task_queue}: start one with `capa worker`"
            raise StepPending(handle.id, step, update_id, why) from None

    async def _send_step(
        self,
        handle: WorkflowHandle[RecordWorkflow, CapaState],
        update: UpdateMethodMultiParam[[RecordWorkflow, InputT], StepResult],
        inp: InputT,
        update_id: str,
    ) -> StepResult:
        """Send the step, and again while the record refuses it for a moment without writing anything: while
        it continues as new (every few thousand steps), or while Temporal holds updates back because a workflow
        task of the record just timed out (its worker was lost) and no other worker has completed one yet."""
        for _ in range(_MOVING_ATTEMPTS):
            try:
                return await handle.execute_update(update, inp, id=update_id, rpc_timeout=self._step_wait)
            except WorkflowUpdateFailedError as exc:
                if not isinstance(exc.cause, ApplicationError) or exc.cause.type != RECORD_MOVING:
                    raise
            except RPCError as exc:
                if not _recovering(exc):
                    raise
            await asyncio.sleep(_MOVING_PAUSE)
        return await handle.execute_update(update, inp, id=update_id, rpc_timeout=self._step_wait)

    async def step_outcome(self, record_id: str, update_id: str, wait: timedelta | None = None) -> StepOutcome:
        """The result of a step that was pending (``StepPending``), once applied; ``StepPending`` again if it
        is still queued after ``wait`` (default ``CAPA_STEP_WAIT``), the step's own refusal if the record
        refused it, and NOT_FOUND if it was lost before any worker took it (the server restarted meanwhile)."""
        patience = wait or self._step_wait
        handle = self._temporal.get_workflow_handle_for(RecordWorkflow.run, record_id)
        lost = (
            f"{record_id}: step {update_id} is not known to Temporal: it was refused by the record while nobody "
            "waited for its answer, lost before a worker took it (the server restarted), or is from long ago; "
            "look at the record, and send the step again only if it is not there and the record accepts it"
        )
        with structlog.contextvars.bound_contextvars(record_id=record_id, workflow_id=record_id, update_id=update_id):
            with self._temporal_errors(record_id, patience):
                try:
                    async with asyncio.timeout(patience.total_seconds()):
                        update = handle.get_update_handle(update_id, result_type=StepResult)
                        result = await update.result(rpc_timeout=patience)
                except WorkflowUpdateFailedError as exc:
                    if isinstance(exc.cause, ApplicationError) and exc.cause.type == RECORD_MOVING:
                        raise CapaError(ErrorKind.NOT_FOUND, lost) from None
                    raise
                except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError, RPCError) as exc:
                    if is_workflow_missing(exc):
                        await handle.describe()  # a record nobody raised is NOT_FOUND here: "does not exist"
                        raise CapaError(ErrorKind.NOT_FOUND, lost) from None
                    if not _timed_out(exc):
                        raise
                    raise StepPending(record_id, "the step", update_id) from None
            return await self._write_read_model(result)

    async def _workers_polling(self) -> bool:
        """Whether a worker has polled the records' task queue lately: then a step it has not answered is queued
        behind other work, not waiting for a worker someone has to start."""
        request = DescribeTaskQueueRequest(
            namespace=self._temporal.namespace,
            task_queue=TaskQueue(name=self._settings.task_queue),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        )
        try:
            answer = await self._temporal.workflow_service.describe_task_queue(request, timeout=QUERY_TIMEOUT)
        except RPCError:
            return False
        # A live worker polls at least once a minute (a poll waits about that long for work); the server lists
        # a poller for minutes after its last poll.
        since = datetime.now(UTC) - _POLLED_LATELY
        return any(poller.last_access_time.ToDatetime(tzinfo=UTC) >= since for poller in answer.pollers)

    async def migrate_records(self) -> tuple[list[str], dict[str, str]]:
        """Move every running record of the earlier workflow shape to the current one (``migrate`` update).

        Returns the ids moved and, for the others, why not. Safe to run again: a moved record is no longer of
        the earlier shape, and a record that refuses (not yet open, or ended meanwhile) is named.
        """
        moved: list[str] = []
        refused: dict[str, str] = {}
        query = f"WorkflowType = '{CapaWorkflow.__name__}' AND ExecutionStatus = 'Running'"
        with self._temporal_errors("records"):
            async for execution in self._temporal.list_workflows(query):
                handle = self._temporal.get_workflow_handle(execution.id)
                with structlog.contextvars.bound_contextvars(record_id=execution.id, workflow_id=execution.id):
                    try:
                        # The earlier shape's commands depend on the order of a step and an activity result
                        # that share a workflow task: send the move only while no activity is in flight.
                        described = await handle.describe(rpc_timeout=WORKER_TIMEOUT)
                        if described.raw_description.pending_activities:
                            refused[execution.id] = "busy (an activity in flight): run the command again"
                            log.info("record not migrated", reason=refused[execution.id])
                            continue
                        await handle.execute_update(CapaWorkflow.migrate, rpc_timeout=WORKER_TIMEOUT)
                    except WorkflowUpdateFailedError as exc:
                        cause = exc.cause
                        refused[execution.id] = cause.message if isinstance(cause, ApplicationError) else str(exc)
                        log.info("record not migrated", reason=refused[execution.id])
                        continue
                    except WorkflowUpdateRPCTimeoutOrCancelledError:
                        refused[execution.id] = f"no worker answered within {WORKER_TIMEOUT.total_seconds():.0f}s"
                        log.info("record not migrated", reason=refused[execution.id])
                        continue
                    except RPCError as exc:
                        if not is_workflow_missing(exc):
                            raise
                        refused[execution.id] = ENDED_MEANWHILE
                        continue
                    moved.append(execution.id)
                    log.info("record migrated to the current workflow shape")
        return moved, refused

    async def _gone(self, record_id: str) -> CapaError:
        """Why a record has no running workflow: it ended (closed or cancelled), or it never existed."""
        stored = await self._db(readmodel.load_record_state, self._engine, record_id)
        if stored is None:
            return CapaError(ErrorKind.NOT_FOUND, f"{record_id} does not exist")
        return CapaError(ErrorKind.WRONG_STAGE, f"{record_id} is {stored.stage.value}; it can no longer change")

    # --- reading ------------------------------------------------------------------------------------------

    async def show(self, record_id: str) -> CapaState:
        """The record's full state and timeline (see ``show_record``)."""
        return (await self.show_record(record_id)).state

    async def show_record(self, record_id: str) -> "Shown":
        """The record's full state and timeline: live from its workflow, else as the read model kept it.

        The read model answers once Temporal's retention has removed a closed record's history, because
        ISO 9001 10.2.2 asks for the evidence to be kept; and when the workflow does not answer (no worker, a
        worker that cannot rebuild it, Temporal unreachable), saying why in ``Shown.stale``.
        """
        stale: str | None = None
        try:
            with self._temporal_errors(record_id, QUERY_TIMEOUT):
                try:
                    return Shown(await self._live_state(record_id), None)
                except RPCError as exc:
                    if not is_workflow_missing(exc):
                        raise
        except CapaError as exc:
            if exc.kind is not ErrorKind.UNAVAILABLE:
                raise
            stale = f"its workflow did not answer ({exc.message})"
        stored = await self._db(readmodel.load_record_state, self._engine, record_id)
        if stored is None and stale is not None:
            # Raised while no worker ran: the record exists in Temporal, the read model has no row for it yet.
            raise CapaError(ErrorKind.UNAVAILABLE, f"{record_id} cannot be shown yet: {stale}")
        if stored is None:
            raise CapaError(ErrorKind.NOT_FOUND, f"{record_id} does not exist")
        log.info("record shown from the read model", record_id=record_id, workflow_id=record_id, stale=stale)
        return Shown(stored, stale)

    async def list_records(
        self,
        *,
        stage: Stage | None = None,
        owner: str | None = None,
        overdue: bool = False,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Nonconformity]:
        if owner is not None and await self._db(readmodel.get_user, self._engine, owner) is None:
            # A mistyped name would otherwise read as "this person has nothing".
            raise CapaError(ErrorKind.INVALID, f"owner: no user named {owner}")
        return await self._db(
            readmodel.list_records,
            self._engine,
            stage=stage,
            owner=owner,
            overdue=overdue,
            now=datetime.now(UTC),
            limit=limit,
            offset=offset,
        )

    async def count_records(
        self, *, stage: Stage | None = None, owner: str | None = None, overdue: bool = False
    ) -> int:
        return await self._db(
            readmodel.count_records, self._engine, stage=stage, owner=owner, overdue=overdue, now=datetime.now(UTC)
        )

    async def my_items(self, name: str) -> list[OverdueItem]:
        """The steps and actions ``name`` holds, soonest due first (late ones have a positive ``late_by``)."""
        return await self._db(readmodel.held_items, self._engine, name, datetime.now(UTC))

    async def overdue(self) -> list[OverdueItem]:
        return await self._db(readmodel.overdue_items, self._engine, datetime.now(UTC))

    # --- notifications ------------------------------------------------------------------------------------

    async def send_digest_now(self) -> tuple[str, DigestResult]:
        """Run the overdue digest now and return its workflow id and who was sent how many items.

        It shares the day's outbox key with the scheduled run, so whoever already had today's digest is
        reported in ``already_sent`` and not sent it again.
        """
        workflow_id = f"capaflow-overdue-digest-manual-{datetime.now(UTC):%Y%m%dT%H%M%SZ}"
        with self._temporal_errors(workflow_id):
            try:
                handle = await self._temporal.start_workflow(
                    DigestWorkflow.run,
                    DigestRequest(),
                    id=workflow_id,
                    task_queue=self._settings.task_queue,
                    execution_timeout=_DIGEST_EXPIRY,
                )
            except WorkflowAlreadyStartedError:
                # Someone asked in the same second: wait for that run rather than start another.
                handle = self._temporal.get_workflow_handle_for(DigestWorkflow.run, workflow_id)
            try:
                async with asyncio.timeout(DIGEST_TIMEOUT.total_seconds()):
                    result = await handle.result()
            except TimeoutError:
                raise CapaError(
                    ErrorKind.UNAVAILABLE,
                    f"the digest {workflow_id} did not finish within {DIGEST_TIMEOUT.total_seconds():.0f}s "
                    f"(is `capa worker` running on task queue {self._settings.task_queue}?); it is dropped if "
                    f"no worker starts it within {_DIGEST_EXPIRY.total_seconds() / 3600:.0f}h",
                ) from None
            except WorkflowFailureError as exc:
                cause = exc.cause.cause if isinstance(exc.cause, ActivityError) else exc.cause
                raise CapaError(ErrorKind.UNAVAILABLE, f"the digest {workflow_id} failed: {cause}") from None
        log.info("digest sent on demand", workflow_id=workflow_id, recipients=result.recipients)
        return workflow_id, result

    async def list_notifications(
        self, *, failed_only: bool = False, limit: int = 200, offset: int = 0
    ) -> list[OutboxMessage]:
        """The outbox, newest first: what was sent, what waits and what failed."""
        return await self._db(outbox.list_messages, self._engine, failed_only=failed_only, limit=limit, offset=offset)

    async def count_notifications(self, *, failed_only: bool = False) -> int:
        return await self._db(outbox.count_messages, self._engine, failed_only=failed_only)

    async def notification(self, row_id: int) -> OutboxMessage | None:
        return await self._db(outbox.get_message, self._engine, row_id)

    async def retry_notification(self, row_id: int) -> None:
        """Hand a failed notification to delivery again; one that cannot be retried is refused, naming why."""
        what = f"notification {row_id}"
        with self._temporal_errors(what):
            try:
                await outbox.retry_message(
                    self._engine,
                    self._temporal,
                    self._settings.task_queue,
                    row_id,
                    max_attempts=self._settings.notify_max_attempts,
                )
            except ValueError as exc:
                raise CapaError(ErrorKind.NOT_ALLOWED, str(exc)) from None
            except DBAPIError as exc:
                raise self._database_error(exc) from None
        log.info("notification queued again", outbox_id=row_id)

    # --- health -------------------------------------------------------------------------------------------

    async def readiness(self) -> dict[str, str | None]:
        """What this process depends on and what is wrong with each: None means reachable."""
        problems: dict[str, str | None] = {"temporal": None, "database": None}
        try:
            await self._temporal.service_client.check_health(timeout=timedelta(seconds=3))
            namespace = DescribeNamespaceRequest(namespace=self._temporal.namespace)
            await self._temporal.workflow_service.describe_namespace(namespace, timeout=timedelta(seconds=3))
        except Exception as exc:
            if is_unreachable(exc):
                problems["temporal"] = temporal_unavailable(self._settings).message
            elif is_namespace_missing(exc):
                problems["temporal"] = namespace_missing(self._settings).message
            else:
                problems["temporal"] = str(exc)
        try:
            await self._db(readmodel.ping, self._engine)
        except CapaError as exc:
            problems["database"] = exc.message
        return problems

    # --- plumbing -----------------------------------------------------------------------------------------

    async def _actor(self, name: str) -> Actor:
        user = await self._db(readmodel.get_user, self._engine, name)
        if user is None:
            raise CapaError(ErrorKind.NOT_ALLOWED, f"unknown user {name}; ask an admin to add you (capa users add)")
        return Actor(name=user.name, roles=[Role(user.role)])

    async def _check_holder(self, field: str, name: str) -> None:
        """A person about to hold steps must be in the directory, in a role that may hold them."""
        user = await self._db(readmodel.get_user, self._engine, name)
        if user is None:
            raise CapaError(ErrorKind.INVALID, f"{field}: no user named {name}; add them first (capa users add)")
        try:
            rules.check_owner_roles(field, name, [Role(user.role)])
        except rules.Rejection as rejection:
            raise CapaError.from_rejection(rejection) from None

    def _no_worker(self, record_id: str, waited: timedelta = WORKER_TIMEOUT) -> str:
        return (
            f"no worker answered for {record_id} within {waited.total_seconds():.0f}s "
            f"(is `capa worker` running on task queue {self._settings.task_queue}?)"
        )

    @contextmanager
    def _temporal_errors(self, record_id: str, waited: timedelta = WORKER_TIMEOUT) -> Iterator[None]:
        """Translate the SDK's failures into CapaErrors; a rejected update carries the validator's verdict."""
        try:
            yield
        except WorkflowUpdateFailedError as exc:
            cause = exc.cause
            if isinstance(cause, ApplicationError):
                raise CapaError(_rejection_kind(cause), cause.message) from None
            raise CapaError(ErrorKind.NOT_ALLOWED, f"{record_id}: the step failed: {cause}") from None
        except WorkflowQueryFailedError as exc:
            # The workflow cannot be replayed (a non-determinism error, say): a fault for operators, not input.
            raise CapaError(ErrorKind.UNAVAILABLE, f"{record_id} cannot be read from Temporal: {exc}") from None
        except WorkflowUpdateRPCTimeoutOrCancelledError:
            raise CapaError(
                ErrorKind.UNAVAILABLE,
                f"{self._no_worker(record_id)}; the step may still be applied when one starts, "
                "so look at the record before sending it again",
            ) from None
        except RPCError as exc:
            if is_namespace_missing(exc):
                raise namespace_missing(self._settings) from None
            if exc.status is RPCStatusCode.NOT_FOUND:
                raise CapaError(ErrorKind.NOT_FOUND, f"{record_id} does not exist") from None
            # The SDK reports its own rpc_timeout as CANCELLED, the server's as DEADLINE_EXCEEDED.
            if exc.status in (RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED):
                raise CapaError(ErrorKind.UNAVAILABLE, self._no_worker(record_id, waited)) from None
            if is_unreachable(exc):
                raise temporal_unavailable(self._settings) from None
            if _recovering(exc):
                raise CapaError(
                    ErrorKind.UNAVAILABLE,
                    f"{self._no_worker(record_id, waited)}: its last workflow task was left unfinished (a worker "
                    "stopped or stalled) and no worker has taken it up since",
                ) from None
            raise CapaError(ErrorKind.UNAVAILABLE, f"Temporal refused the request: {exc.message}") from None
        except RuntimeError as exc:
            if is_unreachable(exc):
                raise temporal_unavailable(self._settings) from None
            raise
