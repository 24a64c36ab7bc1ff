"""E-mail over a real SMTP server while records run on the time-skipping server.

Default policy, severity major: containment 72h with reminders 2d and 12h before due, escalation level 1 at
due; effectiveness review due 60 days after verification. olivia and oscar report to mike, mike to maria.
"""

import asyncio
import json
import re
from collections import Counter
from datetime import timedelta
from email.message import EmailMessage

from sqlalchemy import Engine
from sqlmodel import Session, col, select
from temporalio.testing import WorkflowEnvironment

from activities.email import build_message, render
from core.readmodel import set_email_preference
from core.settings import Settings
from models.enums import (
    CauseCategory,
    Disposition,
    EffectivenessResult,
    EventKind,
    RootCauseMethod,
    Stage,
    VerificationResult,
)
from models.payloads import (
    CompleteActionInput,
    ContainmentInput,
    ExtensionDecisionInput,
    ExtensionRequestInput,
    PlanInput,
    PlannedAction,
    ReviewInput,
    RootCauseInput,
    VerifyInput,
)
from models.tables import OutboxMessage
from tests.builders import signed
from tests.notifications.conftest import ADDRESSES, BASE_URL, Mailbox, notification_settings, notifying_worker
from tests.workflows.harness import Capa, actor, raise_record
from workflows.record import RecordWorkflow


async def _settled(engine: Engine, record_id: str, within: float = 15.0) -> list[OutboxMessage]:
    """The record's outbox rows once none is pending any more."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        with Session(engine) as session:
            rows = list(
                session.exec(
                    select(OutboxMessage)
                    .where(col(OutboxMessage.record_id) == record_id)
                    .order_by(col(OutboxMessage.id))
                )
            )
        if all(r.status != "pending" for r in rows):
            return rows
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(
                f"still pending: {[(r.id, r.channel, r.recipient) for r in rows if r.status == 'pending']}"
            )
        await asyncio.sleep(0.05)


def _body(message: EmailMessage, subtype: str) -> str:
    part = message.get_body(preferencelist=(subtype,))
    assert part is not None, f"no text/{subtype} part"
    assert part.get_content_type() == f"text/{subtype}"
    content = part.get_content()
    assert isinstance(content, str)
    return content


async def _escalate_containment(env: WorkflowEnvironment, capa: Capa) -> None:
    """Let containment run 1h past due: two reminders to olivia, then level 1 to mike."""
    await env.sleep(timedelta(hours=73))
    await capa.wait_for(lambda s: any(e.kind is EventKind.ESCALATED for e in s.events))


async def test_a_lifecycle_with_an_escalation_mails_each_person_once(
    env: WorkflowEnvironment, engine: Engine, smtp: tuple[Mailbox, int]
) -> None:
    """Raise to close with an escalation: the right people get the right subjects and links, each once."""
    mailbox, port = smtp
    async with notifying_worker(env.client, engine, notification_settings(smtp_port=port)) as queue:
        capa = await raise_record(env.client, queue, owner="olivia", by="otto")
        h = capa.handle
        record_id = h.id
        await _escalate_containment(env, capa)
        await h.execute_update(
            RecordWorkflow.contain,
            ContainmentInput(actor=actor("olivia"), summary="Lot quarantined", disposition=Disposition.QUARANTINE),
        )
        await h.execute_update(
            RecordWorkflow.root_cause,
            RootCauseInput(
                actor=actor("olivia"),
                method=RootCauseMethod.FIVE_WHYS,
                cause="Deburring tool worn beyond its change interval",
                whys=["Burr on edge", "Tool worn"],
                category=CauseCategory.MACHINE,
            ),
        )
        now = await env.get_current_time()
        await h.execute_update(
            RecordWorkflow.plan,
            PlanInput(
                actor=actor("mike"),
                actions=[
                    PlannedAction(owner="olivia", due_at=now + timedelta(days=10), description="Replace tool"),
                    PlannedAction(owner="oscar", due_at=now + timedelta(days=12), description="Add counter"),
                ],
            ),
        )
        await h.execute_update(
            RecordWorkflow.request_extension,
            ExtensionRequestInput(
                actor=actor("olivia"), action_id="A1", until=now + timedelta(days=11), reason="Tool on back order"
            ),
        )
        await h.execute_update(
            RecordWorkflow.decide_extension,
            signed(capa.handle.id, ExtensionDecisionInput(actor=actor("mike"), approve=True)),
        )
        for action_id, owner in [("A1", "olivia"), ("A2", "oscar")]:
            await h.execute_update(
                RecordWorkflow.complete_action,
                CompleteActionInput(actor=actor(owner), action_id=action_id, evidence="Done, WO-1"),
            )
        await h.execute_update(
            RecordWorkflow.verify,
            signed(
                capa.handle.id,
                VerifyInput(actor=actor("maria"), result=VerificationResult.PASS, evidence="50 parts checked"),
            ),
        )
        await env.sleep(timedelta(days=61))
        await capa.wait_for(lambda s: any(e.kind is EventKind.EFFECTIVENESS_DUE for e in s.events))
        await h.execute_update(
            RecordWorkflow.review,
            signed(
                capa.handle.id,
                ReviewInput(actor=actor("maria"), result=EffectivenessResult.EFFECTIVE, evidence="No recurrence"),
            ),
        )
        assert (await capa.state()).stage is Stage.CLOSED
        rows = await _settled(engine, record_id)

    received = mailbox.received()
    got = [(to, message["Subject"]) for to, message in received]
    prefix = f"[{record_id}] "
    expected = [
        ("olivia", "you own a new major nonconformity raised by otto"),
        ("olivia", "containment due in 2d"),  # counted from when the reminder was due, not when it ran
        ("olivia", "containment due in 12h"),
        ("mike", "containment held by olivia is overdue by 0s (escalation level 1)"),
        ("olivia", "action plan submitted by mike: A1 (olivia, due"),
        ("mike", "olivia asks to extend A1 from"),
        ("olivia", "your extension of A1 was approved by mike"),
        ("olivia", "effectiveness review due"),
    ]
    assert len(got) == len(expected), got
    assert all(subject.startswith(prefix) for _, subject in got)
    for who, start in expected:
        matches = [to for to, subject in got if subject.startswith(prefix + start)]
        assert matches == [ADDRESSES[who]], f"{start!r}: sent to {matches}; all: {got}"
    # Exactly once: every Message-ID once, derived from the event and the recipient.
    ids = Counter(message["Message-ID"] for _, message in received)
    assert all(count == 1 for count in ids.values()), ids
    assert all(mid.startswith(f"<{record_id}.") and mid.endswith("@capaflow>") for mid in ids)
    link = f"{BASE_URL}/records/{record_id}"
    for _, message in received:
        assert message["From"] == "capaflow@plant.test"
        assert link in _body(message, "plain")
        assert f'href="{link}"' in _body(message, "html")
    escalation = next(m for _, m in received if "escalation level 1" in m["Subject"])
    assert "Held by:    olivia" in _body(escalation, "plain")
    # The due time reads as a date and a time in UTC, not as an ISO timestamp.
    assert re.search(r"^Due: +\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC\r?$", _body(escalation, "plain"), re.MULTILINE)
    assert "<td>olivia</td>" in _body(escalation, "html")
    # oscar has no address: his plan notice went to the log only.
    oscar = [(r.kind, r.channel) for r in rows if r.recipient == "oscar"]
    assert oscar == [("plan_submitted", "log")]
    assert all(r.status == "sent" for r in rows)


async def test_a_muted_kind_is_not_mailed_but_still_logged(
    env: WorkflowEnvironment, engine: Engine, smtp: tuple[Mailbox, int]
) -> None:
    """mike turned escalation e-mails off: his escalation is logged, not mailed; olivia's reminders still are."""
    mailbox, port = smtp
    set_email_preference(engine, "mike", EventKind.ESCALATED.value, False)
    async with notifying_worker(env.client, engine, notification_settings(smtp_port=port)) as queue:
        capa = await raise_record(env.client, queue, owner="olivia", by="otto")
        await _escalate_containment(env, capa)
        rows = await _settled(engine, capa.handle.id)

    assert sorted(to for to, _ in mailbox.received()) == [ADDRESSES["olivia"]] * 3
    mike = [(r.kind, r.channel, r.status) for r in rows if r.recipient == "mike"]
    assert mike == [("escalated", "log", "sent")]


