"""Webhooks: one signed JSON POST per event to each configured endpoint (chat tools, MES, ERP).

The body carries an idempotency key (record id and event sequence) that stays the same on every attempt,
so an endpoint that honours it processes an event once however often a crash makes us send it.
"""

import hashlib
import hmac
import json
from datetime import UTC, datetime
from http import HTTPStatus

import httpx

from activities.errors import DeliveryError
from core.settings import Settings
from models.tables import OutboxMessage

TIMEOUT_S = 10.0
SIGNATURE_HEADER = "X-Capa-Signature"
EVENT_HEADER = "X-Capa-Event"
IDEMPOTENCY_HEADER = "Idempotency-Key"

# Client errors that say "not now" rather than "never".
_RETRYABLE_CLIENT_ERRORS = {HTTPStatus.REQUEST_TIMEOUT, HTTPStatus.TOO_MANY_REQUESTS}


def event_type(kind: str) -> str:
    return f"capa.{kind}"


def idempotency_key(row: OutboxMessage) -> str:
    return f"{row.record_id}:{row.seq}"


def body_bytes(row: OutboxMessage, sent_at: datetime) -> bytes:
    details = json.loads(row.details)
    body = {
        "event_type": event_type(row.kind),
        "idempotency_key": idempotency_key(row),
        "record_id": row.record_id,
        "seq": row.seq,
        "kind": row.kind,
        "subject": row.subject,
        "recipients": details.get("people", []),
        "link": row.link,
        "sent_at": sent_at.isoformat(),
    }
    return json.dumps(body, separators=(",", ":"), sort_keys=True).encode()


def sign(secret: str, body: bytes) -> str:
    """The ``X-Capa-Signature`` value: ``sha256=`` and the hex HMAC-SHA256 of the exact body bytes."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post_webhook(row: OutboxMessage, settings: Settings) -> int:
    """POST the row's event to its endpoint; return the HTTP status; DeliveryError when it was not taken."""
    if row.address is None or settings.webhook_secret is None:
        raise DeliveryError(f"outbox row {row.id}: no endpoint or no CAPA_WEBHOOK_SECRET", permanent=True)
    body = body_bytes(row, datetime.now(UTC))
    headers = {
        "Content-Type": "application/json",
        EVENT_HEADER: event_type(row.kind),
        IDEMPOTENCY_HEADER: idempotency_key(row),
        SIGNATURE_HEADER: sign(settings.webhook_secret.get_secret_value(), body),
    }
    try:
        response = httpx.post(row.address, content=body, headers=headers, timeout=TIMEOUT_S)
    except httpx.HTTPError as exc:
        raise DeliveryError(f"POST {row.address}: {type(exc).__name__}: {exc}", permanent=False) from exc
    status = response.status_code
    if response.is_success:
        return status
    error = f"POST {row.address}: HTTP {status} {response.reason_phrase}".rstrip()
    client_error = HTTPStatus.BAD_REQUEST <= status < HTTPStatus.INTERNAL_SERVER_ERROR
    # 3xx (not followed: a redirect could leak the signed body elsewhere) and 4xx are final, but 408 and 429.
    permanent = status < HTTPStatus.BAD_REQUEST or (client_error and status not in _RETRYABLE_CLIENT_ERRORS)
    raise DeliveryError(error, permanent=permanent)
