"""Finding 3: action due dates were unbounded and nobody approved the plan. Now a due beyond the class's latest
needs a reason and quality's approval, quality approves (or returns) plans and amendments before verification, and
an approved plan can be amended without failing verification."""

from datetime import timedelta

from sqlalchemy import Engine
from temporalio.testing import WorkflowEnvironment

from models.enums import ActionStatus, EventKind, Stage
from models.payloads import (
    CompleteActionInput,
    PlanAmendmentInput,
    PlanDecisionInput,
    PlanInput,
    Rescope,
)
from tests.process.flow import BURR_REJECTS, action, current_worker, fields, now_of, refused, to_action, verification
from tests.workflows.harness import Capa, actor, raise_record
from workflows.record import RecordWorkflow


def _approve(by: str = "greta") -> PlanDecisionInput:
    return PlanDecisionInput(actor=actor(by), approve=True)


async def _complete(capa: Capa, action_id: str, by: str = "olivia") -> None:
    done = CompleteActionInput(actor=actor(by), action_id=action_id, evidence=f"{action_id} done")
    await capa.step(RecordWorkflow.complete_action, done)


async def test_a_due_beyond_the_latest_needs_a_reason_and_quality_s_approval(
    env: WorkflowEnvironment, engine: Engine
) -> None:
    """Major: actions are due within 60 days. One due in 90 days is refused on actions.0.due_at; with
    late_due_reason it waits for quality, verification is refused until quality approves, and the owner (quality
    here) may not approve their own plan."""
    async with current_worker(env.client, engine) as queue:
        capa = await raise_record(env.client, queue, owner="quinn")
        await to_action(capa, owner="quinn", triager="greta")
        late = await now_of(capa) + timedelta(days=90)
        plan = PlanInput(actor=actor("quinn"), actions=[action("olivia", late)], criteria=[BURR_REJECTS])

        refusal = await refused(capa, RecordWorkflow.plan, plan)
        assert refusal.type == "InvalidInput"
        assert fields(refusal) == {"actions.0.due_at"}
        assert "say why it is due so late" in refusal.message

        reason = "New tooling has a 12-week lead time"
        late_plan = plan.model_copy(update={"actions": [action("olivia", late, late_due_reason=reason)]})
        await capa.step(RecordWorkflow.plan, late_plan)
        state = await capa.state()
        assert state.pending_plan is not None
        assert state.pending_plan.what == "plan"
        await _complete(capa, "A1")
        assert (await capa.state()).stage is Stage.VERIFICATION
        waiting = await refused(capa, RecordWorkflow.verify, verification("maria"))
        assert waiting.type == "WrongStage"
        assert "awaits quality's approval" in waiting.message

        own = await refused(capa, RecordWorkflow.decide_plan, _approve("quinn"))
        assert own.type == "NotAllowed"
        assert "may not approve its plan (independence)" in own.message
        manager = await refused(capa, RecordWorkflow.decide_plan, _approve("mike"))
        assert manager.type == "NotAllowed"
        assert "quality only" in manager.message
        await capa.step(RecordWorkflow.decide_plan, _approve("greta"))
        await capa.step(RecordWorkflow.verify, verification("maria"))
        assert (await capa.state()).stage is Stage.EFFECTIVENESS


async def test_a_returned_plan_needs_a_reason_and_reopens_planning(env: WorkflowEnvironment, engine: Engine) -> None:
    """Returning a plan without a reason is refused on reason; returned, its actions end and a new plan is due."""
    async with current_worker(env.client, engine) as queue:
        capa = await raise_record(env.client, queue)
        await to_action(capa)
        due = await now_of(capa) + timedelta(days=10)
        await capa.step(RecordWorkflow.plan, PlanInput(actor=actor("olivia"), actions=[action("olivia", due)]))

        bare = PlanDecisionInput(actor=actor("quinn"), approve=False)
        refusal = await refused(capa, RecordWorkflow.decide_plan, bare)
        assert fields(refusal) == {"reason"}
        await capa.step(RecordWorkflow.decide_plan, bare.model_copy(update={"reason": "No preventive action"}))
        state = await capa.state()
        assert (state.stage, state.awaiting_plan, state.pending_plan) == (Stage.ACTION, True, None)
        assert state.actions[0].status is ActionStatus.CANCELLED
        assert state.clock is not None, "the plan's own deadline runs again"
        [decided] = [e for e in state.events if e.kind is EventKind.PLAN_DECIDED]
        assert decided.details.reason == "No preventive action"  # type: ignore[union-attr]


