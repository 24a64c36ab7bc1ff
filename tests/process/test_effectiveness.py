"""Finding 5: the effectiveness review had no criteria set in advance and verification no "no adverse effect"
check; the effectiveness_due notice went to the owner, who may not review. Now verification names the criteria
(where the plan did not) and confirms no adverse effect with evidence, the review judges each criterion once,
"inconclusive" extends the window once, and quality hears when the review falls due."""

from datetime import timedelta

from sqlalchemy import Engine
from sqlmodel import Session, select
from temporalio.testing import WorkflowEnvironment

from models.enums import CancelCategory, EffectivenessResult, EventKind, Stage
from models.payloads import CancelInput, CriterionResult, ReviewInput
from models.tables import OutboxMessage
from tests.process.flow import (
    BURR_REJECTS,
    NO_RETURNS,
    current_worker,
    fields,
    now_of,
    refused,
    to_verification,
    verification,
)
from tests.workers.harness import eventually
from tests.workflows.harness import Capa, actor, close_to, raise_record
from workflows.record import RecordWorkflow


def _review(result: EffectivenessResult, *met: bool, by: str = "quinn") -> ReviewInput:
    return ReviewInput(
        actor=actor(by),
        result=result,
        evidence="Data of the window attached",
        criteria_results=[
            CriterionResult(criterion=number, met=ok, data=f"criterion {number}: see QC-DB export")
            for number, ok in enumerate(met, start=1)
        ],
    )


async def _window_passes(env: WorkflowEnvironment, capa: Capa, dues: int) -> None:
    state = await capa.state()
    assert state.effectiveness_due_at is not None
    await env.sleep(state.effectiveness_due_at - await env.get_current_time() + timedelta(minutes=1))
    await capa.wait_for(
        lambda s: s.clock is not None and sum(e.kind is EventKind.EFFECTIVENESS_DUE for e in s.events) == dues
    )


async def test_verification_names_the_criteria_and_confirms_no_adverse_effect(
    env: WorkflowEnvironment, engine: Engine
) -> None:
    """A plan without criteria: a pass is refused without them, and without the no-adverse-effect confirmation
    and its evidence; with both the record waits for its effectiveness window."""
    async with current_worker(env.client, engine) as queue:
        capa = await raise_record(env.client, queue)
        await to_verification(capa)
        none = await refused(capa, RecordWorkflow.verify, verification("maria"))
        assert none.type == "InvalidInput"
        assert fields(none) == {"criteria"}
        unconfirmed = verification(
            "maria", criteria=[BURR_REJECTS], no_adverse_effect=None, adverse_effect_evidence=None
        )
        refusal = await refused(capa, RecordWorkflow.verify, unconfirmed)
        assert fields(refusal) == {"no_adverse_effect", "adverse_effect_evidence"}

        await capa.step(RecordWorkflow.verify, verification("maria", criteria=[BURR_REJECTS, NO_RETURNS]))
        state = await capa.state()
        assert state.stage is Stage.EFFECTIVENESS
        assert state.criteria == [BURR_REJECTS, NO_RETURNS]
        assert state.verifications[-1].no_adverse_effect is True


async def test_the_review_judges_each_criterion_and_inconclusive_extends_the_window_once(
    env: WorkflowEnvironment, engine: Engine
) -> None:
    """The review falls due after the window (quality is told), must judge both criteria, may not call an unmet
    criterion effective; inconclusive extends the window once, then the review falls due again and a second
    inconclusive is refused. Past verification the record is no longer cancelled."""
    async with current_worker(env.client, engine) as queue:
        capa = await raise_record(env.client, queue)
        await to_verification(capa, criteria=[BURR_REJECTS, NO_RETURNS])
        await capa.step(RecordWorkflow.verify, verification("maria"))
        early = await refused(capa, RecordWorkflow.review, _review(EffectivenessResult.EFFECTIVE, True, True))
        assert early.type == "WrongStage"
        assert "falls due at" in early.message
        cancel = CancelInput(actor=actor("quinn"), reason="Solved", category=CancelCategory.RAISED_IN_ERROR)
        late_cancel = await refused(capa, RecordWorkflow.cancel, cancel)
        assert late_cancel.type == "WrongStage"
        assert "it is not cancelled" in late_cancel.message

        await _window_passes(env, capa, dues=1)
        state = await capa.state()
        [due] = [e for e in state.events if e.kind is EventKind.EFFECTIVENESS_DUE]

        def told() -> list[str]:
            with Session(engine) as session:
                rows = session.exec(
                    select(OutboxMessage).where(OutboxMessage.record_id == state.id, OutboxMessage.seq == due.seq)
                ).all()
            return sorted({row.recipient for row in rows})

        assert await eventually(told, 10, "the effectiveness_due notice in the outbox") == ["greta", "olivia", "quinn"]

        one = await refused(capa, RecordWorkflow.review, _review(EffectivenessResult.EFFECTIVE, True))
        assert fields(one) == {"criteria_results"}
        unmet = await refused(capa, RecordWorkflow.review, _review(EffectivenessResult.EFFECTIVE, True, False))
        assert fields(unmet) == {"result"}
        assert "criterion 2 was not met" in unmet.message

        await capa.step(RecordWorkflow.review, _review(EffectivenessResult.INCONCLUSIVE, True, False))
        state = await capa.state()
        assert state.stage is Stage.EFFECTIVENESS
        assert state.window_extended
        assert state.clock is None
        assert state.effectiveness_due_at is not None
        assert close_to(state.effectiveness_due_at, await now_of(capa) + timedelta(days=60))

        await _window_passes(env, capa, dues=2)
        again = await refused(capa, RecordWorkflow.review, _review(EffectivenessResult.INCONCLUSIVE, True, False))
        assert fields(again) == {"result"}
        assert "extended once already" in again.message
        await capa.step(RecordWorkflow.review, _review(EffectivenessResult.EFFECTIVE, True, True))
        state = await capa.state()
        assert state.stage is Stage.CLOSED
        assert [len(r.criteria_results) for r in state.reviews] == [2, 2]
