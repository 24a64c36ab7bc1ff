"""Checking the audit trail: every record's hash chain and the admin log's, recomputed from the database.

A chain is recomputed entry by entry (``models.chain``); the first entry whose stored hash does not match its
content, whose seq leaves a gap, or that the record's row says exists but is not there, is named. An open
record's chain can also be compared with its workflow's (``live``: the state its workflow answers), which an
edit of the database alone cannot reach. ``chain_head`` is the one hash over all chains that is published daily.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlmodel import col, select

from core.database import session_scope
from models import chain
from models.enums import EventKind, Stage
from models.payloads import CapaState
from models.tables import AdminLogEntry, Nonconformity, TimelineEvent

ADMIN_LOG = "admin log"


@dataclass(frozen=True)
class Mismatch:
    """The first entry of a chain that does not match: which chain, which entry, and what differs."""

    chain: str
    seq: int
    kind: str | None
    problem: str

    def __str__(self) -> str:
        kind = f" ({self.kind})" if self.kind else ""
        return f"{self.chain} entry {self.seq}{kind}: {self.problem}"


@dataclass(frozen=True)
class ChainCheck:
    """One chain checked: how many entries, its head (the last entry's hash), and the first mismatch if any.
    ``chained`` is False for a record with no entry since timelines were chained (its chain has not started)."""

    chain: str
    entries: int
    head: str | None
    mismatch: Mismatch | None = None
    chained: bool = True
    compared_live: bool = False

    @property
    def ok(self) -> bool:
        return self.mismatch is None

    def line(self) -> str:
        """One line for a person: ``NC-2026-0001 OK: 9 entries, chain head 3f2a...`` or what differs."""
        if self.mismatch is not None:
            return str(self.mismatch)
        entries = "1 entry" if self.entries == 1 else f"{self.entries} entries"
        if not self.chained:
            return f"{self.chain} OK: {entries}, not chained (no entry since timelines were chained)"
        live = ", same as its workflow" if self.compared_live else ""
        # A record's row counts its entries, so a removed last entry is named; nothing in the database counts the
        # admin log's, so its last entries removed leave a shorter chain that still verifies.
        tail = "; a removed tail shows only against a published head" if self.chain == ADMIN_LOG else ""
        return f"{self.chain} OK: {entries}, chain head {self.head}{live}{tail}"


class UnknownRecord(LookupError):
    """No record of that id in the read model."""


def verify_record(engine: Engine, record_id: str, live: CapaState | None = None) -> ChainCheck:
    """Recompute ``record_id``'s chain from the database; with ``live`` (its workflow's state) compare them too."""
    with session_scope(engine) as session:
        record = session.get(Nonconformity, record_id)
        if record is None:
            raise UnknownRecord(f"no record {record_id}")
        rows = list(
            session.exec(
                select(TimelineEvent).where(col(TimelineEvent.record_id) == record_id).order_by(col(TimelineEvent.seq))
            )
        )
    stored_head = json.loads(record.state_json).get("chain_head")
    check = _walk(record_id, rows, record.last_seq, stored_head)
    if check.mismatch is None and live is not None:
        mismatch = _against_live(record_id, rows, live)
        return ChainCheck(record_id, check.entries, check.head, mismatch, check.chained, compared_live=True)
    return check


def verify_all(engine: Engine, live: Mapping[str, CapaState] | None = None) -> list[ChainCheck]:
    """Every record's chain (oldest first) and then the admin log's; ``live``: open records' workflow states."""
    live = live or {}
    with session_scope(engine) as session:
        ids = list(session.exec(select(Nonconformity.id).order_by(col(Nonconformity.raised_at), col(Nonconformity.id))))
    return [*(verify_record(engine, record_id, live.get(record_id)) for record_id in ids), verify_admin_log(engine)]


def open_record_ids(engine: Engine, record_id: str | None = None) -> list[str]:
    """The records whose workflow still runs (all, or ``record_id`` if it is open): the ones to compare live."""
    open_stages = [stage.value for stage in Stage if stage.is_open]
    query = select(Nonconformity.id).where(col(Nonconformity.stage).in_(open_stages))
    if record_id is not None:
        query = query.where(col(Nonconformity.id) == record_id)
    with session_scope(engine) as session:
        return list(session.exec(query.order_by(col(Nonconformity.id))))


def verify_admin_log(engine: Engine) -> ChainCheck:
    """Recompute the admin log's chain. An edited entry, or one removed before the last, is named; entries removed
    from the end are not (nothing in the database says how many there were): only a head published before
    (``chain_head`` of a moment since then) shows them missing."""
    with session_scope(engine) as session:
        rows = list(session.exec(select(AdminLogEntry).order_by(col(AdminLogEntry.seq))))
    previous = chain.GENESIS
    for expected, row in enumerate(rows, start=1):
        if row.seq != expected:
            return ChainCheck(ADMIN_LOG, len(rows), None, _missing(ADMIN_LOG, expected, row.seq))
        content = chain.admin_content(
            row.seq,
            at=row.at,
            actor=row.actor,
            action=row.action,
            target=row.target,
            before=json.loads(row.before),
            after=json.loads(row.after),
        )
        if chain.link(previous, content) != row.hash:
            problem = "its hash does not match its content"
            return ChainCheck(ADMIN_LOG, len(rows), None, Mismatch(ADMIN_LOG, row.seq, row.action, problem))
        previous = row.hash
    return ChainCheck(ADMIN_LOG, len(rows), rows[-1].hash if rows else None)


