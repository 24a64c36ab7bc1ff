"""The notification outbox's activities: queue notices, deliver each row once, give up on a failing one.

``settle_step`` (a step's notices, decided by the record through ``models.notices``), ``send_notice`` and, for
records of the earlier shape, ``record_state`` hand notices to a ``Notifier``: it writes the outbox rows, writes
the log-channel lines at once and starts a ``DeliveryWorkflow`` for every e-mail and webhook row, whose
``deliver_message`` retries with backoff.
"""

from collections.abc import Callable
from typing import Any

import structlog
from sqlalchemy import Engine
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import errors
from activities.email import send_email
from activities.webhooks import post_webhook
from core import metrics, outbox
from core.settings import Settings
from models.delivery import DeliverMessageInput, MarkFailedInput
from models.enums import Channel, EventKind, OutboxStatus
from models.payloads import Notice
from models.tables import OutboxMessage

log = structlog.get_logger(__name__)

# Starts delivery workflows for outbox rows: (task queue, row ids) -> None, from a worker thread.
Dispatcher = Callable[[str, list[int]], None]


def _about(row: OutboxMessage) -> dict[str, Any]:
    """What every log line about an outbox row says: the record, the entry, whom it goes to, and how."""
    return {
        "record_id": row.record_id,
        "seq": row.seq,
        "channel": row.channel,
        "recipient": row.recipient,
        "workflow_id": activity.info().workflow_id if activity.in_activity() else None,
    }


def _log_notification(row: OutboxMessage) -> None:
    log.info("notification", kind=row.kind, subject=row.subject, **_about(row))


class Notifier:
    """Puts notices in the outbox and sets their delivery going; shared by the activities that notify."""

    def __init__(self, engine: Engine, settings: Settings, dispatch: Dispatcher | None = None) -> None:
        self._engine = engine
        self._settings = settings
        self._dispatch = dispatch

    def notify(self, notices: list[Notice]) -> list[OutboxMessage]:
        """Queue every notice; log the log-channel rows; start delivering the others.

        Idempotent: a retry queues nothing twice, logs nothing twice and only re-starts deliveries of rows
        still pending (a delivery already running is left alone). Returns the log rows this call wrote, so a
        retry, which writes none, can tell it is one.
        """
        # The server's time: the clock's, except on a time-skipping test server.
        as_of = activity.info().current_attempt_scheduled_time if activity.in_activity() else None
        queued = outbox.queue(self._engine, notices, self._settings, as_of=as_of)
        for row in queued.logged:
            _log_notification(row)
        metrics.notification_delivered(Channel.LOG.value, len(queued.logged))
        if not queued.pending:
            return queued.logged
        if self._dispatch is None:
            log.warning("outbox rows left pending: this worker cannot start deliveries", row_ids=queued.pending)
            return queued.logged
        self._dispatch(activity.info().task_queue, queued.pending)
        return queued.logged


class NotificationActivities:
    def __init__(self, engine: Engine, notifier: Notifier | None = None) -> None:
        self._engine = engine
        self._notifier = notifier or Notifier(engine, Settings(smtp_host=None, webhook_urls=[]))

    @activity.defn(name="send_notice")
    def send_notice(self, notice: Notice) -> None:
        """Queue the notice on every channel for each recipient and start its delivery.

        The outbox key (record, seq, recipient, channel) makes a repeated call insert nothing, and only rows
        this call flips from pending to sent are logged, so a retry or a concurrent duplicate logs nothing.
        An escalation is counted by the call that wrote its log rows, so once however often this runs.
        """
        claimed = self._notifier.notify([notice])
        if notice.kind is EventKind.ESCALATED and claimed:
            metrics.escalation_fired(metrics.escalation_level(notice.subject))


class DeliveryActivities:
    """Send one outbox row over its channel, and record the outcome."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self._engine = engine
        self._settings = settings

    @activity.defn(name="deliver_message")
    def deliver_message(self, inp: DeliverMessageInput) -> str:
        """Send the row unless it is already sent; return its status afterwards.

        A failure raises: DeliveryRefused (non-retryable) when the channel said never, DeliveryFailed when a
        retry may work. The row is marked sent only after the channel took it, so a crash in between sends it
        again, with the same webhook idempotency key or e-mail Message-ID.
        """
        row = outbox.start_attempt(self._engine, inp.row_id)
        if row is None:
            existing = outbox.get_message(self._engine, inp.row_id)
            if existing is None:
                raise ApplicationError(f"no outbox row {inp.row_id}", non_retryable=True, type=errors.NO_SUCH_MESSAGE)
            return existing.status
        fields = {**_about(row), "attempt": row.attempts}
        try:
            self._send(row)
        except errors.DeliveryError as exc:
            outbox.record_error(self._engine, inp.row_id, str(exc))
            log.info("notification not delivered", error=str(exc), permanent=exc.permanent, **fields)
            raise ApplicationError(
                str(exc),
                non_retryable=exc.permanent,
                type=errors.DELIVERY_REFUSED if exc.permanent else errors.DELIVERY_FAILED,
            ) from None
        outbox.mark_sent(self._engine, inp.row_id)
        metrics.notification_delivered(row.channel)
        if row.channel != Channel.LOG.value:
            log.info("notification delivered", kind=row.kind, subject=row.subject, **fields)
        return OutboxStatus.SENT.value

    def _send(self, row: OutboxMessage) -> None:
        if row.channel == Channel.LOG.value:
            _log_notification(row)
        elif row.channel == Channel.EMAIL.value:
            send_email(row, self._settings)
        elif row.channel == Channel.WEBHOOK.value:
            post_webhook(row, self._settings)
        else:
            raise errors.DeliveryError(f"unknown channel {row.channel!r}", permanent=True)

    @activity.defn(name="mark_failed")
    def mark_failed(self, inp: MarkFailedInput) -> None:
        """Give up on the row: status failed with the last error, for ``capa notifications list --failed``."""
        row = outbox.mark_failed(self._engine, inp.row_id, inp.error)
        if row is None:
            log.warning("delivery failed for an outbox row that no longer exists", row_id=inp.row_id, error=inp.error)
            return
        metrics.notification_failed(row.channel)
        log.warning(
            "notification failed",
            attempts=row.attempts,
            error=inp.error,
            row_id=inp.row_id,
            status=row.status,
            **_about(row),
        )
