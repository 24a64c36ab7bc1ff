"""Bad input at volume: every step's payload, drawn at random, through the client layer against a real server.

Each input is accepted, or refused with a ``CapaError`` that names every field at fault (``problems``). Either
way no workflow task fails; a refusal leaves no trace (no update in the history, no timeline entry, no record
number used up) and the read model never holds a half-written row: it equals the workflow's own state.
"""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func
from sqlmodel import Session, select
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment

from client.errors import CapaError, ErrorKind
from client.records import CapaClient
from client.steps import parsed
from core import accounts, readmodel
from core.database import make_engine
from core.migrations import ensure_schema
from core.settings import Settings
from models import rules
from models.enums import (
    ActionKind,
    CauseCategory,
    Disposition,
    EffectivenessResult,
    RootCauseMethod,
    Severity,
    Source,
    Stage,
    VerificationResult,
)
from models.payloads import (
    CancelStep,
    CompleteActionStep,
    ContainmentStep,
    ExtensionDecisionStep,
    ExtensionRequestStep,
    Payload,
    PlanStep,
    RaiseStep,
    ReassignStep,
    ReviewStep,
    RootCauseStep,
    VerifyStep,
)
from models.policy import load_policy
from models.tables import Nonconformity, RecordSequence
from tests.builders import raise_burr
from tests.conftest import number_records_apart, seed_directory
from tests.policies import uniform_policy
from tests.stack import PASSWORD
from tests.workers.harness import eventually
from tests.workflows.harness import running_worker
from workflows.record import RecordWorkflow

# Hour-long windows: no timer fires while examples run, so a refused step's history must stay as it was.
# The effectiveness window is a second, so records reach their review quickly.
POLICY = uniform_policy("properties", remind_before=["30m"], escalate_after=["0s"], effectiveness_after="1s")
EXAMPLES = 25

Send = Callable[[CapaClient, str, dict[str, Any]], Awaitable[object]]


@dataclass
class Bench:
    capa: CapaClient
    env: WorkflowEnvironment
    engine: Engine
    # The record each step is tried on, in the stage that step belongs to; a new one once a step is accepted.
    records: dict[str, str] = field(default_factory=dict)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def bench(dev_server: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Bench]:
    workdir = Path(tmp_path_factory.mktemp("properties"))
    policy = workdir / "policy.toml"
    policy.write_text(POLICY)
    url = f"sqlite:///{workdir / 'capaflow.db'}"
    engine = make_engine(url)
    ensure_schema(engine)
    seed_directory(engine)
    number_records_apart(engine)
    accounts.set_password(engine, "maria", PASSWORD)  # she signs verifications, reviews, decisions, cancellations
    async with running_worker(dev_server.client, engine, load_policy(policy)) as task_queue:
        settings_ = Settings(task_queue=task_queue, database_url=url, policy_file=policy)
        yield Bench(CapaClient(dev_server.client, engine, settings_), dev_server, engine)


# --- strategies ---------------------------------------------------------------------------------------------


def texts(max_length: int) -> st.SearchStrategy[str]:
    """Mostly fine text, and the edges: empty, blank, just short enough, too long."""
    return st.one_of(
        st.text(min_size=1, max_size=30),
        st.sampled_from(["", "   ", "\n\t"]),
        st.integers(max_length - 2, max_length).map(lambda n: "y" * n),
        st.integers(max_length + 1, max_length + 20).map(lambda n: "x" * n),
    )


def choices(enum: type[StrEnum]) -> st.SearchStrategy[Any]:
    """A member, its value as a string, or a string that is neither."""
    return st.one_of(st.sampled_from(list(enum)), st.sampled_from([m.value for m in enum]), st.text(max_size=12))


people = st.sampled_from(["olivia", "oscar", "mike", "otto", "nobody", "", "two words", "x" * 70])
quantities = st.one_of(st.none(), st.integers(-(10**10), 10**10))
moments = st.one_of(
    st.integers(-86_400, 86_400 * 60).map(lambda s: datetime.now(UTC) + timedelta(seconds=s)),
    # Naive moments on purpose: a front-end may pass a date without a time zone.
    st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2200, 1, 1)),  # noqa: DTZ001
    st.datetimes(timezones=st.just(UTC)),
)
action_ids = st.one_of(st.none(), st.sampled_from(["A1", "A2", "A99", "", "a1"]), st.text(max_size=8))
planned = st.fixed_dictionaries(
    {"owner": people, "due_at": moments, "description": texts(4000), "kind": choices(ActionKind)}
)


def _taking(model: type[Payload], who: str) -> Send:
    """Send a step as a front end does: the payload read into the step's model, then taken."""

    async def send(capa: CapaClient, rid: str, payload: dict[str, Any]) -> object:
        step = parsed(model, payload)
        if rules.step_submitting(model) in rules.SIGNED_STEPS:
            return await capa.sign(rid, who, step, PASSWORD)
        return await capa.take_step(rid, who, step)

    return send