def chain_head(engine: Engine, at: datetime | None = None) -> str:
    """One hash over every record's chain head and the admin log's: of the entries made up to ``at`` (default:
    all), so the head published for a moment can be recomputed later and compared."""
    events = select(TimelineEvent.record_id, TimelineEvent.hash)
    admin_log = select(AdminLogEntry.hash)
    if at is not None:
        events = events.where(col(TimelineEvent.at) <= at)
        admin_log = admin_log.where(col(AdminLogEntry.at) <= at)
    heads: dict[str, str | None] = {}
    with session_scope(engine) as session:
        for record_id, hashed in session.exec(events.order_by(col(TimelineEvent.record_id), col(TimelineEvent.seq))):
            heads[record_id] = hashed
        admin = session.exec(admin_log.order_by(col(AdminLogEntry.seq).desc()).limit(1)).first()
    return chain.head_of_heads(heads, admin)


def _walk(record_id: str, rows: list[TimelineEvent], last_seq: int, stored_head: str | None) -> ChainCheck:
    """The chain of one record's stored entries: entries before a ``chain_started`` entry are sealed by it, every
    entry from it on carries its own hash."""
    unsealed: list[TimelineEvent] = []
    previous: str | None = None
    for expected, row in enumerate(rows, start=1):
        if row.seq != expected:
            return ChainCheck(record_id, len(rows), previous, _missing(record_id, expected, row.seq))
        details = json.loads(row.details)
        content = chain.entry_content(record_id, row.seq, at=row.at, kind=row.kind, actor=row.actor, details=details)
        if previous is None and row.kind == EventKind.CHAIN_STARTED.value:
            mismatch = _sealed(record_id, unsealed, details.get("sealed", []))
            if mismatch is not None:
                return ChainCheck(record_id, len(rows), None, mismatch)
            previous = details["sealed"][-1]
        elif previous is None and row.hash is None:
            unsealed.append(row)
            continue
        elif previous is None:
            if unsealed:
                problem = "its hash chains to entries no chain_started entry sealed"
                return ChainCheck(record_id, len(rows), None, Mismatch(record_id, row.seq, row.kind, problem))
            previous = chain.GENESIS
        if row.hash is None:
            problem = "it has no hash, though the record's chain started before it"
            return ChainCheck(record_id, len(rows), previous, Mismatch(record_id, row.seq, row.kind, problem))
        if chain.link(previous, content) != row.hash:
            problem = "its hash does not match its content"
            return ChainCheck(record_id, len(rows), previous, Mismatch(record_id, row.seq, row.kind, problem))
        previous = row.hash
    if last_seq > len(rows):
        problem = f"missing: the record's row reflects {last_seq} entries, the timeline holds {len(rows)}"
        return ChainCheck(record_id, len(rows), previous, Mismatch(record_id, len(rows) + 1, None, problem))
    # The row may lag behind the entries (a snapshot older than an entry already written): its head is the hash
    # of the entry it reflects last.
    reflected = rows[last_seq - 1] if 0 < last_seq <= len(rows) else None
    if stored_head is not None and (reflected is None or reflected.hash != stored_head):
        problem = "its hash is not the chain head the record's row holds"
        seq = reflected.seq if reflected else last_seq
        mismatch = Mismatch(record_id, seq, reflected.kind if reflected else None, problem)
        return ChainCheck(record_id, len(rows), previous, mismatch)
    return ChainCheck(record_id, len(rows), previous, chained=previous is not None or not rows)


def _sealed(record_id: str, unsealed: list[TimelineEvent], sealed: list[Any]) -> Mismatch | None:
    """The first entry before a ``chain_started`` entry whose recomputed hash is not the one it sealed."""
    if not sealed:
        return Mismatch(record_id, len(unsealed) + 1, EventKind.CHAIN_STARTED.value, "it seals no entry")
    previous = chain.GENESIS
    for row, kept in zip(unsealed, sealed, strict=False):
        content = chain.entry_content(
            record_id, row.seq, at=row.at, kind=row.kind, actor=row.actor, details=json.loads(row.details)
        )
        previous = chain.link(previous, content)
        if previous != kept:
            return Mismatch(
                record_id, row.seq, row.kind, "its content does not match the hash its chain_started sealed"
            )
    if len(unsealed) != len(sealed):
        seq = len(unsealed) + 1
        return Mismatch(record_id, seq, EventKind.CHAIN_STARTED.value, f"it seals {len(sealed)} entries, not {seq - 1}")
    return None


def _against_live(record_id: str, rows: list[TimelineEvent], live: CapaState) -> Mismatch | None:
    """The first stored entry whose hash is not the one the record's workflow holds (the workflow may be ahead of
    the read model by the steps not yet written; never behind it). Entries before the chain are sealed by its
    ``chain_started`` entry, whose hash is compared like any other."""
    for row in rows:
        if row.seq > len(live.events):
            return Mismatch(record_id, row.seq, row.kind, "the record's workflow has no such entry")
        event = live.events[row.seq - 1]
        if event.hash != row.hash:
            return Mismatch(record_id, row.seq, row.kind, "its hash differs from the one the record's workflow holds")
    return None


def _missing(name: str, expected: int, found: int) -> Mismatch:
    return Mismatch(name, expected, None, f"missing: the entry after {expected - 1} is {found}")
