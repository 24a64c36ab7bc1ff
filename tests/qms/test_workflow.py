"""QMS updates that gate closure: verification is refused until each typed action carries its references and each
training action meets its threshold; a plan states its affected documents, or none with a justification."""

from datetime import date, timedelta

from sqlalchemy import Engine
from temporalio.testing import WorkflowEnvironment

from models.enums import ActionKind, EventKind, Stage
from models.payloads import CompleteActionInput, PlanDecisionInput, PlanInput, RecordTrainingInput
from models.qms import QmsDetails
from tests.process.flow import BURR_REJECTS, action, current_worker, fields, now_of, refused, to_action, verification
from tests.workflows.harness import Capa, actor, raise_record
from workflows.record import RecordWorkflow

AUDIENCE = [f"op{n}" for n in range(1, 11)]


def _training() -> QmsDetails:
    return QmsDetails(course="Deburring WI-042 rev C", audience=AUDIENCE, threshold_percent=90)


def _document() -> QmsDetails:
    return QmsDetails(document_id="WI-042", revision_from="B")


async def _plan(capa: Capa, **extra: object) -> PlanInput:
    due = await now_of(capa) + timedelta(days=10)
    return PlanInput(
        actor=actor("olivia"),
        actions=[
            action("olivia", due, "Train the operators", kind=ActionKind.TRAINING, details=_training()),
            action("olivia", due, "Revise the work instruction", kind=ActionKind.DOCUMENT_CHANGE, details=_document()),
        ],
        criteria=[BURR_REJECTS],
        **extra,
    )


async def _approve(capa: Capa) -> None:
    if (await capa.state()).pending_plan is not None:
        await capa.step(RecordWorkflow.decide_plan, PlanDecisionInput(actor=actor("greta"), approve=True))


async def test_a_plan_stating_no_documents_needs_a_justification(env: WorkflowEnvironment, engine: Engine) -> None:
    async with current_worker(env.client, engine) as queue:
        capa = await raise_record(env.client, queue)
        await to_action(capa)
        refusal = await refused(capa, RecordWorkflow.plan, await _plan(capa, affected_documents=[]))
        assert "no_documents_justification" in fields(refusal)
        refusal = await refused(capa, RecordWorkflow.plan, await _plan(capa))
        assert "affected_documents" in fields(refusal)
        await capa.step(
            RecordWorkflow.plan,
            await _plan(capa, affected_documents=[], no_documents_justification="Only the WI, listed as an action"),
        )
        assert (await capa.state()).no_documents_justification == "Only the WI, listed as an action"


async def test_verification_waits_for_the_revision_and_the_training_threshold(
    env: WorkflowEnvironment, engine: Engine
) -> None:
    async with current_worker(env.client, engine) as queue:
        capa = await raise_record(env.client, queue)
        await to_action(capa)
        await capa.step(RecordWorkflow.plan, await _plan(capa, affected_documents=["WI-042"]))
        await _approve(capa)

        # A document change is not completed without its revision and effective date.
        bare = CompleteActionInput(actor=actor("olivia"), action_id="A2", evidence="WI released")
        refusal = await refused(capa, RecordWorkflow.complete_action, bare)
        assert {"details.revision_to", "details.effective_date"} <= fields(refusal)
        await capa.step(
            RecordWorkflow.complete_action,
            bare.model_copy(update={"details": QmsDetails(revision_to="C", effective_date=date(2027, 1, 4))}),
        )

        trained = RecordTrainingInput(actor=actor("olivia"), action_id="A1", people=AUDIENCE[:7])
        await capa.step(RecordWorkflow.record_training, trained)
        done = CompleteActionInput(actor=actor("olivia"), action_id="A1", evidence="Sessions held")
        await capa.step(RecordWorkflow.complete_action, done)
        state = await capa.state()
        assert state.stage is Stage.VERIFICATION
        assert state.events[-1].kind is not EventKind.TRAINING_RECORDED

        refusal = await refused(capa, RecordWorkflow.verify, verification("maria"))
        assert "A1 (training)" in refusal.message
        assert "7 of 10 trained (70%), threshold 90%" in refusal.message

        more = RecordTrainingInput(actor=actor("olivia"), action_id="A1", people=AUDIENCE[6:9])
        await capa.step(RecordWorkflow.record_training, more)
        state = await capa.state()
        assert [e.kind for e in state.events].count(EventKind.TRAINING_RECORDED) == 2
        a1 = state.action("A1")
        assert a1 is not None
        assert a1.details is not None
        assert len(a1.details.completions) == 9

        await capa.step(RecordWorkflow.verify, verification("maria"))
        assert (await capa.state()).stage is Stage.EFFECTIVENESS
