"""Recurrence sentinels: feeding each sentinel a raise, and a sentinel's firing.

``feed_sentinels`` is called from ``StepActivities.settle_step`` after the step that raised a record: for every rule
of the policy in force that watches the record's key, it signals-with-start the sentinel of that key
(``workflows.sentinel``) with the record id. Idempotent: a sentinel counts a record id once.

``sentinel_fire`` opens the linked CAPA of a firing under an ordinary record id, allocated from the record counter
once per firing (``core.sentinels``: a retried attempt, after a worker died mid-fire, finds the id and the record
started, and opens nothing more), or records the recurrence on the
open linked CAPA (its rule refuses a record id twice, leaving nothing).
"""

import asyncio
import json
from datetime import UTC, datetime

import structlog
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from temporalio import activity
from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from activities.notifications import Notifier
from activities.records import escalation_recipients
from client.errors import CapaError, ErrorKind
from client.recurrence import record_recurrence
from core import readmodel
from core.sentinels import firing_record_id
from core.sites import site_calendar
from models.enums import EventKind, LinkKind, Role, Source
from models.notices import sentinel_fired
from models.payloads import (
    SYSTEM_ACTOR,
    Actor,
    CapaState,
    LinkRef,
    RaiseInput,
    RecordInput,
    RecurrenceInput,
    RecurrenceSource,
    StepEffects,
)
from models.policy import Policy
from models.sentinels import FireInput, FireResult, Occurrence, SentinelRule, SentinelState, key_of, sentinel_id
from models.tables import Nonconformity

log = structlog.get_logger(__name__)

# The record workflow's registered name (workflows.record imports the activities, so not imported here).
RECORD_WORKFLOW = "CapaRecord"


def facts_of(state: CapaState) -> dict[str, object]:
    """What a rule may match on, of one record (its cause category once root cause has named one)."""
    return {
        "product": state.product,
        "defect_code": state.defect_code,
        "supplier": state.supplier,
        "customer": state.customer,
        "site": state.site,
        "severity": state.severity,
        "cause_category": state.root_causes[-1].category if state.root_causes else None,
    }


def categorised(effects: StepEffects) -> bool:
    """Whether the step submitted a root cause (which may name the cause category)."""
    events = effects.change.new_events if effects.change is not None else []
    if effects.snapshot is not None:
        events = [*events, *effects.snapshot.new_events]
    return any(event.kind is EventKind.ROOT_CAUSE_SUBMITTED for event in events)


def stored_state(engine: Engine, record_id: str) -> CapaState | None:
    """The record as the read model holds it (without its entries)."""
    with Session(engine) as session:
        row = session.exec(select(Nonconformity.state_json).where(col(Nonconformity.id) == record_id)).first()
    return None if row is None else CapaState.model_validate({**json.loads(row), "events": []})


def _site_of(engine: Engine, record_ids: list[str]) -> str | None:
    """The site of the first triggering record the read model holds (the linked CAPA belongs there)."""
    for record_id in record_ids:
        state = stored_state(engine, record_id)
        if state is not None and state.site:
            return state.site
    return None


async def feed_sentinels(
    temporal: Client, policy: Policy | None, state: CapaState, task_queue: str, *, at_root_cause: bool = False
) -> int:
    """Signal ``state`` (a record just raised, or whose root cause was just submitted) to every sentinel of
    ``policy`` watching its key; how many. Rules on the cause category are fed at root cause, the others at the
    raise."""
    if policy is None or not policy.sentinels or state.raised_by == SYSTEM_ACTOR:
        return 0  # a CAPA a sentinel opened is no occurrence of its own key
    facts = facts_of(state)
    fed = 0
    for rule in policy.sentinels:
        if ("cause_category" in rule.match) != at_root_cause:
            continue
        key = key_of(rule, facts)
        if key is None:
            continue
        workflow_id = sentinel_id(rule.name, key)
        occurrence = Occurrence(record_id=state.id, at=state.raised_at)
        if rule.after_closed:
            # Only a sentinel a close armed counts raises: none running, nothing to count.
            try:
                await temporal.get_workflow_handle(workflow_id).signal("occurrence", occurrence)
            except RPCError as exc:
                if exc.status is not RPCStatusCode.NOT_FOUND:
                    raise
                continue
        else:
            await _signal_with_start(temporal, rule, key, task_queue, signal="occurrence", occurrence=occurrence)
        log.info("sentinel fed", record_id=state.id, workflow_id=workflow_id, actor=SYSTEM_ACTOR, rule=rule.name)
        fed += 1
    return fed


async def feed_closed(temporal: Client, policy: Policy | None, state: CapaState, task_queue: str) -> int:
    """Arm every sentinel of ``policy`` counting recurrences after a close with ``state`` (a record just closed, of
    the rule's key and severity); how many."""
    if policy is None or state.closed_at is None or state.raised_by == SYSTEM_ACTOR:
        return 0
    facts = facts_of(state)
    armed = 0
    for rule in policy.sentinels:
        key = key_of(rule, facts, closing=True) if rule.after_closed else None
        if key is None:
            continue
        closed = Occurrence(record_id=state.id, at=state.closed_at)
        await _signal_with_start(temporal, rule, key, task_queue, signal="closed", occurrence=closed)
        log.info(
            "sentinel armed by a close",
            record_id=state.id,
            workflow_id=sentinel_id(rule.name, key),
            actor=SYSTEM_ACTOR,
            rule=rule.name,
        )
        armed += 1
    return armed


