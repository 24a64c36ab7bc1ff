"""E-mail over SMTP: one message per outbox row, plain text and HTML rendered from ``activities/templates/``.

The Message-ID is derived from the event and the recipient, never random, so a message sent again after a
crash between sending and marking is the same message to every mail client and archive that de-duplicates.
"""

import json
import re
import smtplib
import ssl
from datetime import UTC, datetime, tzinfo
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import structlog
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from activities.errors import DeliveryError
from core.settings import Settings
from models.enums import EventKind
from models.formatting import moment, moments_in, stored_duration
from models.tables import OutboxMessage

log = structlog.get_logger(__name__)

TEMPLATES = Path(__file__).resolve().parent / "templates"

# Which template pair tells of each kind; a kind not listed (the digest, say) uses ``<kind>`` if it exists,
# else ``generic``.
_TEMPLATE_FOR = {
    EventKind.REMINDER_SENT.value: "reminder",
    EventKind.ESCALATED.value: "escalation",
    EventKind.RAISED.value: "assignment",
    EventKind.PLAN_SUBMITTED.value: "assignment",
    EventKind.REASSIGNED.value: "assignment",
    EventKind.EXTENSION_REQUESTED.value: "extension_request",
    EventKind.EXTENSION_DECIDED.value: "extension_decision",
    EventKind.EFFECTIVENESS_DUE.value: "effectiveness_due",
}

_SMTP_TIMEOUT_S = 30.0

_environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(enabled_extensions=("html", "html.j2"), default_for_string=False),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)


def _moment(value: str | None) -> str:
    """An ISO timestamp (as the facts keep it) as people read it in a message, ``2026-11-25 07:00:00 UTC``; text
    that is no timestamp (a moment already shown in the recipient's zone, see ``render``) as it is."""
    if not value:
        return ""
    try:
        return moment(datetime.fromisoformat(value))
    except ValueError:
        return value


def _zone(row: OutboxMessage, facts: dict[str, Any]) -> tzinfo:
    """The recipient's zone, as the outbox stamped it on the row (``core.outbox``); UTC on rows from before."""
    try:
        return ZoneInfo(str(facts.get("time_zone") or "UTC"))
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("e-mail shows UTC: unknown zone", outbox_id=row.id, time_zone=facts.get("time_zone"))
        return UTC


_environment.filters["moment"] = _moment


def message_id(row: OutboxMessage) -> str:
    """``<record.seq.recipient@capaflow>``, with anything a Message-ID may not hold replaced."""
    left = re.sub(r"[^A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]", "_", f"{row.record_id}.{row.seq}.{row.recipient}")
    return f"<{left}@capaflow>"


def render(row: OutboxMessage) -> tuple[str, str]:
    """The plain-text and HTML bodies of the row's message."""
    name = _TEMPLATE_FOR.get(row.kind, row.kind)
    facts: dict[str, Any] = {"title": None, "severity": None, "stage": None, "owner": None, "holder": None}
    facts |= {"due_at": None, "late_by": None, "escalation_level": 0} | json.loads(row.details)
    if facts["late_by"]:
        facts["late_by"] = stored_duration(facts["late_by"])
    # Times in the recipient's zone: the due fact, and every moment the subject and body name (written in UTC).
    zone = _zone(row, facts)
    if facts["due_at"]:
        facts["due_at"] = moment(datetime.fromisoformat(facts["due_at"]), zone)
    subject = moments_in(row.subject, zone)
    context = {
        "recipient": row.recipient,
        "record_id": row.record_id,
        "kind": row.kind,
        "subject": subject,
        "headline": subject.removeprefix(f"[{row.record_id}] "),
        "body": moments_in(row.body, zone),
        "link": row.link or "",
        "facts": facts,
    }
    text = _environment.select_template([f"{name}.txt.j2", "generic.txt.j2"]).render(context)
    html = _environment.select_template([f"{name}.html.j2", "generic.html.j2"]).render(context)
    return text, html


def build_message(row: OutboxMessage, settings: Settings) -> EmailMessage:
    if row.address is None:
        raise DeliveryError(f"outbox row {row.id} has no e-mail address", permanent=True)
    text, html = render(row)
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = row.address
    # A header is one line: a line break typed into a title or reason would make every send of it fail.
    message["Subject"] = " ".join(moments_in(row.subject, _zone(row, json.loads(row.details))).split())
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = message_id(row)
    message["X-Capa-Record"] = row.record_id
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


def send_email(row: OutboxMessage, settings: Settings) -> None:
    """Hand the row's message to the SMTP server; DeliveryError says whether a retry could succeed."""
    if settings.smtp_host is None:
        raise DeliveryError("e-mail is off: CAPA_SMTP_HOST is not set", permanent=True)
    message = build_message(row, settings)
    try:
        with _connect(settings) as smtp:
            if settings.smtp_username:
                password = settings.smtp_password.get_secret_value() if settings.smtp_password else ""
                smtp.login(settings.smtp_username, password)
            refused = smtp.send_message(message)
    except smtplib.SMTPRecipientsRefused as exc:
        code, reply = next(iter(exc.recipients.values()))
        raise _refusal(code, reply, f"recipient {row.address} refused") from exc
    except smtplib.SMTPResponseException as exc:
        raise _refusal(exc.smtp_code, exc.smtp_error, "SMTP server refused the message") from exc
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"SMTP {settings.smtp_host}:{settings.smtp_port}: {exc}", permanent=False) from exc
    if refused:
        code, reply = next(iter(refused.values()))
        raise _refusal(code, reply, f"recipient {row.address} refused")


def _connect(settings: Settings) -> smtplib.SMTP:
    assert settings.smtp_host is not None
    if settings.smtp_security == "tls":
        return smtplib.SMTP_SSL(
            settings.smtp_host, settings.smtp_port, timeout=_SMTP_TIMEOUT_S, context=ssl.create_default_context()
        )
    smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=_SMTP_TIMEOUT_S)
    if settings.smtp_security == "starttls":
        try:
            smtp.starttls(context=ssl.create_default_context())
        except BaseException:
            smtp.close()
            raise
    return smtp


def _refusal(code: int, reply: bytes | str, what: str) -> DeliveryError:
    """5xx replies are final (RFC 5321 4.2.1); 4xx ones are worth another try."""
    text = reply.decode(errors="replace") if isinstance(reply, bytes) else reply
    return DeliveryError(f"{what}: {code} {text}", permanent=500 <= code < 600)
