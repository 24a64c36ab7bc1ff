"""Finding 1: one manager could own, verify, review and close a CAPA. Now verification is independent of the owner
and of everyone who implemented an action in any round, the review is quality's and, for critical records,
independent of the verifier; each refusal names the rule."""

from datetime import timedelta

from sqlalchemy import Engine
from temporalio.testing import WorkflowEnvironment

from models.enums import EffectivenessResult, Severity, Stage, VerificationResult
from models.payloads import CompleteActionInput, CriterionResult, PlanDecisionInput, PlanInput, ReviewInput
from tests.process.flow import (
    BURR_REJECTS,
    CRITICAL,
    action,
    current_worker,
    now_of,
    refused,
    to_verification,
    verification,
)
from tests.workflows.harness import Capa, actor, raise_record
from workflows.record import RecordWorkflow


def _review(by: str, result: EffectivenessResult = EffectivenessResult.EFFECTIVE) -> ReviewInput:
    return ReviewInput(
        actor=actor(by),
        result=result,
        evidence="No burr rejects in 30 days",
        criteria_results=[CriterionResult(criterion=1, met=True, data="0.05 % over 30 days")],
    )


async def _review_due(env: WorkflowEnvironment, capa: Capa) -> None:
    state = await capa.state()
    assert state.effectiveness_due_at is not None
    await env.sleep(state.effectiveness_due_at - await env.get_current_time() + timedelta(minutes=1))
    await capa.wait_for(lambda s: s.clock is not None)


async def test_the_owning_manager_neither_verifies_nor_reviews(env: WorkflowEnvironment, engine: Engine) -> None:
    """mike (a manager) owns the record: he may not verify it (independence), and no manager reviews it (quality
    only); another manager verifies and quality reviews and closes it."""
    async with current_worker(env.client, engine) as queue:
        capa = await raise_record(env.client, queue, owner="mike")
        await to_verification(capa, owner="mike", doer="olivia")

        own = await refused(capa, RecordWorkflow.verify, verification("mike", criteria=[BURR_REJECTS]))
        assert own.type == "NotAllowed"
        assert "mike owns" in own.message
        assert "(independence)" in own.message
        doer = await refused(capa, RecordWorkflow.verify, verification("olivia", criteria=[BURR_REJECTS]))
        assert "managers and quality only" in doer.message

        await capa.step(RecordWorkflow.verify, verification("maria", criteria=[BURR_REJECTS]))
        await _review_due(env, capa)
        for manager in ("mike", "maria"):
            refusal = await refused(capa, RecordWorkflow.review, _review(manager))
            assert refusal.type == "NotAllowed"
            assert "quality only" in refusal.message
        await capa.step(RecordWorkflow.review, _review("quinn"))
        assert (await capa.state()).stage is Stage.CLOSED


async def test_an_implementer_of_an_earlier_round_may_not_verify(env: WorkflowEnvironment, engine: Engine) -> None:
    """nina (a manager) implemented round 1's action; after it failed verification and round 2's action was done by
    olivia, nina still may not verify: the earlier rules looked at the current round only."""
    async with current_worker(env.client, engine) as queue:
        capa = await raise_record(env.client, queue)
        await to_verification(capa, doer="nina")
        await capa.step(RecordWorkflow.verify, verification("maria", result=VerificationResult.FAIL, evidence="Burrs"))
        state = await capa.state()
        assert (state.stage, state.round) == (Stage.ACTION, 2)
        due = await now_of(capa) + timedelta(days=7)
        await capa.step(RecordWorkflow.plan, PlanInput(actor=actor("olivia"), actions=[action("olivia", due)]))
        await capa.step(RecordWorkflow.decide_plan, PlanDecisionInput(actor=actor("quinn"), approve=True))
        await capa.step(
            RecordWorkflow.complete_action, CompleteActionInput(actor=actor("olivia"), action_id="A2", evidence="x")
        )

        refusal = await refused(capa, RecordWorkflow.verify, verification("nina", criteria=[BURR_REJECTS]))
        assert refusal.type == "NotAllowed"
        assert "nina may not verify" in refusal.message
        assert "implemented one of its actions (independence)" in refusal.message
        await capa.step(RecordWorkflow.verify, verification("mike", criteria=[BURR_REJECTS]))
        assert (await capa.state()).stage is Stage.EFFECTIVENESS


async def test_a_critical_record_is_reviewed_by_someone_other_than_its_verifier(
    env: WorkflowEnvironment, engine: Engine
) -> None:
    """Critical: independent_review is on, so greta, who verified, may not review; quinn may."""
    async with current_worker(env.client, engine) as queue:
        capa = await raise_record(env.client, queue, severity=Severity.CRITICAL)
        await to_verification(capa, levels=CRITICAL, approver="quinn")
        await capa.step(RecordWorkflow.verify, verification("greta", criteria=[BURR_REJECTS]))
        await _review_due(env, capa)

        refusal = await refused(capa, RecordWorkflow.review, _review("greta"))
        assert refusal.type == "NotAllowed"
        assert "greta verified" in refusal.message
        assert "independent_review" in refusal.message
        await capa.step(RecordWorkflow.review, _review("quinn"))
        assert (await capa.state()).stage is Stage.CLOSED


async def test_a_quality_owner_does_not_review_their_own_record(env: WorkflowEnvironment, engine: Engine) -> None:
    """quinn (quality) owns the record: quinn may not review it; greta does."""
    async with current_worker(env.client, engine) as queue:
        capa = await raise_record(env.client, queue, owner="quinn")
        await to_verification(capa, owner="quinn", doer="oscar", triager="greta", approver="greta")
        await capa.step(RecordWorkflow.verify, verification("maria", criteria=[BURR_REJECTS]))
        await _review_due(env, capa)

        refusal = await refused(capa, RecordWorkflow.review, _review("quinn"))
        assert refusal.type == "NotAllowed"
        assert "quinn owns" in refusal.message
        assert "(independence)" in refusal.message
        await capa.step(RecordWorkflow.review, _review("greta"))
        assert (await capa.state()).stage is Stage.CLOSED