def closed_by(effects: StepEffects) -> bool:
    """Whether the step closed the record."""
    events = effects.change.new_events if effects.change is not None else []
    if effects.snapshot is not None:
        events = [*events, *effects.snapshot.new_events]
    return any(event.kind is EventKind.CLOSED for event in events)


async def _signal_with_start(
    temporal: Client, rule: SentinelRule, key: list[str], task_queue: str, *, signal: str, occurrence: Occurrence
) -> None:
    start = SentinelState(rule=rule, key=key, facts=dict(zip(rule.match, key, strict=True)))
    await temporal.start_workflow(
        "SentinelWorkflow",
        start,
        id=sentinel_id(rule.name, key),
        task_queue=task_queue,
        start_signal=signal,
        start_signal_args=[occurrence],
    )


class SentinelActivities:
    def __init__(self, engine: Engine, client: Client, policy: Policy, notifier: Notifier | None = None) -> None:
        self._engine = engine
        self._client = client
        self._policy = policy
        self._notifier = notifier

    @activity.defn(name="sentinel_fire")
    async def sentinel_fire(self, inp: FireInput) -> FireResult:
        fields = {"workflow_id": inp.sentinel, "actor": SYSTEM_ACTOR, "rule": inp.rule.name}
        if inp.linked is not None:
            recipients = escalation_recipients(self._engine, inp.rule.owner, 1)
            step = RecurrenceInput(
                source=RecurrenceSource.SENTINEL,
                rule=inp.rule.name,
                record_ids=inp.record_ids,
                escalate=True,
                recipients=recipients,
            )
            try:
                await record_recurrence(self._client, inp.linked, step)
            except CapaError as exc:
                if exc.kind is ErrorKind.INVALID:
                    return FireResult(record_id=inp.linked)  # already recorded (a retried firing)
                if exc.kind is ErrorKind.WRONG_STAGE and "still being opened" in exc.message:
                    raise  # not open yet: asked again
                if exc.kind in (ErrorKind.WRONG_STAGE, ErrorKind.NOT_FOUND):
                    log.info("linked CAPA has ended", record_id=inp.linked, reason=exc.message, **fields)
                    return FireResult(record_id=None, recorded=False)
                raise
            return FireResult(record_id=inp.linked)
        return FireResult(record_id=await self._open(inp, await self._record_id(inp), fields))

    @activity.defn(name="sentinel_linked_open")
    async def sentinel_linked_open(self, record_id: str) -> bool:
        """Whether a sentinel's linked CAPA is still open (one the read model does not hold yet counts as open)."""
        state = await asyncio.to_thread(stored_state, self._engine, record_id)
        return state is None or state.stage.is_open

    async def _record_id(self, inp: FireInput) -> str:
        """The linked CAPA's id: allocated from the record counter once per firing key (a retry finds it)."""
        if inp.first_run is None or inp.firing is None:
            assert inp.record_id is not None  # scheduled before firings were numbered in the database
            return inp.record_id
        year = datetime.now(UTC).year
        return await asyncio.to_thread(firing_record_id, self._engine, inp.sentinel, inp.first_run, inp.firing, year)

    async def _open(self, inp: FireInput, record_id: str, fields: dict[str, str]) -> str:
        rule = inp.rule
        policy = readmodel.policy_in_force(self._engine) or self._policy
        said = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in inp.facts.items())
        raised = RaiseInput(
            record_id=record_id,
            title=f"Recurrence: rule {rule.name} fired on {said}"[:200],
            description=(
                f"The recurrence rule {rule.name} fired: {len(inp.record_ids)} nonconformities with {said} within "
                f"{rule.window.days} days: {', '.join(inp.record_ids)}."
            ),
            severity=rule.raise_severity,
            source=Source.PROCESS,
            owner=rule.owner,
            raised_by=Actor(name=SYSTEM_ACTOR, roles=[Role.QUALITY]),
            product=inp.facts.get("product"),
            defect_code=inp.facts.get("defect_code"),
            supplier=inp.facts.get("supplier"),
            customer=inp.facts.get("customer"),
            site=inp.facts.get("site") or await asyncio.to_thread(_site_of, self._engine, inp.record_ids),
            links=[LinkRef(kind=LinkKind.RELATED, record_id=r) for r in inp.record_ids[:20]],
            raised_by_rule=rule.name,
            triggered_by=inp.record_ids,
        )
        # The record pins its site's calendar, as a person's raise does.
        calendar = await asyncio.to_thread(site_calendar, self._engine, raised.site)
        try:
            await self._client.start_workflow(
                RECORD_WORKFLOW,
                RecordInput(raised=raised, policy=policy.for_severity(rule.raise_severity), calendar=calendar),
                id=record_id,
                task_queue=activity.info().task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            )
        except WorkflowAlreadyStartedError:
            log.info("linked CAPA already opened", record_id=record_id, **fields)
        else:
            log.info("linked CAPA opened", record_id=record_id, records=inp.record_ids, at=datetime.now(UTC), **fields)
        await self._tell_quality(inp, record_id)
        return record_id

    async def _tell_quality(self, inp: FireInput, record_id: str) -> None:
        """Quality hears that the rule fired, with the rule and the records that triggered it (queued once per
        firing: a retry after a lost worker queues nothing more)."""
        if self._notifier is None:
            return
        told = sentinel_fired(record_id, inp.rule.name, inp.rule.owner, inp.facts, inp.record_ids)
        await asyncio.to_thread(self._notifier.notify, [told])
