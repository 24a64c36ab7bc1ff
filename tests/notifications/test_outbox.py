"""The outbox without a server: which rows a notice becomes, preferences, settings and the rendered e-mail."""

import pytest
from sqlalchemy import Engine
from structlog.testing import capture_logs

from activities.email import build_message, message_id
from core.outbox import enqueue, get_message, list_messages
from core.readmodel import DirectoryError, email_enabled, set_email_preference, update_user
from core.settings import SettingsError, load_settings
from core.sites import add_site
from models.enums import EventKind
from models.payloads import Notice
from tests.notifications.conftest import notification_settings

HOOKS = ["https://chat.example.test/hook", "https://mes.example.test/capa"]


def _notice(recipients: list[str], kind: EventKind = EventKind.ESCALATED, seq: int = 4) -> Notice:
    return Notice(
        record_id="NC-2026-0001",
        seq=seq,
        kind=kind,
        recipients=recipients,
        subject="[NC-2026-0001] containment held by olivia is overdue by 1d (escalation level 1)",
        body="NC-2026-0001 (major): Burr\nStage: containment\ncontainment held by olivia is overdue by 1d",
    )


def _channels(engine: Engine, ids: list[int]) -> list[tuple[str, str, str | None]]:
    rows = [get_message(engine, i) for i in ids]
    return sorted((r.channel, r.recipient, r.address) for r in rows if r is not None)


def test_a_notice_becomes_log_email_and_webhook_rows(engine: Engine) -> None:
    """Log rows for everyone, e-mail for those with an address, one webhook row per endpoint (not per person)."""
    settings = notification_settings(smtp_port=2525, webhook_urls=HOOKS)
    ids = enqueue(engine, _notice(["mike", "oscar", "mike"]), settings)
    assert _channels(engine, ids) == [
        ("email", "mike", "mike@plant.test"),
        ("log", "mike", None),
        ("log", "oscar", None),
        ("webhook", HOOKS[0], HOOKS[0]),
        ("webhook", HOOKS[1], HOOKS[1]),
    ]
    row = get_message(engine, ids[0])
    assert row is not None
    assert (row.status, row.attempts, row.link) == ("pending", 0, "https://capa.example.test/records/NC-2026-0001")


def test_enqueue_twice_returns_the_same_rows(engine: Engine) -> None:
    """Queueing the same notice again inserts nothing and returns the ids of the existing rows."""
    settings = notification_settings(smtp_port=2525, webhook_urls=HOOKS)
    first = enqueue(engine, _notice(["mike"]), settings)
    assert enqueue(engine, _notice(["mike"]), settings) == first
    assert len(list_messages(engine)) == len(first) == 4


def test_without_an_address_there_is_no_email_and_a_log_line_says_so(engine: Engine) -> None:
    """oscar has no address: no e-mail row for him, and an info line naming him and the record."""
    with capture_logs() as logs:
        ids = enqueue(engine, _notice(["oscar"]), notification_settings(smtp_port=2525))
    assert _channels(engine, ids) == [("log", "oscar", None)]
    [line] = [e for e in logs if e["event"] == "no e-mail: the directory has no address"]
    assert (line["recipient"], line["record_id"], line["log_level"]) == ("oscar", "NC-2026-0001", "info")


def test_email_is_off_without_smtp_host(engine: Engine) -> None:
    """Without CAPA_SMTP_HOST only the log channel is used."""
    ids = enqueue(engine, _notice(["mike"]), notification_settings())
    assert _channels(engine, ids) == [("log", "mike", None)]


def test_a_muted_kind_gets_no_email_row(engine: Engine) -> None:
    """A person who turned a kind off gets it in the log only; other kinds still by e-mail."""
    set_email_preference(engine, "mike", "escalated", False)
    settings = notification_settings(smtp_port=2525)
    assert _channels(engine, enqueue(engine, _notice(["mike"]), settings)) == [("log", "mike", None)]
    reminder = _notice(["mike"], EventKind.REMINDER_SENT, seq=5)
    assert [c for c, _, _ in _channels(engine, enqueue(engine, reminder, settings))] == ["email", "log"]
    assert not email_enabled(engine, "mike", "escalated")
    assert email_enabled(engine, "mike", "reminder_sent")
    set_email_preference(engine, "mike", "escalated", True)
    assert email_enabled(engine, "mike", "escalated")