async def _raising(capa: CapaClient, _rid: str, payload: dict[str, Any]) -> object:
    return await capa.raise_record("otto", parsed(RaiseStep, payload))


@dataclass(frozen=True)
class Step:
    name: str
    fields: tuple[str, ...]  # the fields a refusal may name (the first part of its path)
    payloads: st.SearchStrategy[dict[str, Any]]
    send: Send
    prepare: Callable[[CapaClient], Awaitable[str]] | None


async def _contained(capa: CapaClient) -> str:
    rid = await raise_burr(capa)
    await capa.take_step(
        rid, "olivia", parsed(ContainmentStep, {"summary": "Quarantined", "disposition": Disposition.QUARANTINE})
    )
    return rid


async def _caused(capa: CapaClient) -> str:
    rid = await _contained(capa)
    await capa.take_step(
        rid, "olivia", parsed(RootCauseStep, {"method": RootCauseMethod.OTHER, "cause": "Worn tool", "whys": []})
    )
    return rid


async def _planned(capa: CapaClient) -> str:
    rid = await _caused(capa)
    due = datetime.now(UTC) + timedelta(hours=2)
    await capa.take_step(
        rid,
        "olivia",
        parsed(PlanStep, {"actions": [{"owner": "olivia", "due_at": due, "description": "Replace the tool"}]}),
    )
    return rid


async def _done(capa: CapaClient) -> str:
    rid = await _planned(capa)
    await capa.take_step(rid, "olivia", parsed(CompleteActionStep, {"action_id": "A1", "evidence": "WO-1"}))
    return rid


async def _review_due(capa: CapaClient) -> str:
    rid = await _done(capa)
    await capa.sign(
        rid, "maria", parsed(VerifyStep, {"result": VerificationResult.PASS, "evidence": "Checked"}), PASSWORD
    )

    async def review_due() -> bool:
        # Due in the workflow, and its entry written to the read model (the window's alarm settles on its own).
        state = await capa.show(rid)
        stored = {
            row.id: row.last_seq for row in await capa.list_records(readmodel.RecordFilter(stage=Stage.EFFECTIVENESS))
        }
        return state.clock is not None and stored.get(rid, 0) >= len(state.events)

    await eventually(review_due, 15, f"the effectiveness review of {rid} to fall due")
    return rid


async def _extension_asked(capa: CapaClient) -> str:
    rid = await raise_burr(capa)
    state = await capa.show(rid)
    assert state.clock is not None
    await capa.take_step(
        rid,
        "olivia",
        parsed(ExtensionRequestStep, {"until": state.clock.due_at + timedelta(days=1), "reason": "Lab busy"}),
    )
    return rid


STEPS = [
    Step(
        "raise",
        ("title", "description", "severity", "source", "owner", "product", "lot", "quantity"),
        st.fixed_dictionaries(
            {
                "title": texts(200),
                "description": texts(4000),
                "severity": choices(Severity),
                "source": choices(Source),
                "owner": people,
                "product": st.one_of(st.none(), texts(200)),
                "lot": st.one_of(st.none(), texts(200)),
                "quantity": quantities,
            }
        ),
        _raising,
        None,
    ),
    Step(
        "contain",
        ("summary", "disposition", "quantity"),
        st.fixed_dictionaries({"summary": texts(4000), "disposition": choices(Disposition), "quantity": quantities}),
        _taking(ContainmentStep, "olivia"),
        raise_burr,
    ),
    Step(
        "root cause",
        ("method", "cause", "whys", "category", "escape_point", "similar_checked"),
        st.fixed_dictionaries(
            {
                "method": choices(RootCauseMethod),
                "cause": texts(4000),
                "whys": st.lists(texts(4000), max_size=22),
                "category": st.one_of(st.none(), choices(CauseCategory)),
                "escape_point": st.one_of(st.none(), texts(200)),
                "similar_checked": st.one_of(st.none(), texts(4000)),
            }
        ),
        _taking(RootCauseStep, "olivia"),
        _contained,
    ),
    Step(
        "plan",
        ("actions", "affected_documents", "no_documents_justification"),
        st.fixed_dictionaries({"actions": st.lists(planned, max_size=3)}),
        _taking(PlanStep, "olivia"),
        _caused,
    ),
    Step(
        "complete action",
        ("action_id", "evidence"),
        st.fixed_dictionaries({"action_id": action_ids.filter(lambda a: a is not None), "evidence": texts(4000)}),
        _taking(CompleteActionStep, "olivia"),
        _planned,
    ),
    Step(
        "verify",
        ("result", "evidence"),
        st.fixed_dictionaries({"result": choices(VerificationResult), "evidence": texts(4000)}),
        _taking(VerifyStep, "maria"),
        _done,
    ),
    Step(
        "review",
        ("result", "evidence"),
        st.fixed_dictionaries({"result": choices(EffectivenessResult), "evidence": texts(4000)}),
        _taking(ReviewStep, "maria"),
        _review_due,
    ),
    Step(
        "request extension",
        ("action_id", "until", "reason"),
        st.fixed_dictionaries({"action_id": action_ids, "until": moments, "reason": texts(4000)}),
        _taking(ExtensionRequestStep, "olivia"),
        raise_burr,
    ),
    Step(
        "decide extension",
        ("approve", "reason"),
        st.fixed_dictionaries({"approve": st.booleans(), "reason": st.one_of(st.none(), texts(4000))}),
        _taking(ExtensionDecisionStep, "maria"),
        _extension_asked,
    ),
    Step(
        "reassign",
        ("new_owner", "action_id", "reason"),
        st.fixed_dictionaries({"new_owner": people, "action_id": action_ids, "reason": texts(4000)}),
        _taking(ReassignStep, "maria"),
        _planned,
    ),
    Step(
        "cancel",
        ("reason",),
        st.fixed_dictionaries({"reason": texts(4000)}),
        _taking(CancelStep, "maria"),
        raise_burr,
    ),
]


