"""The record's own check of a signed step (21 CFR 11.50, 11.70): what it keeps, and what it refuses before
anything reaches its history."""

from datetime import timedelta

import pytest
from sqlalchemy import Engine
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from models.enums import Disposition, EventKind, RootCauseMethod, Stage, VerificationResult
from models.formatting import moment
from models.payloads import (
    CancelInput,
    CompleteActionInput,
    ContainmentInput,
    PlanInput,
    PlannedAction,
    RootCauseInput,
    VerifyInput,
)
from models.refusals import ErrorKind
from models.sentences import sentence
from tests.builders import signed
from tests.workflows.harness import Capa, actor, raise_record, running_worker
from workflows.record import RecordWorkflow


async def _to_verification(capa: Capa, env: WorkflowEnvironment) -> None:
    await capa.step(
        RecordWorkflow.contain,
        ContainmentInput(actor=actor("olivia"), summary="Lot quarantined", disposition=Disposition.QUARANTINE),
    )
    await capa.step(
        RecordWorkflow.root_cause,
        RootCauseInput(actor=actor("olivia"), method=RootCauseMethod.OTHER, cause="Deburring tool worn"),
    )
    due = await env.get_current_time() + timedelta(days=10)
    await capa.step(
        RecordWorkflow.plan,
        PlanInput(actor=actor("olivia"), actions=[PlannedAction(owner="oscar", due_at=due, description="New tool")]),
    )
    await capa.step(
        RecordWorkflow.complete_action, CompleteActionInput(actor=actor("oscar"), action_id="A1", evidence="WO-5531")
    )


async def _refused(capa: Capa, inp: CancelInput) -> ApplicationError:
    """Send a cancellation as it is (signed or not): the record's refusal, the record unchanged and no step in its
    history (a refused update leaves at most the workflow task that refused it)."""
    before = await capa.state()
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await capa.handle.execute_update(RecordWorkflow.cancel, inp)
    refusal = refused.value.cause
    assert isinstance(refusal, ApplicationError)
    assert await capa.state() == before
    types = [e.event_type for e in (await capa.handle.fetch_history()).events]
    assert EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED not in types
    assert EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED not in types
    assert before.stage is Stage.CONTAINMENT
    return refusal


async def test_a_signed_verification_keeps_its_manifestation(env: WorkflowEnvironment, engine: Engine) -> None:
    """The verification, its timeline entry and the entry's sentence carry who signed, what it means and when."""
    async with running_worker(env.client, engine) as queue:
        capa = await raise_record(env.client, queue)
        await _to_verification(capa, env)
        verify = signed(
            capa.handle.id, VerifyInput(actor=actor("maria"), result=VerificationResult.PASS, evidence="50 checked")
        )
        await capa.step(RecordWorkflow.verify, verify)
        state = await capa.state()
    assert verify.signature is not None
    expected = f"Signed by Maria (maria), verified: actions implemented, {moment(verify.signature.signed_at)}"
    [verification] = state.verifications
    assert verification.signature == verify.signature
    assert verification.signature.manifestation() == expected
    [entry] = [e for e in state.events if e.kind is EventKind.VERIFIED]
    assert getattr(entry.details, "signature", None) == verify.signature
    assert entry.facts()["signature"]["printed"] == expected
    assert sentence(entry) == f"Verification by maria, pass: 50 checked. {expected}"


async def test_a_step_without_a_signature_is_refused(env: WorkflowEnvironment, engine: Engine) -> None:
    """An unsigned cancellation, sent straight to the record past every front end, leaves no trace."""
    async with running_worker(env.client, engine) as queue:
        capa = await raise_record(env.client, queue)
        refusal = await _refused(capa, CancelInput(actor=actor("mike"), reason="Raised twice"))
    assert refusal.type == ErrorKind.NOT_ALLOWED.value
    assert "signed step" in refusal.message
    assert refusal.details[0]["field"] == "signature"


async def test_a_signature_naming_another_signer_is_refused(env: WorkflowEnvironment, engine: Engine) -> None:
    """mike cannot take a step under nina's signature (nor she sign for him)."""
    async with running_worker(env.client, engine) as queue:
        capa = await raise_record(env.client, queue)
        forged = signed(capa.handle.id, CancelInput(actor=actor("mike"), reason="Raised twice"), signer="nina")
        refusal = await _refused(capa, forged)
    assert refusal.type == ErrorKind.NOT_ALLOWED.value
    assert refusal.message == "signature.signer: signed by nina; only the person taking the step (mike) may sign it"


async def test_a_signature_of_other_content_or_meaning_is_refused(env: WorkflowEnvironment, engine: Engine) -> None:
    """A signature is bound to its record, to the content signed and to the meaning the rules give that content."""
    async with running_worker(env.client, engine) as queue:
        capa = await raise_record(env.client, queue)
        elsewhere = await _refused(capa, signed("NC-2026-0001", CancelInput(actor=actor("mike"), reason="Twice")))
        good = signed(capa.handle.id, CancelInput(actor=actor("mike"), reason="Raised twice"))
        edited = await _refused(capa, good.model_copy(update={"reason": "Not a nonconformity"}))
        assert good.signature is not None
        meaning = good.signature.model_copy(update={"meaning": "approved: effective, record closed"})
        misread = await _refused(capa, good.model_copy(update={"signature": meaning}))
        await capa.step(RecordWorkflow.cancel, good)
        state = await capa.state()
    for refusal in (elsewhere, edited):
        assert refusal.type == ErrorKind.INVALID.value
        assert refusal.details[0]["field"] == "signature.content_sha256"
    assert misread.type == ErrorKind.INVALID.value
    assert misread.details[0]["field"] == "signature.meaning"
    [cancelled] = [e for e in state.events if e.kind is EventKind.CANCELLED]
    assert getattr(cancelled.details, "signature", None) == good.signature
    assert good.signature.meaning == "approved: record cancelled"