def test_preferences_name_the_field_at_fault(engine: Engine) -> None:
    """An unknown user or kind is refused with a message naming the field."""
    with pytest.raises(DirectoryError, match=r"^user: no user named 'nobody'"):
        set_email_preference(engine, "nobody", "escalated", False)
    with pytest.raises(DirectoryError, match=r"^kind: 'gossip' is not one of raised, "):
        set_email_preference(engine, "mike", "gossip", False)


def test_the_email_has_both_parts_a_link_and_an_event_message_id(engine: Engine) -> None:
    """The message is multipart plain+HTML, links the record, and its Message-ID is derived from the event."""
    settings = notification_settings(smtp_port=2525)
    [email_id] = [i for i in enqueue(engine, _notice(["mike"]), settings) if _channels(engine, [i])[0][0] == "email"]
    row = get_message(engine, email_id)
    assert row is not None
    message = build_message(row, settings)
    assert message["Message-ID"] == message_id(row) == "<NC-2026-0001.4.mike@capaflow>"
    assert message["To"] == "mike@plant.test"
    assert message.get_content_type() == "multipart/alternative"
    plain = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert plain is not None
    assert html is not None
    link = "https://capa.example.test/records/NC-2026-0001"
    assert link in plain.get_content()
    assert f'href="{link}"' in html.get_content()
    assert "escalated to you" in plain.get_content()


def test_an_email_shows_its_times_in_the_recipients_zone(engine: Engine) -> None:
    """Mike works at the Berlin plant, Maria keeps UTC: the same notice's moments read in CET in Mike's e-mail
    (subject and body) and in UTC in Maria's; the log rows keep the text as composed, in UTC."""
    add_site(engine, "Berlin plant", "Europe/Berlin")
    update_user(engine, "mike", site="Berlin plant")
    notice = _notice(["mike", "maria"], kind=EventKind.CLOSED).model_copy(
        update={
            "subject": "[NC-2026-0001] closed 2027-01-15 08:00:00 UTC",
            "body": "containment held by olivia was due 2027-01-15 08:00:00 UTC",
        }
    )
    settings = notification_settings(smtp_port=2525)
    rows = [row for i in enqueue(engine, notice, settings) if (row := get_message(engine, i)) is not None]
    emails = {row.recipient: build_message(row, settings) for row in rows if row.channel == "email"}
    assert emails["mike"]["Subject"] == "[NC-2026-0001] closed 2027-01-15 09:00:00 CET"
    plain = emails["mike"].get_body(preferencelist=("plain",))
    assert plain is not None
    assert "was due 2027-01-15 09:00:00 CET" in plain.get_content()
    assert emails["maria"]["Subject"] == notice.subject
    assert {row.body for row in rows if row.channel == "log"} == {notice.body}


def test_webhook_urls_need_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """CAPA_WEBHOOK_URLS without CAPA_WEBHOOK_SECRET fails at start, naming the missing variable."""
    monkeypatch.setenv("CAPA_WEBHOOK_URLS", "https://a.example.test/x, https://b.example.test/y")
    with pytest.raises(SettingsError, match=r"^CAPA_WEBHOOK_SECRET: required when CAPA_WEBHOOK_URLS is set"):
        load_settings()
    monkeypatch.setenv("CAPA_WEBHOOK_SECRET", "s3cret")
    assert load_settings().webhook_urls == ["https://a.example.test/x", "https://b.example.test/y"]


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("CAPA_DIGEST_TIME", "25:00"),
        ("CAPA_DIGEST_TIMEZONE", "Mars/Olympus"),
        ("CAPA_SMTP_SECURITY", "ssl"),
        ("CAPA_WEBHOOK_URLS", "ftp://files.example.test"),
        ("CAPA_SMTP_PORT", "many"),
    ],
)
def test_a_bad_notification_setting_names_its_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    """Each notification setting is validated at start, and the message names the environment variable."""
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match=f"^{variable}: "):
        load_settings()
