"""The daily overdue digest: who is told about which late steps, and putting one message per person in the outbox.

Each manager hears of the overdue steps and actions held by anyone below them in the reporting line, directly
or indirectly; admins hear of all of them. The outbox key (``DIGEST-<local date>``, seq 0, recipient, channel)
makes the digest idempotent per day: a retried activity, a second scheduled run or a ``capa digest --now``
on the same local day queues nothing new.
"""

import asyncio
from collections.abc import Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import Engine
from sqlmodel import col, select
from temporalio import activity

from core import audit, outbox, readmodel
from core.database import session_scope
from core.readmodel import OverdueItem
from core.settings import Settings
from models.digest import ChainHeadResult, DigestInput, DigestResult
from models.enums import Channel, EventKind, OutboxStatus, Role
from models.formatting import duration, minute
from models.payloads import Notice
from models.tables import OutboxMessage, User

log = structlog.get_logger(__name__)

# Every digest of one local day shares this outbox key; seq is fixed because a digest has no timeline.
DIGEST_PREFIX = "DIGEST-"
DIGEST_SEQ = 0
# The outbox key of a day's published chain head.
CHAIN_HEAD_PREFIX = "CHAIN-HEAD-"


def digest_key(at: datetime, time_zone: str) -> str:
    """The outbox record id of the digest for the local day containing ``at``."""
    return f"{DIGEST_PREFIX}{at.astimezone(ZoneInfo(time_zone)).date().isoformat()}"


def digest_lists(items: list[OverdueItem], users: Iterable[User]) -> dict[str, list[OverdueItem]]:
    """Each recipient's share of ``items``, keeping their order; nobody is listed with nothing to read.

    A manager receives every item whose holder reports to them at any depth (the holder's own items go to
    their managers, not to them); every admin receives all items. A reporting line that loops back on itself
    is followed only until it repeats.
    """
    managers = {user.name: user.manager for user in users}
    roles = {user.name: user.role for user in users}
    admins = sorted(name for name, role in roles.items() if role == Role.ADMIN.value)
    lists: dict[str, list[OverdueItem]] = {}
    for item in items:
        recipients = dict.fromkeys(_managers_above(item.holder, managers))
        recipients.update(dict.fromkeys(admins))
        for name in recipients:
            lists.setdefault(name, []).append(item)
    return {name: lists[name] for name in sorted(lists)}


def _managers_above(holder: str, managers: dict[str, str | None]) -> list[str]:
    chain: list[str] = []
    seen = {holder}
    current = managers.get(holder)
    while current is not None and current not in seen:
        chain.append(current)
        seen.add(current)
        current = managers.get(current)
    return chain


def digest_body(items: list[OverdueItem], at: datetime, time_zone: str) -> str:
    """A plain-text table of the overdue items, most urgent first, with times in the digest's zone. An item is
    late against its original due; an extended one says its revised due beside it.

    No greeting: the e-mail templates add one, and the same text goes to webhook endpoints.
    """
    zone = ZoneInfo(time_zone)
    local = at.astimezone(zone)
    header = ("RECORD", "STAGE", "STEP", "HOLDER", "DUE", "LATE BY", "LEVEL")
    rows = [
        (
            item.record_id,
            item.stage.value,
            item.target,
            item.holder,
            minute(item.due_at, zone)
            + (f" (extended to {minute(item.revised_due_at, zone)})" if item.revised_due_at else ""),
            duration(item.late_by),
            f"L{item.escalation_level}" if item.escalation_level else "-",
        )
        for item in items
    ]
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    title = "  ".join(cell.ljust(width) for cell, width in zip(header, widths, strict=True)).rstrip()
    return "\n".join(
        [
            f"{_count(len(items))} overdue as of {minute(at, zone)} {local.tzname()} ({time_zone}), most urgent first:",
            "",
            title,
            *lines,
            "",
            f"Times are in {time_zone}. Show a record with `capa show RECORD`; all of them with `capa overdue`.",
        ]
    )


def _digest_rows(engine: Engine, day: str) -> list[OutboxMessage]:
    """The outbox rows of one day's digest, whoever they went to, on every channel."""
    with session_scope(engine) as session:
        return list(
            session.exec(
                select(OutboxMessage).where(col(OutboxMessage.record_id) == day, col(OutboxMessage.seq) == DIGEST_SEQ)
            )
        )


def _notice(day: str, recipients: list[str], body: str, count: int) -> Notice:
    return Notice(
        record_id=day,
        seq=DIGEST_SEQ,
        kind=EventKind.DIGEST,
        recipients=recipients,
        subject=f"Overdue digest: {_count(count)}",
        body=body,
    )