# --- what must hold -----------------------------------------------------------------------------------------


@dataclass
class Trace:
    """What a step could have written: updates in the history, timeline entries, record numbers, rows."""

    updates: int
    failed_tasks: int
    events: int
    numbers: int
    records: int


async def _trace(bench: Bench, rid: str | None) -> Trace:
    updates = failed = events = 0
    if rid is not None:
        handle = bench.env.client.get_workflow_handle_for(RecordWorkflow.run, rid)
        history = await handle.fetch_history()
        kinds = [e.event_type for e in history.events]
        updates = kinds.count(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED)
        failed = kinds.count(EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED)
        events = len((await handle.query(RecordWorkflow.state)).events)
    with Session(bench.engine) as session:
        numbers = session.exec(select(func.coalesce(func.sum(RecordSequence.last), 0))).one()
        records = session.exec(select(func.count()).select_from(Nonconformity)).one()
    return Trace(updates, failed, events, int(numbers), int(records))


async def _assert_read_model_matches(bench: Bench, rid: str) -> None:
    live = await bench.env.client.get_workflow_handle_for(RecordWorkflow.run, rid).query(RecordWorkflow.state)
    stored = await asyncio.to_thread(readmodel.load_record_state, bench.engine, rid)
    assert stored is not None, f"{rid}: no row in the read model"
    assert stored.model_dump(mode="json") == live.model_dump(mode="json"), f"{rid}: read model differs"


async def _outcome(sent: Awaitable[object]) -> object:
    """What the client layer answered: the step's result, or the CapaError it refused the step with."""
    try:
        return await sent
    except CapaError as refusal:
        return refusal


async def _try(bench: Bench, step: Step, payload: dict[str, Any]) -> None:
    rid = None
    if step.prepare is not None:
        rid = bench.records.get(step.name) or await step.prepare(bench.capa)
        bench.records[step.name] = rid
    before = await _trace(bench, rid)
    outcome = await _outcome(step.send(bench.capa, rid or "", payload))
    if isinstance(outcome, CapaError):
        refusal = outcome
        assert refusal.kind is not ErrorKind.UNAVAILABLE, refusal.message
        named = [problem.field.partition(".")[0] for problem in refusal.problems if problem.field]
        assert named, f"{step.name} refused without naming a field: {refusal}"
        assert set(named) <= set(step.fields), f"{step.name} named a field it does not have: {refusal}"
        assert "\n" not in refusal.message
        after = await _trace(bench, rid)
        assert after == before, f"a refused {step.name} left a trace: {before} -> {after}"
        if rid is not None:
            await _assert_read_model_matches(bench, rid)
        return
    # Accepted: the next example needs a record in this step's stage again.
    bench.records.pop(step.name, None)
    rid = rid or str(outcome)
    after = await _trace(bench, rid)
    assert after.failed_tasks == 0
    await _assert_read_model_matches(bench, rid)


@pytest.mark.parametrize("step", STEPS, ids=[s.name.replace(" ", "-") for s in STEPS])
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    # The bench (server, worker, database) is shared by every example on purpose: building it is the slow part.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
async def test_every_payload_is_accepted_or_refused_naming_its_field(
    bench: Bench, step: Step, data: st.DataObject
) -> None:
    """Accepted, or refused naming the field; no failed workflow task, no trace of a refusal, no partial row."""
    await _try(bench, step, data.draw(step.payloads, label=step.name))
