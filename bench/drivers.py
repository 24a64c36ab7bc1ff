"""The sides of every figure: the product through its client layer, and the skeleton through the SDK; for the
step latency also the product through its HTTP API.

All take a record through the same steps: open (raise), contain, triage, root_cause, plan (with N actions and an
effectiveness criterion), decide_plan (its approval), complete_action for each, verify, and review once the
effectiveness window has passed.
"""

import asyncio
import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx
from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.service import RPCError, RPCStatusCode

from bench.skeleton import SkeletonInput, SkeletonStep, SkeletonWorkflow
from client.errors import CapaError, ErrorKind, SigningLocked, StepPending
from client.records import CapaClient
from core.readmodel import DEMO_PASSWORD
from models.enums import (
    CauseCategory,
    Disposition,
    EffectivenessResult,
    RootCauseMethod,
    Severity,
    Source,
    TriageDecision,
    VerificationResult,
)
from models.payloads import (
    CompleteActionStep,
    ContainmentStep,
    Criterion,
    CriterionResult,
    PlanDecisionStep,
    PlannedAction,
    PlanStep,
    RaiseStep,
    ReviewStep,
    RootCauseStep,
    StepOutcome,
    TriageStep,
    VerifyStep,
)

# The demo directory's people (seeded by the bench): otto raises, olivia owns, olivia and oscar own actions,
# maria (a manager who implemented nothing) verifies, quinn (quality) triages, approves the plan and reviews; each
# signs with their password.
RAISER = "otto"
OWNER = "olivia"
ACTION_OWNERS = ("olivia", "oscar")
MANAGER = "maria"
QUALITY = "quinn"
# Everyone the bench acts as: each gets an API token for the HTTP side.
USERS = tuple(dict.fromkeys((RAISER, OWNER, *ACTION_OWNERS, MANAGER, QUALITY)))

# Every step's content, the same on each side. The raise is major; triage keeps it major (severity 3,
# occurrence 3 in the default matrix) and decides a CAPA is needed.
TRIAGE = TriageStep(
    severity_level=3,
    occurrence_level=3,
    decision=TriageDecision.CAPA,
    rationale="Burr on a mating edge: a corrective action is needed",
)
# What a major root cause holds under the default policy: three whys, the category, the escape point and why it
# did not detect the burr, and the search for similar records.
ROOT_CAUSE = RootCauseStep(
    method=RootCauseMethod.FIVE_WHYS,
    cause="Deburring tool used beyond its change interval",
    whys=["Burr on edge", "Deburring tool worn", "No tool-life counter"],
    category=CauseCategory.MACHINE,
    escape_point="Final inspection, line 3",
    non_detection_cause="The edge is checked by sampling one housing per lot",
    similar_checked="Searched records of line 3 for burrs: none open",
)
CRITERION = Criterion(
    measure="housings with a burr at final inspection",
    baseline="2 %",
    threshold="0 %",
    data_source="final inspection, line 3",
    window_lots=5,
)
VERIFICATION = VerifyStep(
    result=VerificationResult.PASS,
    evidence="50 housings checked",
    no_adverse_effect=True,
    adverse_effect_evidence="Mating-edge dimensions of the 50 housings within tolerance",
)
REVIEW = ReviewStep(
    result=EffectivenessResult.EFFECTIVE,
    evidence="No recurrence",
    criteria_results=[CriterionResult(criterion=1, met=True, data="0 of 600 housings with a burr")],
)
PLAN_APPROVAL = PlanDecisionStep(approve=True)
# How many times a pending step is followed (each waits up to the client's CAPA_STEP_WAIT) before it is given up.
_FOLLOW_ATTEMPTS = 30
# How many times a signing refused for a moment (the signer's other signings in flight count as attempts) is tried
# again after the wait it was told.
_SIGNING_ATTEMPTS = 10
# How often a user looks whether the effectiveness review has fallen due, once its time has passed.
_REVIEW_POLL = 0.1


@dataclass(frozen=True)
class Footprint:
    """What a workflow left in Temporal, as the server counts it: history bytes and events, and state
    transitions (each a write of the workflow's state to the server's database)."""

    bytes: int = 0
    events: int = 0
    transitions: int = 0

    def __add__(self, other: "Footprint") -> "Footprint":
        return Footprint(self.bytes + other.bytes, self.events + other.events, self.transitions + other.transitions)


