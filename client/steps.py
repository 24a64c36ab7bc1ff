"""Taking a step on a record, the same way for every front end: the step's own model in (``models.payloads``:
``ContainmentStep``, ``PlanStep``, ...; never its actor, who is the signed-in caller), its outcome out. A signed
step (``rules.SIGNED_STEPS``) is taken with ``sign``: the caller's password, re-entered, is checked here and goes
no further; the record gets the signature.

The record's update validators judge the step (``models.rules``); this module adds only what a front end cannot
know: who the caller is in the directory, whether the people it names may hold steps, and how long to wait for a
busy worker before saying the step is pending rather than failed.
"""

import asyncio
import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import structlog
from pydantic import BaseModel, ValidationError
from sqlalchemy import Engine
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import (
    Client,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError
from temporalio.workflow import UpdateMethodMultiParam

from activities.records import ReadModelBehind, write_change, write_snapshot
from client.errors import CapaError, ErrorKind, FieldProblem, SigningLocked, StepPending
from client.notifications import Notifications
from client.temporal import is_workflow_missing, recovering, timed_out, translated
from core import accounts, readmodel
from core.settings import Settings
from core.text import text_problems
from models import chain, dues, rules, signatures
from models.enums import EventKind
from models.payloads import (
    RECORD_MOVING,
    AmendEntry,
    AmendInput,
    CancelStep,
    CapaState,
    Event,
    LinkStep,
    Payload,
    PlanStep,
    RaiseStep,
    ReassignStep,
    RecordChange,
    RecordSnapshot,
    RootCauseStep,
    StepInput,
    StepOutcome,
    StepResult,
)
from models.refusals import Rejection, path
from models.rules import Step
from models.tables import User
from workflows.record import RecordWorkflow

log = structlog.get_logger(__name__)

ModelT = TypeVar("ModelT", bound=BaseModel)
InputT = TypeVar("InputT", bound=StepInput)
StepUpdate = UpdateMethodMultiParam[[RecordWorkflow, Any], StepResult]


# The record's update for each step (named as the step is, with underscores).
STEP_UPDATES: dict[Step, StepUpdate] = {
    Step.CONTAIN: RecordWorkflow.contain,
    Step.ROOT_CAUSE: RecordWorkflow.root_cause,
    Step.PLAN: RecordWorkflow.plan,
    Step.COMPLETE_ACTION: RecordWorkflow.complete_action,
    Step.VERIFY: RecordWorkflow.verify,
    Step.REVIEW: RecordWorkflow.review,
    Step.REQUEST_EXTENSION: RecordWorkflow.request_extension,
    Step.DECIDE_EXTENSION: RecordWorkflow.decide_extension,
    Step.REASSIGN: RecordWorkflow.reassign,
    Step.CANCEL: RecordWorkflow.cancel,
    Step.ATTACH_FILE: RecordWorkflow.attach_file,
    Step.TRIAGE: RecordWorkflow.triage,
    Step.AMEND_PLAN: RecordWorkflow.amend_plan,
    Step.DECIDE_PLAN: RecordWorkflow.decide_plan,
    Step.CONCEDE: RecordWorkflow.concede,
    Step.AMEND: RecordWorkflow.amend,
    Step.LINK: RecordWorkflow.link,
    Step.COMMENT: RecordWorkflow.comment,
    Step.MOVE_PROCEDURE: RecordWorkflow.move_procedure,  # procedure-version pinning
    Step.RECORD_TRAINING: RecordWorkflow.record_training,  # QMS updates that gate closure
    # Honest pauses.
    Step.REQUEST_PAUSE: RecordWorkflow.request_pause,
    Step.DECIDE_PAUSE: RecordWorkflow.decide_pause,
    Step.RESUME: RecordWorkflow.resume,
}

# A step refused for a moment (its record continuing as new, or recovering from a lost worker: ten seconds at
# most) is sent again this often, this far apart.
_MOVING_ATTEMPTS = 75
_MOVING_PAUSE = 0.2
# How long the client layer waits for a locked database to write the snapshot a step returned, in seconds.
_SNAPSHOT_PATIENCE = 1.0
# A worker that polled the task queue this recently is running (a poll waits up to about a minute for work).
_POLLED_LATELY = timedelta(seconds=90)
# How long a reader waits for a record's workflow before showing it from the read model instead.
QUERY_TIMEOUT = timedelta(seconds=5)


def parsed(model: type[ModelT], values: Mapping[str, object]) -> ModelT:
    """A step (or any request) from what a front end collected; every field at fault is named at once."""
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise CapaError.from_validation(exc) from None


def holders_named(step: BaseModel) -> dict[str, str]:
    """The people a step makes hold something, by the field that names them."""
    return holders_in(type(step), step.model_dump())


def holders_in(model: type[BaseModel], values: Mapping[str, object]) -> dict[str, str]:
    """The people ``values`` (submitted as ``model``, checked or not) name to hold something, by field path."""
    named: dict[str, object] = {}
    if issubclass(model, RaiseStep):
        named["owner"] = values.get("owner")
    elif issubclass(model, ReassignStep):
        named["new_owner"] = values.get("new_owner")
    elif issubclass(model, PlanStep):
        actions = values.get("actions")
        for index, action in enumerate(actions if isinstance(actions, list) else []):
            if isinstance(action, Mapping):
                named[path("actions", index, "owner")] = action.get("owner")
    return {field: name for field, name in named.items() if isinstance(name, str)}


def records_named(step: BaseModel) -> dict[str, str]:
    """The other records a step names (links, a duplicate, similar records), by field path."""
    named: dict[str, str] = {}
    if isinstance(step, RaiseStep):
        named.update({path("links", i, "record_id"): link.record_id for i, link in enumerate(step.links or [])})
    elif isinstance(step, LinkStep):
        named["record_id"] = step.record_id
    elif isinstance(step, CancelStep) and step.duplicate_of is not None:
        named["duplicate_of"] = step.duplicate_of
    elif isinstance(step, RootCauseStep):
        named.update({path("similar", i): record_id for i, record_id in enumerate(step.similar or [])})
    return named


class Steps(Notifications):
    """Take steps on records and write what they return for the read model."""

    def __init__(self, temporal: Client, engine: Engine, settings: Settings) -> None:
        super().__init__(temporal, engine, settings)
        # How long a step waits for the workers before it is answered as pending.
        self._step_wait = timedelta(seconds=settings.step_wait)

    async def read_step(self, model: type[ModelT], values: Mapping[str, object]) -> ModelT:
        """``values`` as a front end collected them (None: not given), read into ``model``. When the model refuses
        some, the people it names to hold steps are checked too, so every field at fault is named at once; a step
        the model accepts has its people checked where it is taken (``take_step``, ``raise_record``)."""
        given = {name: value for name, value in values.items() if value is not None}
        try:
            return model.model_validate(given)
        except ValidationError as exc:
            problems = list(CapaError.from_validation(exc).problems)
        refused = {problem.field for problem in problems}
        holders = {field: name for field, name in holders_in(model, given).items() if field not in refused}
        problems.extend(await self.holder_problems(holders))
        raise CapaError.invalid(*problems)

    async def check_submitted(self, step: BaseModel) -> None:
        """What the workflow does not judge of a step, every fault at once: the people it names must be able to
        hold what it gives them, and its text must hold no control characters (``core.text``)."""
        problems = [FieldProblem(field, message) for field, message in text_problems(step)]
        problems.extend(await self.holder_problems(holders_named(step)))
        named = records_named(step)
        if named:
            known = await self._db(readmodel.existing_records, self._engine, list(named.values()))
            problems.extend(
                FieldProblem(field, f"there is no record {record_id}")
                for field, record_id in named.items()
                if record_id not in known
            )
        if problems:
            raise CapaError.invalid(*problems)

    async def take_step(self, record_id: str, actor_name: str, step: Payload) -> StepOutcome:
        """Send ``step`` to the record as ``actor_name``: its outcome once applied, ``StepPending`` when the
        workers are busy, else the record's refusal."""
        which = rules.step_submitting(type(step))
        actor = await self.actor(actor_name)
        await self.check_submitted(step)
        given: dict[str, Any] = {**await self._at_record_site(record_id, step.model_dump()), "actor": actor}
        if which is Step.REQUEST_EXTENSION:
            # The managers who may decide it: the requester's line, as the directory has it now.
            given["line"] = await self._db(readmodel.reporting_line, self._engine, actor.name)
        inp = parsed(rules.STEP_MODELS[which].input, given)
        return await self._update(record_id, STEP_UPDATES[which], inp)

    async def sign(self, record_id: str, actor_name: str, step: Payload, password: str) -> StepOutcome:
        """Take a signed step as ``actor_name``, who re-entered ``password`` to sign it (21 CFR 11.200).

        The password is checked against the directory (wrong ones counted, and signing locked after several, as
        at sign-in) and goes no further: the record gets the step's fields and the signature (printed name,
        meaning, UTC time, content hash), never the password. A wrong one is refused on the field ``password``
        (``SigningLocked`` once signing is locked) and nothing is recorded."""
        which = rules.step_submitting(type(step))
        meaning = rules.signature_meaning(which, step)
        if meaning is None:
            raise CapaError(ErrorKind.INVALID, f"{which.value} is not a signed step; take it without a password")
        # Only the step's own fields go on: a request body's ``password`` (or anything else) is left behind.
        submitted_model = rules.STEP_MODELS[which].submitted
        given = await self._at_record_site(record_id, step.model_dump(include=set(submitted_model.model_fields)))
        submitted = submitted_model.model_validate(given)
        await self.check_submitted(submitted)
        actor = await self.actor(actor_name)
        checked = await self.check_signer(record_id, actor.name, which, password)
        signature = signatures.signature(
            record_id,
            which.value,
            submitted,
            signer=actor.name,
            # The directory's printed name once it keeps one; the login name until then.
            full_name=readmodel.printed_name(checked),
            meaning=meaning,
            signed_at=datetime.now(UTC).replace(microsecond=0),
        )
        inp = parsed(rules.STEP_MODELS[which].input, {**submitted.model_dump(), "actor": actor, "signature": signature})
        if isinstance(inp, AmendInput):
            ended = await self._db(readmodel.load_record_state, self._engine, record_id)
            if ended is not None and not ended.stage.is_open:
                return await self._db(_amend_ended, self._engine, ended, inp)
        return await self._update(record_id, STEP_UPDATES[which], inp)

    async def _at_record_site(self, record_id: str, values: dict[str, Any]) -> dict[str, Any]:
        """A step's fields with each date-alone due (``models.dues``) at the end of its day in the zone of the
        record's site; the record is read only when there is such a due."""
        if not dues.has_site_days(values):
            return values
        state = await self._db(readmodel.load_record_state, self._engine, record_id)
        return await self.at_site(state.site if state is not None else None, values)

    async def check_signer(self, record_id: str, actor_name: str, which: Step, password: str) -> User:
        """The signer as the directory has them, once ``password`` is theirs; refused on the field ``password``
        (``SigningLocked`` once signing is locked) otherwise. What ``sign`` checks first; a front end that records
        something with the step (its files) checks it before that, so a wrong password records nothing."""
        # As at sign-in: the database parts in the shared pool, the Argon2 hash in a small pool of its own.
        attempt = await self._db(accounts.begin_signing, self._engine, actor_name)
        checked: User | accounts.SignInRefused
        if isinstance(attempt, accounts.SignInRefused):
            checked = attempt
        else:
            verified = await asyncio.get_running_loop().run_in_executor(
                accounts.HASHING, accounts.check_password, attempt, password
            )
            checked = await self._db(accounts.finish_signing, self._engine, attempt, *verified)
        if isinstance(checked, accounts.SignInRefused):
            locked = checked.retry_after is not None
            log.warning("signature refused", user=actor_name, record_id=record_id, step=which.value, locked=locked)
            if checked.retry_after is not None:
                raise SigningLocked(checked.retry_after)
            problem = FieldProblem("password", f"{checked.message}; nothing was recorded")
            raise CapaError(ErrorKind.NOT_ALLOWED, problem.said(), (problem,))
        return checked

    async def _update(self, record_id: str, update: StepUpdate, inp: StepInput) -> StepOutcome:
        handle = self._temporal.get_workflow_handle_for(RecordWorkflow.run, record_id)
        step = type(inp).__name__.removesuffix("Input")
        with structlog.contextvars.bound_contextvars(
            record_id=record_id, workflow_id=record_id, actor=inp.actor.name, step=step
        ):
            try:
                with translated(self._settings, record_id, self._step_wait):
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
        self, handle: WorkflowHandle[RecordWorkflow, CapaState], update: StepUpdate, inp: StepInput
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
            if not timed_out(exc):
                raise
            if await self._workers_polling():
                raise StepPending(handle.id, step, update_id) from None
            # Temporal holds the step until a worker takes it (unless the server restarts before one does,
            # which ``step_outcome`` reports): it is pending either way, not failed.
            why = f"no worker is running on task queue {self._settings.task_queue}: start one"
            raise StepPending(handle.id, step, update_id, why) from None

    async def _send_step(
        self,
        handle: WorkflowHandle[RecordWorkflow, CapaState],
        update: StepUpdate,
        inp: StepInput,
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
                if not recovering(exc):
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
            with translated(self._settings, record_id, patience):
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
                    if not timed_out(exc):
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

    async def _gone(self, record_id: str) -> CapaError:
        """Why a record has no running workflow: it ended (closed or cancelled), or it never existed."""
        stored = await self._db(readmodel.load_record_state, self._engine, record_id)
        if stored is None:
            return CapaError(ErrorKind.NOT_FOUND, f"{record_id} does not exist")
        return CapaError(ErrorKind.WRONG_STAGE, f"{record_id} is {stored.stage.value}; it can no longer change")


def _amend_ended(engine: Engine, state: CapaState, inp: AmendInput) -> StepOutcome:
    """Append a signed amendment to a closed or cancelled record, whose workflow has ended: judged by the same
    rules, chained to the record's last entry and written with the corrected field in one transaction."""
    try:
        rules.check_amend(state, inp)
        rules.check_signature(state.id, Step.AMEND, inp)
    except Rejection as rejection:
        raise CapaError.from_rejection(rejection) from None
    field = inp.field.value
    previous = getattr(state, field)
    value = rules.amended_value(state, inp)
    entry = AmendEntry.model_validate(
        {**inp.model_dump(exclude={"actor"}), "previous": None if previous is None else str(previous)}
    )
    last = state.events[-1] if state.events else None
    event = Event(
        seq=len(state.events) + 1, at=datetime.now(UTC), kind=EventKind.AMENDED, actor=inp.actor.name, details=entry
    )
    event.hash = chain.event_hash(state.id, event, (last.hash if last else None) or chain.GENESIS)
    change = RecordChange(
        record_id=state.id,
        after=len(state.events),
        fields={field: value, "chain_head": event.hash},
        new_events=[event],
    )
    _, written = write_change(engine, change)
    if not written:
        raise CapaError(ErrorKind.WRONG_STAGE, f"{state.id} changed meanwhile; look at it and amend again")
    log.info("closed record amended", record_id=state.id, workflow_id=state.id, actor=inp.actor.name, field=field)
    return StepOutcome(record_id=state.id, stage=state.stage, seq=event.seq, due_at=None, entries=[event])
