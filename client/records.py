"""The client layer every front end shares (the CLI, the HTTP API and the web app): ``CapaClient``.

It raises records, takes their steps (``client.steps``), reads them, and reaches the directory
(``client.directory``), the notifications (``client.notifications``), what waits for whom (``client.work``) and
comments, watchers and each person's own notifications (``client.following``), each a layer of its own that
``CapaClient`` builds on. It holds no business rule: whether a step is accepted (stage, permission, payload) is
decided by the workflow's update validators (``models.rules``). Its one error type is ``client.errors.CapaError``.
"""

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import structlog
from sqlalchemy import Engine, Row
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client, WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.runtime import Runtime
from temporalio.service import RPCError

from client.errors import CapaError, ErrorKind, FieldProblem
from client.following import Following
from client.sentinels import SentinelRow, list_sentinels  # recurrence sentinels
from client.steps import QUERY_TIMEOUT, parsed
from client.temporal import (
    WORKER_TIMEOUT,
    connect,
    is_namespace_missing,
    is_unreachable,
    is_workflow_missing,
    namespace_missing,
    temporal_unavailable,
    timed_out,
    translated,
)
from client.work import MyWork
from core import readmodel, search, sites, stats
from core.database import make_engine
from core.readmodel import OverdueItem, RecordFilter
from core.search import SearchHit
from core.settings import Settings
from core.stats import Stats, StatsFilter
from models import rules
from models.enums import Severity, Stage
from models.payloads import CapaState, RaiseInput, RaiseStep, RecordInput
from models.policy import PinnedPolicy, Policy, PolicyError, ProcessRules, load_policy
from models.refusals import Rejection
from models.tables import Nonconformity
from workflows.capa import CapaWorkflow
from workflows.record import RecordWorkflow

log = structlog.get_logger(__name__)

# A raise is validated under this stand-in id before a real one is allocated, so bad input never burns a
# number: gaps in the NC sequence are the first thing an auditor asks about.
_DRAFT_ID = "NC-0000-0000"
# Each retry takes the next number; more collisions than this mean the database and Temporal disagree.
_ID_ATTEMPTS = 20
# How long ``raise_record`` waits for a worker to open the new record before saying none is running.
OPEN_TIMEOUT = timedelta(seconds=15)
# Why ``migrate_records`` did not move a record that closed while it ran: nothing is left to move.
ENDED_MEANWHILE = "ended meanwhile"


class Shown(NamedTuple):
    """A record as ``show_record`` found it; ``stale`` says why it comes from the read model, when it had to."""

    state: CapaState
    stale: str | None