class Driver(Protocol):
    name: str

    async def open(self) -> str:
        """Raise a record; return its id once it is open for its first step."""

    async def step(
        self, record_id: str, name: str, *, actions: int = 1, due_at: datetime | None = None
    ) -> datetime | None:
        """Take one step and return the record's next due time.

        ``plan`` plans ``actions`` actions due at ``due_at``; ``complete_action`` completes action A<actions>.
        """

    async def review_ready(self, record_id: str) -> bool:
        """Whether the effectiveness review has fallen due."""


class ProductDriver:
    name = "capaflow"

    def __init__(self, capa: CapaClient, temporal: Client) -> None:
        self._capa = capa
        self._temporal = temporal
        # Steps answered "pending" (queued for a busy worker) and followed to their outcome.
        self.pending = 0

    @property
    def capa(self) -> CapaClient:
        return self._capa

    async def open(self) -> str:
        return await self._capa.raise_record(
            RAISER,
            RaiseStep(
                title="Burr on housing edge",
                description="Line 3 housings show a burr on the left edge",
                severity=Severity.MAJOR,
                source=Source.INSPECTION,
                owner=OWNER,
                product="H-200",
                lot="L-4711",
                quantity=120,
            ),
        )

    async def step(
        self, record_id: str, name: str, *, actions: int = 1, due_at: datetime | None = None
    ) -> datetime | None:
        try:
            result = await self._send(record_id, name, actions=actions, due_at=due_at)
        except StepPending as pending:
            # Queued for a busy worker: wait for it, as a person would look at the record again.
            self.pending += 1
            for _ in range(_FOLLOW_ATTEMPTS):
                try:
                    result = await self._capa.step_outcome(record_id, pending.update_id)
                    break
                except StepPending:
                    continue
                except CapaError as exc:
                    # Lost before a worker took it: the lifecycle is given up, like one the client layer gave up.
                    raise CapaError(ErrorKind.UNAVAILABLE, exc.message) from None
            else:
                raise CapaError(ErrorKind.UNAVAILABLE, f"{record_id}: {name} still pending after every follow-up")
        return result.due_at

    async def _send(self, record_id: str, name: str, *, actions: int, due_at: datetime | None) -> StepOutcome:
        capa = self._capa
        if name == "contain":
            result = await capa.take_step(
                record_id, OWNER, ContainmentStep(summary="Lot quarantined", disposition=Disposition.QUARANTINE)
            )
        elif name == "triage":
            result = await self._sign(record_id, QUALITY, TRIAGE)
        elif name == "root_cause":
            result = await capa.take_step(record_id, OWNER, ROOT_CAUSE)
        elif name == "plan":
            assert due_at is not None
            result = await capa.take_step(
                record_id,
                OWNER,
                PlanStep(
                    actions=[
                        PlannedAction(
                            owner=ACTION_OWNERS[i % 2], due_at=due_at, description=f"Corrective action {i + 1}"
                        )
                        for i in range(actions)
                    ],
                    criteria=[CRITERION],
                ),
            )
        elif name == "decide_plan":
            result = await self._sign(record_id, QUALITY, PLAN_APPROVAL)
        elif name == "complete_action":
            owner = ACTION_OWNERS[(actions - 1) % 2]
            result = await capa.take_step(
                record_id, owner, CompleteActionStep(action_id=f"A{actions}", evidence="Done, work order WO-5531")
            )
        elif name == "verify":
            result = await self._sign(record_id, MANAGER, VERIFICATION)
        elif name == "review":
            result = await self._sign(record_id, QUALITY, REVIEW)
        else:
            raise ValueError(f"unknown step {name}")
        return result

    async def _sign(
        self, record_id: str, signer: str, step: TriageStep | PlanDecisionStep | VerifyStep | ReviewStep
    ) -> StepOutcome:
        """Sign ``step`` as ``signer``; a signing held back while many of theirs are checked at once waits as told
        and is sent again, as a person would."""
        for _ in range(_SIGNING_ATTEMPTS):
            try:
                return await self._capa.sign(record_id, signer, step, DEMO_PASSWORD)
            except SigningLocked as locked:
                await asyncio.sleep(locked.retry_after)
        return await self._capa.sign(record_id, signer, step, DEMO_PASSWORD)

    async def review_ready(self, record_id: str) -> bool:
        return (await self._capa.show(record_id)).clock is not None

    async def history(self, record_id: str) -> Footprint:
        """The record's history and its alarm workflows' (``<id>-alarm-<n>``, numbered from 1)."""
        total = await workflow_footprint(self._temporal, record_id)
        for number in itertools.count(1):
            alarm = await workflow_footprint(self._temporal, f"{record_id}-alarm-{number}")
            if alarm == Footprint():
                return total
            total += alarm
        return total


