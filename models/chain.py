"""The hash chains that make the audit trail tamper-evident: each record's timeline, and the admin log.

Every link is the SHA-256 (hex) of a canonical JSON object: the entry's content and the hash of the link before
it (the first link's is ``GENESIS``). Canonical means sorted keys, no whitespace, UTF-8, times in UTC with
microseconds: what the workflow computes when it appends an entry and what ``core.audit`` recomputes from the
database are the same bytes. Pure and deterministic, so the workflow sandbox runs it.
"""

import hashlib
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from models.payloads import Event

# The previous hash of a chain's first link.
GENESIS = "0" * 64


def canonical(content: dict[str, Any]) -> bytes:
    """``content`` as the bytes that are hashed: JSON with sorted keys and no whitespace."""
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def moment(at: datetime) -> str:
    """A time as the chain writes it: UTC, to the microsecond (what both databases keep)."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def link(previous: str, content: dict[str, Any]) -> str:
    """The hash of one link: ``content`` chained to the ``previous`` link's hash."""
    return hashlib.sha256(canonical({"content": content, "previous": previous})).hexdigest()


def entry_content(
    record_id: str, seq: int, *, at: datetime, kind: str, actor: str, details: dict[str, Any]
) -> dict[str, Any]:
    """What a timeline entry's hash covers; ``details`` as JSON values (``Event.facts``, the read model's column)."""
    return {"record_id": record_id, "seq": seq, "at": moment(at), "kind": kind, "actor": actor, "details": details}


def event_hash(record_id: str, event: Event, previous: str) -> str:
    """The hash of ``event``, an entry of record ``record_id``, chained to ``previous``."""
    content = entry_content(
        record_id, event.seq, at=event.at, kind=event.kind.value, actor=event.actor, details=event.facts()
    )
    return link(previous, content)


def seal(record_id: str, events: Iterable[Event]) -> list[str]:
    """The chained hashes of ``events`` from the genesis value on (what a ``chain_started`` entry keeps)."""
    hashes: list[str] = []
    for event in events:
        hashes.append(event_hash(record_id, event, hashes[-1] if hashes else GENESIS))
    return hashes


def admin_content(
    seq: int, *, at: datetime, actor: str, action: str, target: str, before: dict[str, Any], after: dict[str, Any]
) -> dict[str, Any]:
    """What an admin log entry's hash covers."""
    return {
        "seq": seq,
        "at": moment(at),
        "actor": actor,
        "action": action,
        "target": target,
        "before": before,
        "after": after,
    }


def head_of_heads(heads: dict[str, str | None], admin_head: str | None) -> str:
    """One hash over every record's chain head and the admin log's: published daily, so that a database rewritten
    wholesale (every chain recomputed) no longer matches what was published."""
    return hashlib.sha256(canonical({"records": heads, "admin_log": admin_head})).hexdigest()
