"""send_notice: one outbox row and one delivery per recipient, however often Temporal runs the activity."""

from sqlalchemy import Engine
from sqlmodel import Session, col, select
from structlog.testing import capture_logs
from temporalio.testing import ActivityEnvironment

from activities.notifications import NotificationActivities
from core.readmodel import add_user
from models.enums import EventKind
from models.payloads import Notice
from models.tables import OutboxMessage
from tests.conftest import seed_directory


def _notice(recipients: list[str]) -> Notice:
    return Notice(
        record_id="NC-2026-0001",
        seq=4,
        kind=EventKind.ESCALATED,
        recipients=recipients,
        subject="[NC-2026-0001] containment overdue",
        body="NC-2026-0001 (major): burr on housing\nStage: containment",
    )


def _send(engine: Engine, notice: Notice) -> list[str]:
    """Send the notice; return the recipients a notification line was logged for."""
    with capture_logs() as logs:
        ActivityEnvironment().run(NotificationActivities(engine).send_notice, notice)
    return [e["recipient"] for e in logs if e["event"] == "notification"]


def _outbox(engine: Engine) -> list[OutboxMessage]:
    with Session(engine) as session:
        return list(session.exec(select(OutboxMessage).order_by(col(OutboxMessage.recipient))))


def test_second_call_neither_inserts_nor_logs(engine: Engine) -> None:
    """Calling twice leaves one sent row per recipient and logs each notification once."""
    notice = _notice(["mike", "maria"])
    assert _send(engine, notice) == ["maria", "mike"]
    assert _send(engine, notice) == []
    rows = _outbox(engine)
    assert [(r.recipient, r.channel, r.status) for r in rows] == [
        ("maria", "log", "sent"),
        ("mike", "log", "sent"),
    ]
    assert all(r.sent_at is not None and r.kind == "escalated" for r in rows)


def test_duplicate_recipients_get_one_message(engine: Engine) -> None:
    """A recipient listed twice in one notice is notified once."""
    assert _send(engine, _notice(["ada", "ada"])) == ["ada"]
    assert len(_outbox(engine)) == 1


def test_retry_with_an_added_recipient_delivers_only_to_them(engine: Engine) -> None:
    """If a retry names one more recipient, only that one is notified; the others already were."""
    _send(engine, _notice(["mike"]))
    assert _send(engine, _notice(["mike", "maria"])) == ["maria"]
    assert [r.recipient for r in _outbox(engine)] == ["maria", "mike"]


def test_notification_line_names_record_seq_kind_and_subject(engine: Engine) -> None:
    """The log channel's line carries what an on-call reader needs to find the record."""
    with capture_logs() as logs:
        ActivityEnvironment().run(NotificationActivities(engine).send_notice, _notice(["mike"]))
    [line] = [e for e in logs if e["event"] == "notification"]
    assert line["record_id"] == "NC-2026-0001"
    assert line["seq"] == 4
    assert line["kind"] == "escalated"
    assert line["subject"] == "[NC-2026-0001] containment overdue"


def test_a_notice_for_a_persons_manager_reaches_the_manager_the_directory_names(engine: Engine) -> None:
    """An extension request names whose manager decides it; the outbox finds that manager when it queues it, and
    the admins when the directory names none, never the person asking."""
    seed_directory(engine)
    add_user(engine, "ben", "admin")
    asked = _notice([]).model_copy(update={"kind": EventKind.EXTENSION_REQUESTED, "managers_of": ["oscar"]})
    assert _send(engine, asked) == ["mike"]
    from_the_top = asked.model_copy(update={"seq": 5, "managers_of": ["ada"]})
    assert _send(engine, from_the_top) == ["ben"]
