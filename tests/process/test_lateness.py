"""Finding 4: extensions hid lateness, were unlimited and one at a time. Now a request after the due is flagged late
and only quality decides it, managers decide only for the requester's line and within the policy's count, several
requests can be pending at once, the cap refuses the next one, and the original due stays on record."""

from datetime import datetime, timedelta

from sqlalchemy import Engine
from temporalio.testing import WorkflowEnvironment

from models.enums import CancelCategory, EventKind, Stage
from models.payloads import (
    CancelInput,
    ExtensionDecisionInput,
    ExtensionRequestInput,
    PlanAmendmentInput,
    PlanDecisionInput,
    PlanInput,
    Rescope,
)
from models.sentences import sentence
from tests.process.flow import action, containment, current_worker, now_of, refused, root_cause, to_action, triage
from tests.workflows.harness import Capa, actor, raise_record
from workflows.record import RecordWorkflow

# As the client layer fills it in: the requester's reporting line, as the directory has it.
LINE = ["mike", "maria", "ada"]


def _ask(by: str, action_id: str, until: datetime) -> ExtensionRequestInput:
    return ExtensionRequestInput(actor=actor(by), action_id=action_id, until=until, reason="Parts late", line=LINE)


def _decide(by: str, action_id: str | None, approve: bool = True, reason: str | None = None) -> ExtensionDecisionInput:
    return ExtensionDecisionInput(actor=actor(by), action_id=action_id, approve=approve, reason=reason)


async def _two_actions(capa: Capa) -> datetime:
    await to_action(capa)
    due = await now_of(capa) + timedelta(days=10)
    plan = PlanInput(
        actor=actor("olivia"), actions=[action("olivia", due), action("oscar", due, "Add a tool-life counter")]
    )
    await capa.step(RecordWorkflow.plan, plan)
    await capa.step(RecordWorkflow.decide_plan, PlanDecisionInput(actor=actor("quinn"), approve=True))
    return due


async def test_two_requests_pending_at_once_decided_by_the_requester_s_line(
    env: WorkflowEnvironment, engine: Engine
) -> None:
    """olivia and oscar each ask for more time on their action: both requests are pending; nina, a manager outside
    their line, may not decide; mike approves one and rejects the other. The clock keeps its original due."""
    async with current_worker(env.client, engine) as queue:
        capa = await raise_record(env.client, queue)
        due = await _two_actions(capa)
        await capa.step(RecordWorkflow.request_extension, _ask("olivia", "A1", due + timedelta(days=5)))
        await capa.step(RecordWorkflow.request_extension, _ask("oscar", "A2", due + timedelta(days=5)))
        state = await capa.state()
        assert [(r.action_id, r.late, r.number) for r in state.pending_extensions] == [
            ("A1", False, 1),
            ("A2", False, 1),
        ]

        outside = await refused(capa, RecordWorkflow.decide_extension, _decide("nina", "A1"))
        assert outside.type == "NotAllowed"
        assert "a manager of olivia's line or quality decides" in outside.message
        await capa.step(RecordWorkflow.decide_extension, _decide("mike", "A1"))
        await capa.step(RecordWorkflow.decide_extension, _decide("mike", "A2", approve=False, reason="Use stock parts"))

        state = await capa.state()
        assert state.pending_extensions == []
        first = state.action("A1").clock  # type: ignore[union-attr]
        assert (first.due_at, first.original_due_at, first.extensions) == (due + timedelta(days=5), due, 1)
        second = state.action("A2").clock  # type: ignore[union-attr]
        assert (second.due_at, second.original_due_at, second.extensions) == (due, due, 0)


async def test_a_late_request_is_flagged_and_quality_decides_it(env: WorkflowEnvironment, engine: Engine) -> None:
    """Asked an hour after the due: the request and its entry say late, mike (oscar's manager) may not decide it,
    quality approves it; the due moves, the original due does not, and the step still counts late against it."""
    async with current_worker(env.client, engine) as queue:
        capa = await raise_record(env.client, queue)
        due = await _two_actions(capa)
        await env.sleep(due - await env.get_current_time() + timedelta(hours=1))
        await capa.wait_for(lambda s: any(e.kind is EventKind.ESCALATED for e in s.events))

        await capa.step(RecordWorkflow.request_extension, _ask("oscar", "A2", due + timedelta(days=7)))
        state = await capa.state()
        [request] = state.pending_extensions
        assert request.late
        [entry] = [e for e in state.events if e.kind is EventKind.EXTENSION_REQUESTED]
        assert entry.details.late is True  # type: ignore[union-attr]

        manager = await refused(capa, RecordWorkflow.decide_extension, _decide("mike", "A2"))
        assert manager.type == "NotAllowed"
        assert "asked after the due time, quality decides" in manager.message
        await capa.step(RecordWorkflow.decide_extension, _decide("quinn", "A2"))
        clock = (await capa.state()).action("A2").clock  # type: ignore[union-attr]
        assert (clock.due_at, clock.original_due_at) == (due + timedelta(days=7), due)


