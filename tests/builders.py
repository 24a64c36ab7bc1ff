"""Small constructors for records in a known state, so each test spells out only what it is about."""

from datetime import UTC, datetime, timedelta
from typing import TypeVar

from sqlalchemy import Engine
from temporalio.testing import ActivityEnvironment

from activities.records import RecordActivities
from client.records import CapaClient
from models import rules, signatures
from models.enums import ActionKind, ActionStatus, EventKind, Severity, Source, Stage
from models.payloads import Action, CapaState, Clock, Event, RaiseStep, RecordSnapshot, SignedInput
from tests.policies import EARLIER

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
POLICY = EARLIER.for_severity(Severity.MAJOR)
SignedT = TypeVar("SignedT", bound=SignedInput)


def clock(holder: str, due_at: datetime, level: int = 0) -> Clock:
    return Clock(holder=holder, due_at=due_at, original_due_at=due_at, armed_at=T0, escalation_level=level)


def action(
    action_id: str,
    owner: str,
    due_at: datetime,
    *,
    status: ActionStatus = ActionStatus.OPEN,
    level: int = 0,
) -> Action:
    return Action(
        id=action_id,
        cycle=1,
        round=1,
        owner=owner,
        kind=ActionKind.CORRECTIVE,
        description=f"do {action_id}",
        status=status,
        clock=clock(owner, due_at, level),
    )


def event(seq: int, kind: EventKind = EventKind.RAISED, actor: str = "otto") -> Event:
    return Event(seq=seq, at=T0 + timedelta(minutes=seq), kind=kind, actor=actor, details={"n": seq})


def state(
    record_id: str = "NC-2026-0001",
    *,
    stage: Stage = Stage.CONTAINMENT,
    owner: str = "olivia",
    severity: Severity = Severity.MAJOR,
    stage_clock: Clock | None = None,
    actions: list[Action] | None = None,
) -> CapaState:
    return CapaState(
        id=record_id,
        title=f"title of {record_id}",
        description="burr on housing edge",
        severity=severity,
        source=Source.INSPECTION,
        product="HX-200",
        lot="L-7",
        quantity=40,
        raised_by="otto",
        raised_at=T0,
        owner=owner,
        policy=POLICY,
        stage=stage,
        clock=stage_clock,
        actions=actions or [],
    )


def publish(engine: Engine, capa: CapaState, events: list[Event]) -> None:
    """Run record_state as the workflow does: state without events, plus the entries not yet written."""
    snapshot = RecordSnapshot(state=capa, new_events=events)
    ActivityEnvironment().run(RecordActivities(engine).record_state, snapshot)


async def raise_burr(capa: CapaClient) -> str:
    """Raise a major nonconformity owned by olivia through the client layer; its id."""
    return await capa.raise_record(
        "otto",
        RaiseStep(
            title="Burr on housing edge",
            description="Line 3 housings show a burr",
            severity=Severity.MAJOR,
            source=Source.INSPECTION,
            owner="olivia",
        ),
    )


def signed(record_id: str, inp: SignedT, signer: str | None = None) -> SignedT:
    """``inp`` (a signed step's input for ``record_id``) signed as the client layer signs it, by its actor (or by
    ``signer``), with the meaning the rules give what it submits; an input already signed is left as it is."""
    if inp.signature is not None:
        return inp
    step = rules.step_submitting(type(inp))
    meaning = rules.signature_meaning(step, inp)
    assert meaning is not None, f"{step.value} is not a signed step"
    name = signer or inp.actor.name
    signature = signatures.signature(
        record_id,
        step.value,
        inp,
        signer=name,
        full_name=name.capitalize(),
        meaning=meaning,
        signed_at=datetime.now(UTC).replace(microsecond=0),
    )
    return inp.model_copy(update={"signature": signature})
