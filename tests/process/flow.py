"""Records under the current process rules, driven step by step through their workflow on a test server.

The steps here are valid for the bundled default policy's classes (a major record needs three whys and its escape
point; its plan waits for quality's approval); each test changes the one step it is about.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from models.enums import CauseCategory, Disposition, RootCauseMethod, Stage, TriageDecision, VerificationResult
from models.payloads import (
    CompleteActionInput,
    ContainmentInput,
    Criterion,
    PlanDecisionInput,
    PlanInput,
    PlannedAction,
    RootCauseInput,
    SignedInput,
    StepResult,
    TriageInput,
    VerifyInput,
)
from models.refusals import FieldProblem
from tests.builders import signed
from tests.policies import CURRENT
from tests.workflows.harness import Capa, actor, running_worker
from workflows.record import RecordWorkflow

# Severity and occurrence levels the default matrix maps to each class.
MINOR = (1, 1)
MAJOR = (4, 2)
CRITICAL = (5, 5)

BURR_REJECTS = Criterion(
    measure="burr rejects at final inspection",
    baseline="2.1 %",
    threshold="< 0.2 %",
    data_source="QC-DB line 3",
    window_days=30,
)
NO_RETURNS = Criterion(
    measure="customer returns for burrs",
    baseline="3 per month",
    threshold="0",
    data_source="complaints register",
    window_lots=10,
)


@asynccontextmanager
async def current_worker(client: Client, engine: Engine) -> AsyncIterator[str]:
    """A worker raising records under the current rules (the bundled default policy)."""
    async with running_worker(client, engine, policy=CURRENT) as queue:
        yield queue


async def refused(capa: Capa, update: Any, inp: Any) -> ApplicationError:
    """Send a step (signed by its actor where it is a signed step) that must be refused; prove it changed nothing
    and return the refusal."""
    if isinstance(inp, SignedInput):
        inp = signed(capa.handle.id, inp)
    before = await capa.state()
    with pytest.raises(WorkflowUpdateFailedError) as caught:
        await capa.handle.execute_update(update, inp)
    assert await capa.state() == before
    cause = caught.value.cause
    assert isinstance(cause, ApplicationError)
    return cause


def fields(refusal: ApplicationError) -> set[str | None]:
    """The fields a refusal names at fault."""
    return {problem.field for problem in (FieldProblem.from_json(d) for d in refusal.details) if problem}


async def now_of(capa: Capa) -> datetime:
    """The record's clock: the time of its latest entry or, on the test server, the server's time."""
    return (await capa.state()).events[-1].at


def containment(by: str = "olivia", **fields_: Any) -> ContainmentInput:
    values: dict[str, Any] = {"summary": "120 housings quarantined", "disposition": Disposition.SCRAP} | fields_
    return ContainmentInput(actor=actor(by), **values)


def triage(
    levels: tuple[int, int] = MAJOR,
    *,
    by: str = "quinn",
    decision: TriageDecision = TriageDecision.CAPA,
    rationale: str | None = None,
    **flags: bool,
) -> TriageInput:
    severity, occurrence = levels
    return TriageInput(
        actor=actor(by),
        severity_level=severity,
        occurrence_level=occurrence,
        decision=decision,
        rationale=rationale,
        **flags,
    )


def root_cause(by: str = "olivia", **fields_: Any) -> RootCauseInput:
    """A root cause a critical or major record accepts."""
    values: dict[str, Any] = {
        "method": RootCauseMethod.FIVE_WHYS,
        "cause": "Deburring tool worn beyond its change interval",
        "whys": ["Burr on the edge", "Tool worn", "No tool-life counter"],
        "category": CauseCategory.MACHINE,
        "escape_point": "Final visual inspection",
        "non_detection_cause": "The inspection instruction does not name the mating edge",
        "similar_checked": "Searched burr records of lines 1-3: none in 90 days",
    } | fields_
    return RootCauseInput(actor=actor(by), **values)


def action(owner: str, due_at: datetime, description: str = "Replace deburring tool", **extra: Any) -> PlannedAction:
    return PlannedAction(owner=owner, due_at=due_at, description=description, **extra)


def verification(
    by: str = "maria", result: VerificationResult = VerificationResult.PASS, **fields_: Any
) -> VerifyInput:
    """A verification the current rules accept: no adverse effect, with its evidence."""
    values: dict[str, Any] = {
        "evidence": "50 housings burr-free",
        "no_adverse_effect": True,
        "adverse_effect_evidence": "Cycle time and edge dimensions unchanged",
    } | fields_
    return VerifyInput(actor=actor(by), result=result, **values)


async def take(capa: Capa, update: Any, inp: Any) -> StepResult:
    return await capa.step(update, inp)


async def to_action(
    capa: Capa,
    *,
    owner: str = "olivia",
    levels: tuple[int, int] = MAJOR,
    triager: str = "quinn",
) -> None:
    """Contain, triage as a CAPA and find the root cause: the record waits for its plan."""
    await capa.step(RecordWorkflow.contain, containment(owner))
    await capa.step(RecordWorkflow.triage, triage(levels, by=triager))
    await capa.step(RecordWorkflow.root_cause, root_cause(owner))
    assert (await capa.state()).stage is Stage.ACTION


async def to_verification(
    capa: Capa,
    *,
    owner: str = "olivia",
    doer: str = "olivia",
    levels: tuple[int, int] = MAJOR,
    triager: str = "quinn",
    approver: str = "greta",
    criteria: list[Criterion] | None = None,
) -> None:
    """Through the plan (one action held by ``doer``, approved by quality where the class asks) to verification."""
    await to_action(capa, owner=owner, levels=levels, triager=triager)
    await plan_and_complete(capa, owner=owner, doer=doer, approver=approver, criteria=criteria)


async def plan_and_complete(
    capa: Capa,
    *,
    owner: str = "olivia",
    doer: str = "olivia",
    approver: str = "greta",
    criteria: list[Criterion] | None = None,
) -> None:
    """Plan one action held by ``doer``, approved by quality where the class asks, and complete it."""
    due = await now_of(capa) + timedelta(days=10)
    plan = PlanInput(actor=actor(owner), actions=[action(doer, due)], criteria=criteria)
    await capa.step(RecordWorkflow.plan, plan)
    if (await capa.state()).pending_plan is not None:
        await capa.step(RecordWorkflow.decide_plan, PlanDecisionInput(actor=actor(approver), approve=True))
    action_id = (await capa.state()).actions[-1].id
    done = CompleteActionInput(actor=actor(doer), action_id=action_id, evidence="Done, WO-1")
    await capa.step(RecordWorkflow.complete_action, done)
    assert (await capa.state()).stage is Stage.VERIFICATION