def test_a_message_shows_lateness_and_due_time_in_the_one_form() -> None:
    """``Late by`` reads 2d 3h, not the stored 2d3h14m9s; a due time kept without a zone is UTC."""
    row = OutboxMessage(
        record_id="NC-2026-0001",
        seq=4,
        recipient="mike",
        channel="email",
        kind=EventKind.ESCALATED.value,
        subject="[NC-2026-0001] containment held by olivia is overdue by 2d 3h (escalation level 1)",
        body="NC-2026-0001 (major): Burr",
        details=json.dumps(
            {"title": "Burr", "holder": "olivia", "due_at": "2026-03-02T09:00:00", "late_by": "2d3h14m9s"}
        ),
    )
    text, html = render(row)
    assert re.search(r"^Due: +2026-03-02 09:00:00 UTC$", text, re.MULTILINE)
    assert re.search(r"^Late by: +2d 3h$", text, re.MULTILINE)
    assert "<td>2d 3h</td>" in html


def test_a_line_break_typed_into_a_title_does_not_stop_its_messages() -> None:
    """A title pasted with a line break still makes a message, its subject one line: before, every send of it
    failed for good (a header may not hold a line break)."""
    row = OutboxMessage(
        id=7,
        record_id="NC-2026-0001",
        seq=1,
        recipient="olivia",
        channel="email",
        address="olivia@example.com",
        kind=EventKind.RAISED.value,
        subject="[NC-2026-0001] you own a new major nonconformity: Burr on\r\nBcc: everyone@example.com",
        body="NC-2026-0001 (major): Burr",
        details=json.dumps({"title": "Burr on\r\nBcc: everyone@example.com"}),
    )
    message = build_message(row, Settings(smtp_from="capaflow@example.com"))
    assert message["Subject"] == "[NC-2026-0001] you own a new major nonconformity: Burr on Bcc: everyone@example.com"
    assert message["Bcc"] is None
    assert "\n" not in message["Subject"]