class ApiDriver:
    """The product through its HTTP API (``/api/v1``), each person with their own bearer token.

    The same steps with the same content as ``ProductDriver``. A refusal comes back as the client layer's error
    (a 503 as ``Unavailable``, so an overloaded API counts as a lifecycle given up, as the client layer's does).
    """

    name = "capaflow-http"

    def __init__(self, http: httpx.AsyncClient, tokens: Mapping[str, str]) -> None:
        self._http = http
        self._tokens = dict(tokens)
        self.pending = 0

    async def _call(self, method: str, path: str, user: str, body: dict[str, Any] | None = None) -> Any:
        for _ in range(_SIGNING_ATTEMPTS):
            response = await self._http.request(
                method, f"/api/v1{path}", json=body, headers={"Authorization": f"Bearer {self._tokens[user]}"}
            )
            # A signing held back while many of the signer's are checked at once: wait as told, and send it again.
            if response.status_code != 429 or "Retry-After" not in response.headers:
                break
            await asyncio.sleep(int(response.headers["Retry-After"]))
        followed = response.status_code == 202 and "Location" in response.headers
        self.pending += followed
        for _ in range(_FOLLOW_ATTEMPTS):
            if response.status_code != 202 or "Location" not in response.headers:
                break
            # Queued for a busy worker: follow the step to its outcome.
            response = await self._http.get(
                response.headers["Location"], headers={"Authorization": f"Bearer {self._tokens[user]}"}
            )
        if response.is_success and response.status_code != 202:
            return response.json()
        try:
            problem = response.json()
        except ValueError:
            problem = {}
        detail = f"{method} {path} as {user}: {response.status_code} {problem.get('detail', response.text[:200])}"
        kinds = {kind.value: kind for kind in ErrorKind}
        if response.status_code in (202, 503) or followed:
            # Overloaded, or a pending step still not applied (or lost) after every follow-up: given up.
            raise CapaError(ErrorKind.UNAVAILABLE, detail)
        if problem.get("kind") in kinds:
            raise CapaError(kinds[problem["kind"]], detail)
        raise RuntimeError(detail)

    async def open(self) -> str:
        raised = await self._call(
            "POST",
            "/records",
            RAISER,
            {
                "title": "Burr on housing edge",
                "description": "Line 3 housings show a burr on the left edge",
                "severity": Severity.MAJOR.value,
                "source": Source.INSPECTION.value,
                "owner": OWNER,
                "product": "H-200",
                "lot": "L-4711",
                "quantity": 120,
            },
        )
        record_id: str = raised["id"]
        return record_id

    async def step(
        self, record_id: str, name: str, *, actions: int = 1, due_at: datetime | None = None
    ) -> datetime | None:
        path = f"/records/{record_id}"
        if name == "contain":
            result = await self._call(
                "POST",
                f"{path}/containment",
                OWNER,
                {"summary": "Lot quarantined", "disposition": Disposition.QUARANTINE.value},
            )
        elif name == "triage":
            result = await self._sign(record_id, "triage", QUALITY, TRIAGE)
        elif name == "root_cause":
            result = await self._call(
                "POST", f"{path}/root-cause", OWNER, ROOT_CAUSE.model_dump(mode="json", exclude_none=True)
            )
        elif name == "plan":
            assert due_at is not None
            planned = [
                {
                    "owner": ACTION_OWNERS[i % 2],
                    "due_at": due_at.isoformat(),
                    "description": f"Corrective action {i + 1}",
                }
                for i in range(actions)
            ]
            criteria = [CRITERION.model_dump(mode="json", exclude_none=True)]
            result = await self._call("POST", f"{path}/plan", OWNER, {"actions": planned, "criteria": criteria})
        elif name == "decide_plan":
            result = await self._sign(record_id, "plan-decision", QUALITY, PLAN_APPROVAL)
        elif name == "complete_action":
            owner = ACTION_OWNERS[(actions - 1) % 2]
            result = await self._call(
                "POST", f"{path}/actions/A{actions}/completion", owner, {"evidence": "Done, work order WO-5531"}
            )
        elif name == "verify":
            result = await self._call("POST", f"{path}/verification", MANAGER, _signed(VERIFICATION))
        elif name == "review":
            result = await self._call("POST", f"{path}/review", QUALITY, _signed(REVIEW))
        else:
            raise ValueError(f"unknown step {name}")
        due = result.get("due_at")
        return datetime.fromisoformat(due) if due else None

    async def _sign(
        self, record_id: str, route: str, signer: str, step: TriageStep | PlanDecisionStep
    ) -> dict[str, Any]:
        """``POST /records/{id}/{route}``, signed with the signer's password."""
        result: dict[str, Any] = await self._call("POST", f"/records/{record_id}/{route}", signer, _signed(step))
        return result

    async def review_ready(self, record_id: str) -> bool:
        state = await self._call("GET", f"/records/{record_id}", MANAGER)
        return state.get("clock") is not None


