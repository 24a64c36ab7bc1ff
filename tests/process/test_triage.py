"""Finding 2: every nonconformity became a full CAPA at the severity its raiser chose. Now quality triages it: the
risk matrix gives its class (a different class re-arms the running clock; the raised one stays on record), a
later reclassification needs a reason, and a correction alone may close it after containment."""

from datetime import datetime, timedelta

from sqlalchemy import Engine
from temporalio.testing import WorkflowEnvironment

from models.enums import EventKind, Severity, Stage, TriageDecision
from models.payloads import EscalationEntry, TriageEntry
from tests.process.flow import CRITICAL, MAJOR, MINOR, containment, current_worker, refused, root_cause, triage
from tests.workflows.harness import close_to, raise_record
from workflows.record import RecordWorkflow


async def test_root_cause_waits_for_quality_to_decide_a_capa_is_needed(
    env: WorkflowEnvironment, engine: Engine
) -> None:
    """Contained but not triaged: the root cause is refused, naming the triage; a manager may not triage."""
    async with current_worker(env.client, engine) as queue:
        capa = await raise_record(env.client, queue)
        await capa.step(RecordWorkflow.contain, containment())
        refusal = await refused(capa, RecordWorkflow.root_cause, root_cause())
        assert refusal.type == "WrongStage"
        assert "waits for quality's triage" in refusal.message
        manager = await refused(capa, RecordWorkflow.triage, triage(by="mike"))
        assert manager.type == "NotAllowed"
        assert "quality only" in manager.message

        await capa.step(RecordWorkflow.triage, triage(MAJOR))
        await capa.step(RecordWorkflow.root_cause, root_cause())
        assert (await capa.state()).stage is Stage.ACTION


async def test_a_triage_to_another_class_re_arms_the_running_clock(env: WorkflowEnvironment, engine: Engine) -> None:
    """Raised major (containment due in 72h), triaged critical: containment falls due 24h after the raise, the
    escalation rings then and not at 72h, and the raised class stays on record as provisional."""
    async with current_worker(env.client, engine) as queue:
        capa = await raise_record(env.client, queue, severity=Severity.MAJOR)
        raised_at = (await capa.state()).raised_at
        assert (await capa.state()).clock.due_at == raised_at + timedelta(hours=72)  # type: ignore[union-attr]

        await capa.step(RecordWorkflow.triage, triage(CRITICAL, customer_notification=True))
        state = await capa.state()
        assert state.severity is Severity.CRITICAL
        assert state.provisional_severity is Severity.MAJOR
        assert state.triage is not None
        assert state.triage.customer_notification
        assert state.clock is not None
        new_due = raised_at + timedelta(hours=24)
        assert (state.clock.due_at, state.clock.original_due_at) == (new_due, new_due)
        [entry] = [e.details for e in state.events if e.kind is EventKind.TRIAGED]
        assert isinstance(entry, TriageEntry)
        assert (entry.previous_class, entry.risk_class) == (Severity.MAJOR, Severity.CRITICAL)

        # Past the old due (72h): the critical ladder (0s, 24h after the new due) has rung, nothing at the old due.
        await env.sleep(timedelta(hours=73))
        state = await capa.wait_for(lambda s: sum(e.kind is EventKind.ESCALATED for e in s.events) >= 2)
        escalations = [e for e in state.events if e.kind is EventKind.ESCALATED]
        assert all(isinstance(e.details, EscalationEntry) and e.details.due_at == new_due for e in escalations)
        rang = [datetime.fromisoformat(e.facts()["scheduled_at"]) for e in escalations]
        assert rang == [new_due, new_due + timedelta(hours=24)]
        assert close_to(escalations[0].at, new_due)
        # The critical reminders (12h and 2h before the new due) rang before them.
        reminders = [
            datetime.fromisoformat(e.facts()["scheduled_at"]) for e in state.events if e.kind is EventKind.REMINDER_SENT
        ]
        assert reminders == [new_due - timedelta(hours=12), new_due - timedelta(hours=2)]


async def test_a_later_reclassification_needs_a_reason(env: WorkflowEnvironment, engine: Engine) -> None:
    """A second, signed triage is refused without a rationale; with one the record is minor, the raised class kept."""
    async with current_worker(env.client, engine) as queue:
        capa = await raise_record(env.client, queue, severity=Severity.MAJOR)
        await capa.step(RecordWorkflow.triage, triage(CRITICAL))
        refusal = await refused(capa, RecordWorkflow.triage, triage(MINOR))
        assert refusal.type == "InvalidInput"
        assert "rationale" in refusal.message
        await capa.step(RecordWorkflow.triage, triage(MINOR, rationale="Occurrence data shows one lot only"))
        state = await capa.state()
        assert (state.severity, state.provisional_severity) == (Severity.MINOR, Severity.MAJOR)
        assert state.clock is not None
        assert state.clock.due_at == state.raised_at + timedelta(days=7)


async def test_correction_only_closes_after_containment_in_either_order(
    env: WorkflowEnvironment, engine: Engine
) -> None:
    """Triaged correction-only before containment, the containment closes the record; triaged after it, the
    triage closes it. The signed rationale is in the timeline; without one the triage is refused."""
    async with current_worker(env.client, engine) as queue:
        first = await raise_record(env.client, queue)
        bare = triage(MINOR, decision=TriageDecision.CORRECTION_ONLY)
        refusal = await refused(first, RecordWorkflow.triage, bare)
        assert "rationale" in refusal.message
        rationale = "One lot, all scrapped; no systemic cause"
        await first.step(RecordWorkflow.triage, bare.model_copy(update={"rationale": rationale}))
        assert (await first.state()).stage is Stage.CONTAINMENT
        await first.step(RecordWorkflow.contain, containment())

        second = await raise_record(env.client, queue)
        await second.step(RecordWorkflow.contain, containment())
        assert (await second.state()).stage is Stage.ROOT_CAUSE
        await second.step(RecordWorkflow.triage, bare.model_copy(update={"rationale": rationale}))

        for capa in (first, second):
            state = await capa.state()
            assert state.stage is Stage.CLOSED
            assert state.clock is None
            [entry] = [e for e in state.events if e.kind is EventKind.TRIAGED]
            assert entry.details.rationale == rationale  # type: ignore[union-attr]
            assert entry.details.signature is not None  # type: ignore[union-attr]
            assert entry.details.signature.meaning == "approved: triaged, correction only"  # type: ignore[union-attr]
            assert state.events[-1].kind is EventKind.CLOSED
            assert not state.root_causes
