"""The timeline alone is the complete record: each entry carries what its step submitted, typed per kind.

After Temporal's retention only the read model's timeline is left, so every field a person submitted must be in
its entry, as submitted, and the read model must keep the same entries.
"""

from datetime import timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session
from temporalio.testing import WorkflowEnvironment

from core import audit
from core.readmodel import load_record_state
from models.enums import (
    ActionKind,
    CauseCategory,
    Disposition,
    EffectivenessResult,
    EventKind,
    RootCauseMethod,
    Stage,
    VerificationResult,
)
from models.payloads import (
    ENTRY_OF_KIND,
    CancelEntry,
    CancelInput,
    ClosedEntry,
    CompleteActionInput,
    CompletionEntry,
    ContainmentInput,
    EarlierEntry,
    Event,
    ExtensionDecisionEntry,
    ExtensionDecisionInput,
    ExtensionRequestEntry,
    ExtensionRequestInput,
    Payload,
    PlanEntry,
    PlanInput,
    PlannedAction,
    RaiseStep,
    ReviewInput,
    RootCauseEntry,
    RootCauseInput,
    StepInput,
    VerifyInput,
)
from models.tables import Nonconformity
from tests.builders import signed
from tests.workers.harness import eventually
from tests.workflows.harness import Capa, actor, raise_record, running_worker
from workflows.record import RecordWorkflow


def _submitted(inp: StepInput) -> dict[str, object]:
    """What the person submitted: the input without the actor and without what the client layer adds (an
    extension request's ``line``, the requester's managers, who may decide it)."""
    return inp.model_dump(exclude={"actor", "line"})


def _entry_fields(event: Event, inp: StepInput) -> dict[str, object]:
    """The entry's values of the fields ``inp`` submits."""
    return event.details.model_dump(include=set(_submitted(inp)))


def _only(events: list[Event], kind: EventKind) -> Event:
    [event] = [e for e in events if e.kind is kind]
    return event


async def _stored_like_workflow(engine: Engine, capa: Capa) -> list[Event]:
    state = await capa.state()

    def same() -> list[Event] | None:
        stored = load_record_state(engine, state.id)
        return stored.events if stored is not None and stored.events == state.events else None

    stored: list[Event] = await eventually(same, 10, "the read model's timeline equal to the workflow's")
    # Each entry's hash, recomputed from the row the read model keeps, is the one the workflow chained.
    check = audit.verify_record(engine, state.id, live=state)
    assert check.ok, check.line()
    return stored