def _signed(step: TriageStep | PlanDecisionStep | VerifyStep | ReviewStep) -> dict[str, Any]:
    """A signed step's request body: its fields and the signer's password."""
    return {**step.model_dump(mode="json", exclude_none=True), "password": DEMO_PASSWORD}


class SkeletonDriver:
    name = "skeleton"

    def __init__(self, client: Client, task_queue: str) -> None:
        self._client = client
        self._task_queue = task_queue
        self._numbers = itertools.count(1)
        self._run = f"{id(self):x}"

    async def open(self) -> str:
        record_id = f"SK-{self._run}-{next(self._numbers):06d}"
        start = WithStartWorkflowOperation(
            SkeletonWorkflow.run,
            SkeletonInput(record_id=record_id),
            id=record_id,
            task_queue=self._task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        )
        await self._client.execute_update_with_start_workflow(SkeletonWorkflow.opened, start_workflow_operation=start)
        return record_id

    async def step(
        self, record_id: str, name: str, *, actions: int = 1, due_at: datetime | None = None
    ) -> datetime | None:
        handle = self._client.get_workflow_handle_for(SkeletonWorkflow.run, record_id)
        step = SkeletonStep(name=name, text="evidence", due_at=due_at)
        result = await handle.execute_update(SkeletonWorkflow.step, step)
        return result.due_at

    async def review_ready(self, record_id: str) -> bool:
        handle = self._client.get_workflow_handle_for(SkeletonWorkflow.run, record_id)
        return await handle.query(SkeletonWorkflow.review_ready)

    async def history(self, record_id: str) -> Footprint:
        return await workflow_footprint(self._client, record_id)


async def workflow_footprint(client: Client, workflow_id: str) -> Footprint:
    """A workflow's ``Footprint``; all zero for no such workflow."""
    try:
        described = await client.get_workflow_handle(workflow_id).describe()
    except RPCError as exc:
        if exc.status is not RPCStatusCode.NOT_FOUND:
            raise
        return Footprint()
    info = described.raw_description.workflow_execution_info
    return Footprint(info.history_size_bytes, info.history_length, info.state_transition_count)


def lifecycle_steps(actions: int) -> list[tuple[str, int]]:
    """The updates of one lifecycle, in order: 7 + ``actions`` of them."""
    return [
        ("contain", 1),
        ("triage", 1),
        ("root_cause", 1),
        ("plan", actions),
        ("decide_plan", 1),
        *(("complete_action", n) for n in range(1, actions + 1)),
        ("verify", 1),
        ("review", 1),
    ]


async def wait_review(driver: Driver, record_id: str, due_at: datetime | None, within: float = 300.0) -> None:
    """Wait for the effectiveness window to pass, then until the record says its review is due (every 100 ms).

    A review that an overloaded machine has not brought due within ``within`` seconds gives the lifecycle up.
    """
    if due_at is not None:
        await asyncio.sleep(max(0.0, (due_at - datetime.now(UTC)).total_seconds()))
    try:
        async with asyncio.timeout(within):
            while True:
                if await driver.review_ready(record_id):
                    return
                await asyncio.sleep(_REVIEW_POLL)
    except TimeoutError:
        raise CapaError(ErrorKind.UNAVAILABLE, f"{record_id}: review not due {within:.0f}s after its window") from None