def _count(n: int) -> str:
    return f"{n} item" if n == 1 else f"{n} items"


class DigestActivities:
    def __init__(self, engine: Engine, settings: Settings) -> None:
        self._engine = engine
        self._settings = settings

    @activity.defn(name="send_overdue_digest")
    async def send_overdue_digest(self, inp: DigestInput) -> DigestResult:
        """Queue and dispatch one digest per recipient of what is overdue at ``inp.at``; nothing if nothing is.

        Idempotent: the outbox inserts a day's digest for a recipient once, and dispatch starts each row's
        delivery workflow once, so a retry after a crash finishes the job without sending anything twice.
        """
        time_zone = self._settings.digest_timezone
        day = digest_key(inp.at, time_zone)
        items = await asyncio.to_thread(readmodel.overdue_items, self._engine, inp.at)
        if not items:
            log.info("overdue digest: nothing is overdue; nothing sent", day=day)
            return DigestResult(day=day)
        users = await asyncio.to_thread(readmodel.list_users, self._engine)
        earlier = {
            row.recipient
            for row in await asyncio.to_thread(_digest_rows, self._engine, day)
            if row.channel != Channel.WEBHOOK.value
        }
        # People's digests go to people only; the endpoints get the whole list once, below.
        to_people = self._settings.model_copy(update={"webhook_urls": []})
        result = DigestResult(day=day)
        for recipient, share in digest_lists(items, users).items():
            if recipient in earlier:
                result.already_sent[recipient] = len(share)
                continue
            notice = _notice(day, [recipient], digest_body(share, inp.at, time_zone), len(share))
            await asyncio.to_thread(outbox.enqueue, self._engine, notice, to_people)
            result.recipients[recipient] = len(share)
        if self._settings.webhook_urls:
            # No people: only the endpoint rows, one per endpoint and day, with the whole list.
            whole = _notice(day, [], digest_body(items, inp.at, time_zone), len(items))
            await asyncio.to_thread(outbox.enqueue, self._engine, whole, self._settings)
        await self._deliver(day)
        log.info(
            "overdue digest queued",
            day=day,
            items=len(items),
            recipients=result.recipients,
            already_sent=sorted(result.already_sent),
            workflow_id=activity.info().workflow_id,
        )
        return result

    @activity.defn(name="publish_chain_head")
    async def publish_chain_head(self, inp: DigestInput) -> ChainHeadResult:
        """Publish the hash over every record's chain head and the admin log's, of the entries made up to
        ``inp.at`` (``core.audit.chain_head``), as a structured log line and a webhook event: kept outside the
        database, it makes a database rewritten wholesale detectable (``capa audit head --at`` recomputes it).
        Idempotent per local day, like the digest (one outbox row per endpoint and day)."""
        day = digest_key(inp.at, self._settings.digest_timezone).removeprefix(DIGEST_PREFIX)
        head = await asyncio.to_thread(audit.chain_head, self._engine, inp.at)
        at = inp.at.isoformat()
        log.info("audit chain head", day=day, at=at, head=head, workflow_id=activity.info().workflow_id)
        if self._settings.webhook_urls:
            key = f"{CHAIN_HEAD_PREFIX}{day}"
            notice = Notice(
                record_id=key,
                seq=DIGEST_SEQ,
                kind=EventKind.CHAIN_HEAD,
                recipients=[],
                subject=f"Audit chain head {day} (entries up to {at}): {head}",
                body=head,
            )
            await asyncio.to_thread(outbox.enqueue, self._engine, notice, self._settings)
            await self._deliver(key)
        return ChainHeadResult(day=day, head=head)

    async def _deliver(self, day: str) -> None:
        """Log the day's pending log rows and start delivery of the others.

        Every pending row of the day, not only this attempt's: an attempt that crashed between queueing and
        dispatching left rows that only a retry hands on. Claiming and dispatching are both idempotent.
        """
        rows = await asyncio.to_thread(_digest_rows, self._engine, day)
        pending = [row for row in rows if row.id is not None and row.status == OutboxStatus.PENDING.value]
        log_ids = [row.id for row in pending if row.id is not None and row.channel == Channel.LOG.value]
        for row in await asyncio.to_thread(outbox.claim_log_rows, self._engine, log_ids):
            log.info(
                "notification",
                record_id=day,
                seq=row.seq,
                channel=row.channel,
                recipient=row.recipient,
                kind=row.kind,
                subject=row.subject,
                workflow_id=activity.info().workflow_id,
            )
        others = [row.id for row in pending if row.id is not None and row.channel != Channel.LOG.value]
        if others:
            await outbox.dispatch(
                activity.client(),
                activity.info().task_queue,
                others,
                max_attempts=self._settings.notify_max_attempts,
            )
