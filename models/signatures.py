"""What an electronic signature signs: one canonical form of a signed step's content and its SHA-256.

The client layer hashes it when a person signs (``client.signing``); the record's rules hash it again when the
step arrives (``models.rules.check_signature``) and refuse a signature that does not match, so a signature can
be neither made for one step and sent with another nor moved to another record. Pure: safe in the sandbox.
"""

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from models.payloads import Payload, Signature


def submitted_fields(step: Payload) -> dict[str, Any]:
    """The fields a step submits, as JSON values: without its actor and signature, and without fields left
    unset (so a front end one release ahead, adding an optional field, signs the same content)."""
    fields: dict[str, Any] = step.model_dump(mode="json", exclude={"actor", "signature"}, exclude_none=True)
    return fields


def content_sha256(
    record_id: str, step: str, fields: Mapping[str, Any], *, signer: str, meaning: str, signed_at: datetime
) -> str:
    """SHA-256 (hex) of the signed content as canonical JSON: keys sorted, no spaces, the time in UTC."""
    content = {
        "record_id": record_id,
        "step": step,
        "fields": dict(fields),
        "signer": signer,
        "meaning": meaning,
        "signed_at": signed_at.astimezone(UTC).isoformat(),
    }
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def signature(
    record_id: str, step: str, submitted: Payload, *, signer: str, full_name: str, meaning: str, signed_at: datetime
) -> Signature:
    """The signature of ``signer`` on ``submitted`` (a step of ``record_id``), with its content hash."""
    at = signed_at.astimezone(UTC)
    digest = content_sha256(record_id, step, submitted_fields(submitted), signer=signer, meaning=meaning, signed_at=at)
    return Signature(signer=signer, full_name=full_name, meaning=meaning, signed_at=at, content_sha256=digest)


def matches(record_id: str, step: str, submitted: Payload, sig: Signature) -> bool:
    """Whether ``sig`` was made on exactly this content of this step of this record."""
    fields = submitted_fields(submitted)
    expected = content_sha256(record_id, step, fields, signer=sig.signer, meaning=sig.meaning, signed_at=sig.signed_at)
    return sig.content_sha256 == expected