async def test_every_submitted_field_is_in_its_timeline_entry(env: WorkflowEnvironment, engine: Engine) -> None:
    """A lifecycle with every optional field filled: each step's entry holds its input (without the actor), and
    the read model holds the same typed entries."""
    async with running_worker(env.client, engine) as queue:
        capa = await raise_record(env.client, queue)
        h = capa.handle
        now = await env.get_current_time()
        contain = ContainmentInput(
            actor=actor("olivia"), summary="120 housings quarantined", disposition=Disposition.REWORK, quantity=118
        )
        cause = RootCauseInput(
            actor=actor("olivia"),
            method=RootCauseMethod.FIVE_WHYS,
            cause="Deburring tool worn beyond its change interval",
            whys=["Burr on edge", "Tool worn", "No tool-life counter"],
            category=CauseCategory.MACHINE,
            escape_point="Final visual inspection does not look at the mating edge",
            similar_checked="Lines 1 and 2 use counters; no similar burrs in 90 days of records",
        )
        plan = PlanInput(
            actor=actor("olivia"),
            actions=[
                PlannedAction(
                    owner="olivia",
                    due_at=now + timedelta(days=10),
                    description="Replace tool",
                    kind=ActionKind.PREVENTIVE,
                ),
                PlannedAction(owner="oscar", due_at=now + timedelta(days=12), description="Add tool-life counter"),
            ],
        )
        ask = ExtensionRequestInput(
            actor=actor("oscar"), action_id="A2", until=now + timedelta(days=15), reason="Counter on back order"
        )
        decide = signed(
            capa.handle.id,
            ExtensionDecisionInput(actor=actor("maria"), approve=True, reason="Supplier confirmed delivery"),
        )
        done = [
            CompleteActionInput(actor=actor("olivia"), action_id="A1", evidence="Tool replaced, WO-1182"),
            CompleteActionInput(actor=actor("oscar"), action_id="A2", evidence="Counter installed, WO-1190"),
        ]
        verify = signed(
            capa.handle.id,
            VerifyInput(actor=actor("maria"), result=VerificationResult.PASS, evidence="50 housings burr-free"),
        )
        review = signed(
            capa.handle.id,
            ReviewInput(
                actor=actor("maria"), result=EffectivenessResult.EFFECTIVE, evidence="No recurrence in 60 days"
            ),
        )

        await h.execute_update(RecordWorkflow.contain, contain)
        await h.execute_update(RecordWorkflow.root_cause, cause)
        await h.execute_update(RecordWorkflow.plan, plan)
        await h.execute_update(RecordWorkflow.request_extension, ask)
        await h.execute_update(RecordWorkflow.decide_extension, decide)
        for step in done:
            await h.execute_update(RecordWorkflow.complete_action, step)
        await h.execute_update(RecordWorkflow.verify, verify)
        await env.sleep(timedelta(days=61))
        await capa.wait_for(lambda s: s.clock is not None)
        await h.execute_update(RecordWorkflow.review, review)
        final = await h.result()
        stored = await _stored_like_workflow(engine, capa)

    assert final.stage is Stage.CLOSED
    events = final.events
    raised = _only(events, EventKind.RAISED)
    assert isinstance(raised.details, RaiseStep)
    assert raised.details.model_dump(exclude_none=True) == {
        "title": final.title,
        "description": final.description,
        "severity": final.severity,
        "source": final.source,
        "owner": "olivia",
        "product": "H-200",
        "lot": "L-4711",
        "quantity": 120,
    }
    assert _entry_fields(_only(events, EventKind.CONTAINMENT_SUBMITTED), contain) == _submitted(contain)
    root = _only(events, EventKind.ROOT_CAUSE_SUBMITTED)
    assert isinstance(root.details, RootCauseEntry)
    assert _entry_fields(root, cause) == _submitted(cause)
    assert root.details.cycle == 1
    planned = _only(events, EventKind.PLAN_SUBMITTED)
    assert isinstance(planned.details, PlanEntry)
    assert _entry_fields(planned, plan) == _submitted(plan)
    assert planned.details.action_ids == ["A1", "A2"]
    asked = _only(events, EventKind.EXTENSION_REQUESTED)
    assert isinstance(asked.details, ExtensionRequestEntry)
    assert _entry_fields(asked, ask) == _submitted(ask)
    assert asked.details.target == "A2"
    decided = _only(events, EventKind.EXTENSION_DECIDED)
    assert isinstance(decided.details, ExtensionDecisionEntry)
    assert _entry_fields(decided, decide) == _submitted(decide)
    assert decided.details.due_at == ask.until
    completed = [e for e in events if e.kind is EventKind.ACTION_COMPLETED]
    assert [_entry_fields(e, step) for e, step in zip(completed, done, strict=True)] == [_submitted(s) for s in done]
    assert all(isinstance(e.details, CompletionEntry) and e.details.on_time for e in completed)
    assert _entry_fields(_only(events, EventKind.VERIFIED), verify) == _submitted(verify)
    assert _entry_fields(_only(events, EventKind.EFFECTIVENESS_REVIEWED), review) == _submitted(review)
    assert _only(events, EventKind.CLOSED).details == ClosedEntry(cycles=1)
    assert not [e for e in events if isinstance(e.details, EarlierEntry)]
    assert stored == events