class CapaClient(Following, MyWork):
    """Raise records, take their steps and read them, on behalf of a named user; the directory and the outbox."""

    def __init__(self, temporal: Client, engine: Engine, settings: Settings) -> None:
        super().__init__(temporal, engine, settings)
        self._policy: Policy | None = None

    @classmethod
    async def open(cls, settings: Settings, runtime: Runtime | None = None) -> "CapaClient":
        """Connect lazily, so the directory and the read model stay usable while Temporal is down.

        ``runtime`` carries a metrics exporter (the API process's).
        """
        temporal = await connect(settings, lazy=True, runtime=runtime)
        return cls(temporal, make_engine(settings.sqlalchemy_url), settings)

    async def _pinned_policy(self, severity: Severity) -> PinnedPolicy:
        """The deadlines a new record keeps for life: those of the policy in force."""
        return (await self.policy_in_force()).for_severity(severity)

    async def policy_in_force(self) -> Policy:
        """The policy new records are raised under: the one the workers published as they started
        (``readmodel.publish_policy``); before any worker has, CAPA_POLICY_FILE's, as a worker would read it."""
        published = await self._db(readmodel.policy_in_force, self._engine)
        if published is not None:
            return published
        if self._policy is None:
            try:
                self._policy = load_policy(self._settings.policy_file)
            except PolicyError as exc:
                raise CapaError(ErrorKind.UNAVAILABLE, f"CAPA_POLICY_FILE: {exc}") from None
        return self._policy

    # --- raising ------------------------------------------------------------------------------------------

    async def raise_record(self, actor_name: str, step: RaiseStep) -> str:
        """Start a record's workflow and return its id once a worker has opened it.

        Waiting for the worker means the id this returns is ready for the next step and shows in lists,
        so ``ID=$(capa raise ...); capa contain $ID ...`` never races the record's opening.
        """
        actor = await self.actor(actor_name)
        await self.check_submitted(step)
        # The record belongs to the site named, else to the raiser's home site (else the default site).
        site = step.site or await self.home_site(await self.user(actor.name))
        step = step.model_copy(update={"site": await self.checked_site(site)})
        draft = parsed(RaiseInput, {**step.model_dump(), "record_id": _DRAFT_ID, "raised_by": actor})
        policy = await self._pinned_policy(step.severity)
        # working-day calendars: the record pins its site's calendar, as it pins the policy.
        calendar = await self._db(sites.site_calendar, self._engine, step.site)
        try:
            rules.check_raise(policy, step)
            rules.check_raised_by_person(step)  # recurrence sentinels
        except Rejection as rejection:
            raise CapaError.from_rejection(rejection) from None
        for _ in range(_ID_ATTEMPTS):
            record_id = await self._db(readmodel.allocate_record_id, self._engine, datetime.now(UTC).year)
            raised = draft.model_copy(update={"record_id": record_id})
            try:
                with translated(self._settings, record_id, WORKER_TIMEOUT):
                    await self._temporal.start_workflow(
                        RecordWorkflow.run,
                        RecordInput(raised=raised, policy=policy, calendar=calendar),
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
        with translated(self._settings, record_id, WORKER_TIMEOUT):
            try:
                opened = await handle.execute_update(RecordWorkflow.opened, rpc_timeout=OPEN_TIMEOUT)
            except WorkflowUpdateFailedError:
                # Someone ended the record within the moment since it was raised: it exists, the worker writes it.
                return
            except (WorkflowUpdateRPCTimeoutOrCancelledError, RPCError) as exc:
                if not timed_out(exc):
                    raise
                if not await self._workers_polling():
                    raise self._not_opened(record_id) from None
                # Raised for good (the start is durable): the busy worker opens it and writes its row soon.
                log.warning("record raised; the busy workers have not opened it yet", record_id=record_id)
                return
        await self._write_read_model(opened)

    def _not_opened(self, record_id: str) -> CapaError:
        return CapaError(
            ErrorKind.UNAVAILABLE,
            f"{record_id} was raised, but no worker opened it within {OPEN_TIMEOUT.total_seconds():.0f}s; "
            f"is a worker running on task queue {self._settings.task_queue}?",
        )

    async def migrate_records(self) -> tuple[list[str], dict[str, str]]:
        """Move every running record of the earlier workflow shape to the current one (``migrate`` update).

        Returns the ids moved and, for the others, why not. Safe to run again: a moved record is no longer of
        the earlier shape, and a record that refuses (not yet open, or ended meanwhile) is named.
        """
        moved: list[str] = []
        refused: dict[str, str] = {}
        query = f"WorkflowType = '{CapaWorkflow.__name__}' AND ExecutionStatus = 'Running'"
        with translated(self._settings, "records", WORKER_TIMEOUT):
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
            with translated(self._settings, record_id, QUERY_TIMEOUT):
                try:
                    live = await self._live_state(record_id)
                    return Shown(await self._with_later_entries(live), None)
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

    async def _with_later_entries(self, live: CapaState) -> CapaState:
        """An ended record as the read model keeps it when it holds entries its finished workflow has not: signed
        amendments are appended there after closure (``client.steps``); an open record as its workflow answers."""
        if live.stage.is_open:
            return live
        stored = await self._db(readmodel.load_record_state, self._engine, live.id)
        return stored if stored is not None and len(stored.events) > len(live.events) else live

    async def list_records(
        self, where: RecordFilter | None = None, *, limit: int | None = None, offset: int = 0
    ) -> list[Nonconformity]:
        """Records passing ``where`` (all of them without), in its order."""
        where = await self._checked(where)
        return await self._db(
            readmodel.list_records,
            self._engine,
            where,
            now=datetime.now(UTC),
            limit=limit,
            offset=offset,
            default_site=self._settings.site_name,
        )

    async def record_columns(
        self, where: RecordFilter, columns: list[str], *, limit: int | None = None
    ) -> list[Row[Any]]:
        """Only ``columns`` of the records passing ``where``, in its order (for exports)."""
        where = await self._checked(where)
        return await self._db(
            readmodel.record_columns,
            self._engine,
            where,
            columns,
            now=datetime.now(UTC),
            limit=limit,
            default_site=self._settings.site_name,
        )

    async def count_records(self, where: RecordFilter | None = None) -> int:
        """How many records ``list_records`` lists with the same filter and no limit."""
        return await self._db(
            readmodel.count_records, self._engine, where, now=datetime.now(UTC), default_site=self._settings.site_name
        )

    async def _checked(self, where: RecordFilter | None) -> RecordFilter:
        where = where or RecordFilter()
        if where.owner is not None and await self._db(readmodel.get_user, self._engine, where.owner) is None:
            # A mistyped name would otherwise read as "this person has nothing".
            raise CapaError.invalid(FieldProblem("owner", f"no user named {where.owner}"))
        if where.site is not None:
            await self._db(sites.require_site, self._engine, where.site)
        return where

    async def links_of(self, state: CapaState) -> list[readmodel.LinkedRecord]:
        """The record's links both ways: those it made and those other records made to it."""
        return await self._db(readmodel.links_of, self._engine, state)

    async def process_rules(self) -> ProcessRules | None:
        """The process rules new records are raised under (the triage matrix and wording, the defect codes), as
        the workers published them; None under the earlier rules."""
        policy = await self._pinned_policy(Severity.MINOR)
        return policy.process

    async def overdue(
        self,
        *,
        severity: Severity | None = None,
        stage: Stage | None = None,
        holder: str | None = None,
        team_of: str | None = None,
    ) -> list[OverdueItem]:
        """Every deadline past due, most urgent first; only those of ``severity``, in ``stage``, held by
        ``holder``, or held by someone below ``team_of`` in the reporting lines, when given."""
        if holder is not None and await self._db(readmodel.get_user, self._engine, holder) is None:
            raise CapaError.invalid(FieldProblem("holder", f"no user named {holder}"))
        holders = [holder] if holder is not None else None
        if team_of is not None:
            team = await self.team_of(team_of)
            holders = [name for name in holders or team if name in team]
        return await self._db(
            readmodel.overdue_items, self._engine, datetime.now(UTC), severity=severity, stage=stage, holders=holders
        )

    async def team_of(self, manager: str) -> list[str]:
        """Everyone below ``manager`` in the reporting lines, however far down."""
        return await self._db(readmodel.team_of, self._engine, manager)

    async def management_stats(self, flt: StatsFilter, parts: Iterable[str]) -> Stats:
        """The management-review figures of ``parts`` for ``flt`` (``client.stats`` checks who asks)."""
        return await self._db(stats.compute, self._engine, flt, only=parts)

    async def similar_records(self, text: str, *, exclude: str | None = None, limit: int = 10) -> list[SearchHit]:
        """Earlier records sharing any meaningful word of ``text``, best match first, ``exclude`` left out (the
        record whose root cause is being investigated). Any text is safe: it is searched for its words only."""
        return await self._db(search.similar, self._engine, text, exclude=exclude, limit=limit)

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

    # --- recurrence sentinels ---

    async def list_sentinels(self) -> "list[SentinelRow]":
        """Every running recurrence sentinel: its key, rule, count, window, last firing and linked CAPA."""
        with translated(self._settings, "sentinels", WORKER_TIMEOUT):
            return await list_sentinels(self._temporal)
