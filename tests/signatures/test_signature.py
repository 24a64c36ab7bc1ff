"""A signature on its own: its meanings, its manifestation and what its content hash binds."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from models import rules, signatures
from models.enums import EffectivenessResult, VerificationResult
from models.payloads import (
    CancelStep,
    ContainmentStep,
    ExtensionDecisionStep,
    Payload,
    ReviewStep,
    Signature,
    VerifyStep,
)
from models.rules import Step

AT = datetime(2026, 3, 1, 14, 2, 11, tzinfo=UTC)


@pytest.mark.parametrize(
    ("step", "submitted", "meaning"),
    [
        (Step.VERIFY, VerifyStep(result=VerificationResult.PASS, evidence="x"), "verified: actions implemented"),
        (
            Step.VERIFY,
            VerifyStep(result=VerificationResult.FAIL, evidence="x"),
            "verification failed: actions not implemented as planned",
        ),
        (
            Step.REVIEW,
            ReviewStep(result=EffectivenessResult.EFFECTIVE, evidence="x"),
            "approved: effective, record closed",
        ),
        (
            Step.REVIEW,
            ReviewStep(result=EffectivenessResult.NOT_EFFECTIVE, evidence="x"),
            "reviewed: not effective, root cause reopened",
        ),
        (Step.CANCEL, CancelStep(reason="Duplicate"), "approved: record cancelled"),
        (Step.DECIDE_EXTENSION, ExtensionDecisionStep(approve=True), "approved: extension granted"),
        (Step.DECIDE_EXTENSION, ExtensionDecisionStep(approve=False, reason="No"), "rejected: extension refused"),
    ],
)
def test_each_signed_outcome_has_its_meaning(step: Step, submitted: Payload, meaning: str) -> None:
    """The meaning follows from the step and what it decides."""
    assert rules.signature_meaning(step, submitted) == meaning


def test_a_step_that_is_not_signed_has_no_meaning() -> None:
    contained = ContainmentStep.model_validate({"summary": "Quarantined", "disposition": "quarantine"})
    assert rules.signature_meaning(Step.CONTAIN, contained) is None
    assert Step.CONTAIN not in rules.SIGNED_STEPS


def test_the_manifestation_gives_printed_name_login_meaning_and_utc_time() -> None:
    """Printed as Part 11.50 asks, the time in UTC whatever zone it was given in."""
    local = AT.astimezone(timezone(timedelta(hours=2)))
    signature = Signature(
        signer="maria",
        full_name="Maria Keller",
        meaning="approved: effective, record closed",
        signed_at=local,
        content_sha256="0" * 64,
    )
    expected = "Signed by Maria Keller (maria), approved: effective, record closed, 2026-03-01 14:02:11 UTC"
    assert signature.manifestation() == expected
    assert signature.signed_at.tzinfo == UTC
    assert signature.model_dump(mode="json")["printed"] == expected
    assert Signature.model_validate(signature.model_dump(mode="json")) == signature


_STEP = VerifyStep(result=VerificationResult.PASS, evidence="50 checked")
_MEANING = "verified: actions implemented"


def _hash(
    *,
    record_id: str = "NC-2026-0001",
    step: str = "verify",
    fields: dict[str, object] | None = None,
    signer: str = "maria",
    meaning: str = _MEANING,
    signed_at: datetime = AT,
) -> str:
    given = signatures.submitted_fields(_STEP) if fields is None else fields
    return signatures.content_sha256(record_id, step, given, signer=signer, meaning=meaning, signed_at=signed_at)


def test_the_content_hash_binds_every_part_of_what_was_signed() -> None:
    """Another record, step, field value, signer, meaning or time: another hash; the same content: the same."""
    fields = signatures.submitted_fields(_STEP)
    base = _hash()
    assert base == _hash(fields=dict(reversed(fields.items())))
    variants = [
        _hash(record_id="NC-2026-0002"),
        _hash(step="review"),
        _hash(fields={**fields, "evidence": "49 checked"}),
        _hash(signer="mike"),
        _hash(meaning="approved: record cancelled"),
        _hash(signed_at=AT + timedelta(seconds=1)),
    ]
    assert len({base, *variants}) == 1 + len(variants)
    signed = signatures.signature(
        "NC-2026-0001", "verify", _STEP, signer="maria", full_name="Maria", meaning=_MEANING, signed_at=AT
    )
    assert signed.content_sha256 == base
    assert signatures.matches("NC-2026-0001", "verify", _STEP, signed)
    assert not signatures.matches("NC-2026-0002", "verify", _STEP, signed)
