"""Records raised under the earlier rules keep them: on one worker, a record pinned to the earlier rules runs to its
close as before (no triage, a manager verifies and reviews), while one pinned to the current rules needs triage."""

from datetime import timedelta

from sqlalchemy import Engine
from sqlmodel import Session, select
from temporalio.testing import WorkflowEnvironment

from models.enums import EffectivenessResult, EventKind, RootCauseMethod, Stage, VerificationResult
from models.payloads import CompleteActionInput, PlanInput, ReviewInput, RootCauseInput, VerifyInput
from models.tables import OutboxMessage
from tests.policies import CURRENT, EARLIER
from tests.process.flow import action, containment, current_worker, now_of, refused, root_cause, triage
from tests.workers.harness import eventually
from tests.workflows.harness import actor, raise_record
from workflows.record import RecordWorkflow


async def test_an_earlier_record_finishes_under_its_rules_beside_a_current_one(
    env: WorkflowEnvironment, engine: Engine
) -> None:
    """Same worker: the earlier record is not triaged (quality's triage is refused), a manager verifies and reviews
    it and the review's notice goes to its owner alone; the current record's root cause waits for triage."""
    async with current_worker(env.client, engine) as queue:
        old = await raise_record(env.client, queue, policy=EARLIER)
        new = await raise_record(env.client, queue, policy=CURRENT)
        assert not (await old.state()).under_current_rules
        assert (await new.state()).under_current_rules

        no_triage = await refused(old, RecordWorkflow.triage, triage())
        assert "raised under the earlier rules, which have no triage" in no_triage.message
        for capa in (old, new):
            await capa.step(RecordWorkflow.contain, containment())
        waiting = await refused(new, RecordWorkflow.root_cause, root_cause())
        assert "waits for quality's triage" in waiting.message

        one_why = RootCauseInput(
            actor=actor("olivia"), method=RootCauseMethod.FIVE_WHYS, cause="Tool worn", whys=["Tool worn"]
        )
        await old.step(RecordWorkflow.root_cause, one_why)
        due = await now_of(old) + timedelta(days=200)  # beyond any current class's latest due
        await old.step(RecordWorkflow.plan, PlanInput(actor=actor("olivia"), actions=[action("olivia", due)]))
        assert (await old.state()).pending_plan is None
        done = CompleteActionInput(actor=actor("olivia"), action_id="A1", evidence="Tool replaced")
        await old.step(RecordWorkflow.complete_action, done)
        verify = VerifyInput(actor=actor("maria"), result=VerificationResult.PASS, evidence="50 housings burr-free")
        await old.step(RecordWorkflow.verify, verify)

        state = await old.state()
        assert state.effectiveness_due_at is not None
        await env.sleep(state.effectiveness_due_at - await env.get_current_time() + timedelta(minutes=1))
        state = await old.wait_for(lambda s: s.clock is not None)
        await old.step(
            RecordWorkflow.review,
            ReviewInput(actor=actor("maria"), result=EffectivenessResult.EFFECTIVE, evidence="No recurrence"),
        )
        state = await old.state()
        assert state.stage is Stage.CLOSED
        assert state.triage is None
        assert [e.actor for e in state.events if e.kind in (EventKind.VERIFIED, EventKind.EFFECTIVENESS_REVIEWED)] == [
            "maria",
            "maria",
        ]
        [due_event] = [e for e in state.events if e.kind is EventKind.EFFECTIVENESS_DUE]

        def told() -> list[str]:
            with Session(engine) as session:
                rows = session.exec(
                    select(OutboxMessage).where(OutboxMessage.record_id == state.id, OutboxMessage.seq == due_event.seq)
                ).all()
            return sorted({row.recipient for row in rows})

        assert await eventually(told, 10, "the effectiveness_due notice in the outbox") == ["olivia"]
