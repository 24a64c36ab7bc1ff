"""The notification outbox: reminders and escalations, stored and delivered exactly once per recipient.

Only the log channel exists so far; e-mail and webhooks will be further channels reading the same outbox.
"""

from datetime import UTC, datetime

import structlog
from sqlalchemy import Engine, update
from sqlmodel import col
from temporalio import activity

from core.database import insert_for, session_scope
from models.payloads import Notice
from models.tables import LOG_CHANNEL, OutboxMessage, OutboxStatus

log = structlog.get_logger(__name__)


class NotificationActivities:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @activity.defn(name="send_notice")
    def send_notice(self, notice: Notice) -> None:
        """Queue the notice for each recipient, then deliver what is still pending, in one transaction.

        The outbox key (record, seq, recipient, channel) makes a repeated call insert nothing, and only rows
        this call flips from pending to sent are logged, so a retry or a concurrent duplicate logs nothing.
        """
        now = datetime.now(UTC)
        with session_scope(self._engine) as session:
            if notice.recipients:
                rows = [
                    {
                        "record_id": notice.record_id,
                        "seq": notice.seq,
                        "recipient": recipient,
                        "channel": LOG_CHANNEL,
                        "kind": notice.kind.value,
                        "subject": notice.subject,
                        "body": notice.body,
                        "created_at": now,
                        "status": OutboxStatus.PENDING.value,
                    }
                    for recipient in dict.fromkeys(notice.recipients)
                ]
                session.exec(
                    insert_for(self._engine, OutboxMessage)
                    .values(rows)
                    .on_conflict_do_nothing(index_elements=["record_id", "seq", "recipient", "channel"])
                )
            delivered = session.exec(
                update(OutboxMessage)
                .where(
                    col(OutboxMessage.record_id) == notice.record_id,
                    col(OutboxMessage.seq) == notice.seq,
                    col(OutboxMessage.channel) == LOG_CHANNEL,
                    col(OutboxMessage.status) == OutboxStatus.PENDING.value,
                )
                .values(status=OutboxStatus.SENT.value, sent_at=now)
                .returning(col(OutboxMessage.recipient), col(OutboxMessage.kind), col(OutboxMessage.subject))
            ).all()
            for recipient, kind, subject in sorted(delivered):
                log.info(
                    "notification",
                    record_id=notice.record_id,
                    seq=notice.seq,
                    recipient=recipient,
                    kind=kind,
                    subject=subject,
                    workflow_id=activity.info().workflow_id,
                )