async def test_a_plan_amended_after_approval_is_approved_again_and_verified(
    env: WorkflowEnvironment, engine: Engine
) -> None:
    """After approval the owner adds an action and re-scopes one: the amendment waits for quality, verification
    waits for it, the added action must be done, then verification passes."""
    async with current_worker(env.client, engine) as queue:
        capa = await raise_record(env.client, queue)
        await to_action(capa)
        due = await now_of(capa) + timedelta(days=10)
        plan = PlanInput(actor=actor("olivia"), actions=[action("olivia", due)], criteria=[BURR_REJECTS])
        await capa.step(RecordWorkflow.plan, plan)
        await capa.step(RecordWorkflow.decide_plan, _approve())

        amendment = PlanAmendmentInput(
            actor=actor("olivia"),
            add=[action("oscar", due + timedelta(days=5), "Add a tool-life counter")],
            rescope=[Rescope(action_id="A1", description="Replace deburring tool and its holder")],
            reason="The holder is worn too",
        )
        await capa.step(RecordWorkflow.amend_plan, amendment)
        state = await capa.state()
        assert state.pending_plan is not None
        assert state.pending_plan.what == "amendment"
        assert state.pending_plan.added == ["A2"]
        assert state.action("A1").description == "Replace deburring tool and its holder"  # type: ignore[union-attr]

        await _complete(capa, "A1")
        assert (await capa.state()).stage is Stage.ACTION, "A2 is still open"
        await _complete(capa, "A2", by="oscar")
        waiting = await refused(capa, RecordWorkflow.verify, verification("maria"))
        assert "amendment" in waiting.message
        assert "awaits quality's approval" in waiting.message
        await capa.step(RecordWorkflow.decide_plan, _approve())
        await capa.step(RecordWorkflow.verify, verification("maria"))
        state = await capa.state()
        assert state.stage is Stage.EFFECTIVENESS
        [amended] = [e for e in state.events if e.kind is EventKind.PLAN_AMENDED]
        assert amended.details.previous == {"A1": "Replace deburring tool"}  # type: ignore[union-attr]


async def test_a_returned_amendment_restores_the_scope_and_cancels_the_added_action(
    env: WorkflowEnvironment, engine: Engine
) -> None:
    """Quality returns an amendment: A1 gets its scope back, the added A2 is cancelled, and with A1 done the record
    moves on to verification."""
    async with current_worker(env.client, engine) as queue:
        capa = await raise_record(env.client, queue)
        await to_action(capa)
        due = await now_of(capa) + timedelta(days=10)
        plan = PlanInput(actor=actor("olivia"), actions=[action("olivia", due)], criteria=[BURR_REJECTS])
        await capa.step(RecordWorkflow.plan, plan)
        await capa.step(RecordWorkflow.decide_plan, _approve())
        await _complete(capa, "A1")
        assert (await capa.state()).stage is Stage.VERIFICATION

        amendment = PlanAmendmentInput(
            actor=actor("olivia"),
            add=[action("oscar", due, "Add a tool-life counter")],
            rescope=[],
            reason="Prevent recurrence",
        )
        await capa.step(RecordWorkflow.amend_plan, amendment)
        assert (await capa.state()).stage is Stage.ACTION, "an added action sends the record back to action"
        returned = PlanDecisionInput(actor=actor("greta"), approve=False, reason="A counter is planned plant-wide")
        await capa.step(RecordWorkflow.decide_plan, returned)
        state = await capa.state()
        assert state.action("A2").status is ActionStatus.CANCELLED  # type: ignore[union-attr]
        assert state.stage is Stage.VERIFICATION
        await capa.step(RecordWorkflow.verify, verification("maria"))
        assert (await capa.state()).stage is Stage.EFFECTIVENESS


async def test_a_returned_rescoping_restores_the_scope(env: WorkflowEnvironment, engine: Engine) -> None:
    """A re-scoped open action gets its first scope back when quality returns the amendment."""
    async with current_worker(env.client, engine) as queue:
        capa = await raise_record(env.client, queue)
        await to_action(capa)
        due = await now_of(capa) + timedelta(days=10)
        await capa.step(RecordWorkflow.plan, PlanInput(actor=actor("olivia"), actions=[action("olivia", due)]))
        await capa.step(RecordWorkflow.decide_plan, _approve())
        rescope = PlanAmendmentInput(
            actor=actor("olivia"),
            rescope=[Rescope(action_id="A1", description="Only sharpen the tool")],
            reason="A new tool is on back order",
        )
        await capa.step(RecordWorkflow.amend_plan, rescope)
        returned = PlanDecisionInput(actor=actor("greta"), approve=False, reason="Sharpening is not enough")
        await capa.step(RecordWorkflow.decide_plan, returned)
        state = await capa.state()
        assert state.action("A1").description == "Replace deburring tool"  # type: ignore[union-attr]
        assert state.action("A1").status is ActionStatus.OPEN  # type: ignore[union-attr]
        assert (state.stage, state.pending_plan) == (Stage.ACTION, None)