async def test_extensions_beyond_the_line_s_count_go_to_quality_and_the_cap_refuses_more(
    env: WorkflowEnvironment, engine: Engine
) -> None:
    """Major: a manager approves the first extension of a step, quality the second and third; the fourth request is
    refused by the policy's max_extensions."""
    async with current_worker(env.client, engine) as queue:
        capa = await raise_record(env.client, queue)
        due = await _two_actions(capa)
        for number in (1, 2, 3):
            await capa.step(RecordWorkflow.request_extension, _ask("olivia", "A1", due + timedelta(days=number)))
            if number > 1:
                refusal = await refused(capa, RecordWorkflow.decide_extension, _decide("mike", "A1"))
                assert f"extension {number} of the step is beyond the policy's 1" in refusal.message
            await capa.step(RecordWorkflow.decide_extension, _decide("mike" if number == 1 else "greta", "A1"))
        clock = (await capa.state()).action("A1").clock  # type: ignore[union-attr]
        assert (clock.due_at, clock.original_due_at, clock.extensions) == (due + timedelta(days=3), due, 3)

        capped = await refused(capa, RecordWorkflow.request_extension, _ask("olivia", "A1", due + timedelta(days=9)))
        assert capped.type == "NotAllowed"
        assert "has had 3 extensions, the policy's most for a major record" in capped.message


async def test_a_cancelled_record_leaves_nothing_awaiting_a_decision(env: WorkflowEnvironment, engine: Engine) -> None:
    """Cancelled with two extension requests and an amendment pending: none of them is left awaiting anyone."""
    async with current_worker(env.client, engine) as queue:
        capa = await raise_record(env.client, queue)
        due = await _two_actions(capa)
        await capa.step(RecordWorkflow.request_extension, _ask("olivia", "A1", due + timedelta(days=5)))
        await capa.step(RecordWorkflow.request_extension, _ask("oscar", "A2", due + timedelta(days=5)))
        amendment = PlanAmendmentInput(
            actor=actor("olivia"), rescope=[Rescope(action_id="A1", description="Sharpen only")], reason="Cheaper"
        )
        await capa.step(RecordWorkflow.amend_plan, amendment)
        cancel = CancelInput(
            actor=actor("quinn"), reason="Not a nonconformity", category=CancelCategory.NOT_A_NONCONFORMITY
        )
        await capa.step(RecordWorkflow.cancel, cancel)
        state = await capa.state()
        assert state.stage is Stage.CANCELLED
        assert state.pending_extensions == []
        assert state.pending_plan is None


async def test_a_stage_step_taken_after_its_original_due_says_so_though_extended(
    env: WorkflowEnvironment, engine: Engine
) -> None:
    """Containment extended by quality and then done after its original due (before the revised one) is recorded
    late against the original due; the root cause, done in time, is on time."""
    async with current_worker(env.client, engine) as queue:
        capa = await raise_record(env.client, queue)
        state = await capa.state()
        assert state.clock is not None
        original = state.clock.original_due_at
        ask = ExtensionRequestInput(
            actor=actor("olivia"), until=original + timedelta(days=2), reason="Sorting takes longer", line=LINE
        )
        await capa.step(RecordWorkflow.request_extension, ask)
        await capa.step(RecordWorkflow.decide_extension, _decide("mike", None))
        await env.sleep(original - await now_of(capa) + timedelta(hours=1))
        await capa.step(RecordWorkflow.contain, containment())
        await capa.step(RecordWorkflow.triage, triage())
        await capa.step(RecordWorkflow.root_cause, root_cause())

        events = (await capa.state()).events

    contained = next(e for e in events if e.kind is EventKind.CONTAINMENT_SUBMITTED)
    found = next(e for e in events if e.kind is EventKind.ROOT_CAUSE_SUBMITTED)
    assert getattr(contained.details, "on_time", None) is False
    assert sentence(contained).endswith("; done after its original due")
    assert getattr(found.details, "on_time", None) is True
    assert "original due" not in sentence(found)