async def test_a_cancellation_entry_gives_its_reason_and_the_stage_it_ended(
    env: WorkflowEnvironment, engine: Engine
) -> None:
    async with running_worker(env.client, engine) as queue:
        capa = await raise_record(env.client, queue)
        cancel = signed(
            capa.handle.id, CancelInput(actor=actor("maria"), reason="Raised twice; the record kept is the earlier one")
        )
        await capa.handle.execute_update(RecordWorkflow.cancel, cancel)
        final = await capa.handle.result()
        stored = await _stored_like_workflow(engine, capa)
    entry = _only(final.events, EventKind.CANCELLED).details
    assert entry == CancelEntry(reason=cancel.reason, stage=Stage.CONTAINMENT, signature=cancel.signature)
    assert stored == final.events


def test_every_timeline_kind_has_its_entry_model() -> None:
    """The daily digest and the daily chain head are the kinds that are no record's entry."""
    assert set(ENTRY_OF_KIND) == set(EventKind) - {EventKind.DIGEST, EventKind.CHAIN_HEAD}


def test_an_entry_written_before_entries_were_typed_is_kept_as_written() -> None:
    """An earlier release's plan entry lacked each action's description; it is kept, not rejected or filled in."""
    earlier = {"actions": [{"id": "A1", "owner": "olivia", "due_at": "2026-03-12T09:00:00+00:00"}]}
    event = Event.model_validate(
        {"seq": 4, "at": "2026-03-02T09:00:00Z", "kind": "plan_submitted", "actor": "olivia", "details": earlier}
    )
    assert isinstance(event.details, EarlierEntry)
    assert event.facts() == earlier
    assert Event.model_validate_json(event.model_dump_json()) == event


def test_an_earlier_extension_decision_reads_as_the_step_it_was() -> None:
    """Earlier entries named the decision ``approved``; they read as the typed entry, with ``approve``."""
    earlier = {
        "target": "A1",
        "approved": False,
        "requested_by": "oscar",
        "original_due_at": None,
        "due_at": "2026-03-12T09:00:00+00:00",
        "reason": None,
    }
    event = Event.model_validate(
        {"seq": 6, "at": "2026-03-02T09:00:00Z", "kind": "extension_decided", "actor": "maria", "details": earlier}
    )
    assert isinstance(event.details, ExtensionDecisionEntry)
    assert event.details.approve is False


@pytest.mark.parametrize("kind", [EventKind.VERIFIED, EventKind.ESCALATED])
def test_an_entry_of_another_kind_is_refused(kind: EventKind) -> None:
    details: Payload = ClosedEntry(cycles=1)
    with pytest.raises(ValueError, match="details"):
        Event(seq=1, at="2026-03-02T09:00:00Z", kind=kind, actor="maria", details=details)


async def test_a_step_whose_predecessor_is_not_stored_writes_the_record_whole(
    env: WorkflowEnvironment, engine: Engine
) -> None:
    """The worker's write of a step finds the read model short of the entry before it (that write died with a
    worker, or waits for its retry, played here by winding the stored row back). It does not wait for it: it
    writes the record whole, as the workflow answers."""
    async with running_worker(env.client, engine) as queue:
        capa = await raise_record(env.client, queue)
        await eventually(lambda: load_record_state(engine, capa.handle.id), 10, "the raise in the read model")
        with Session(engine) as session, session.begin():
            row = session.get(Nonconformity, capa.handle.id)
            assert row is not None
            row.last_seq = 0
        contain = ContainmentInput(actor=actor("olivia"), summary="Held", disposition=Disposition.QUARANTINE)
        await capa.handle.execute_update(RecordWorkflow.contain, contain)
        stored = await _stored_like_workflow(engine, capa)
    assert [e.kind for e in stored] == [EventKind.RAISED, EventKind.CONTAINMENT_SUBMITTED]
