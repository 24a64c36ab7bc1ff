"""The digest workflow on the time-skipping server: real records fall overdue, managers get the right lists.

The directory (tests/conftest.py): ada (admin) <- maria <- mike <- olivia, oscar, otto; maria <- nina <- paul.
Records use the default policy's major severity, whose containment is due 72 hours after the raise.
"""

import uuid
from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlmodel import Session, col, select
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from core.readmodel import set_email_preference
from core.settings import Settings
from models.digest import DigestRequest, DigestResult
from models.tables import OutboxMessage, User
from tests.builders import clock, publish, state
from tests.digest.harness import digest_worker
from tests.workflows.harness import raise_record, running_worker
from workflows.digest import DigestWorkflow

SETTINGS = Settings(digest_time="07:30", digest_timezone="Europe/Berlin")


async def run_digest(client: Client, task_queue: str) -> DigestResult:
    return await client.execute_workflow(
        DigestWorkflow.run, DigestRequest(), id=f"digest-{uuid.uuid4()}", task_queue=task_queue
    )


def digest_rows(engine: Engine) -> list[OutboxMessage]:
    with Session(engine) as session:
        return list(
            session.exec(
                select(OutboxMessage).where(col(OutboxMessage.kind) == "digest").order_by(col(OutboxMessage.id))
            )
        )


def listed(row: OutboxMessage, record_ids: dict[str, str]) -> set[str]:
    """Whose records a digest lists, by the owner each test record was raised for."""
    return {owner for owner, record_id in record_ids.items() if record_id in row.body}


async def test_each_manager_gets_the_overdue_steps_of_their_people_once_a_day(
    env: WorkflowEnvironment, engine: Engine
) -> None:
    """mike: olivia's and oscar's; nina: paul's; maria and ada: all four; owners nothing; a rerun adds no row."""
    async with (
        running_worker(env.client, engine) as records_queue,
        digest_worker(env.client, engine, SETTINGS) as queue,
    ):
        records = {
            owner: (await raise_record(env.client, records_queue, owner=owner)).handle.id
            for owner in ("olivia", "oscar", "paul", "mike")
        }
        await env.sleep(timedelta(hours=73))
        # Waiting for a result would otherwise skip time to the next escalation timer, days later.
        with env.auto_time_skipping_disabled():
            first = await run_digest(env.client, queue)
            rows = digest_rows(engine)
            again = await run_digest(env.client, queue)
            rows_again = digest_rows(engine)

    assert first.recipients == {"ada": 4, "maria": 4, "mike": 2, "nina": 1}
    assert first.day.startswith("DIGEST-")
    assert {(row.recipient, row.channel, row.status) for row in rows} == {
        (name, "log", "sent") for name in ("ada", "maria", "mike", "nina")
    }
    by_recipient = {row.recipient: row for row in rows}
    assert listed(by_recipient["mike"], records) == {"olivia", "oscar"}
    assert listed(by_recipient["nina"], records) == {"paul"}
    assert listed(by_recipient["maria"], records) == {"olivia", "oscar", "paul", "mike"}
    assert listed(by_recipient["ada"], records) == {"olivia", "oscar", "paul", "mike"}
    assert by_recipient["mike"].subject == "Overdue digest: 2 items"
    assert by_recipient["nina"].subject == "Overdue digest: 1 item"
    assert {row.record_id for row in rows} == {first.day}

    assert again.recipients == {}
    assert again.already_sent == first.recipients
    assert [row.id for row in rows_again] == [row.id for row in rows]


async def test_nothing_overdue_sends_nothing(env: WorkflowEnvironment, engine: Engine) -> None:
    """A record not yet due: the digest runs, reports nobody and queues no outbox row."""
    async with (
        running_worker(env.client, engine) as records_queue,
        digest_worker(env.client, engine, SETTINGS) as queue,
    ):
        await raise_record(env.client, records_queue, owner="olivia")
        result = await run_digest(env.client, queue)

    assert result.recipients == {}
    assert result.already_sent == {}
    assert digest_rows(engine) == []


async def test_a_digest_pinned_to_a_moment_lists_what_was_overdue_then(
    env: WorkflowEnvironment, engine: Engine
) -> None:
    """DigestRequest(at=...) keys the digest by that moment's Berlin date and leaves later lateness out."""
    async with (
        running_worker(env.client, engine) as records_queue,
        digest_worker(env.client, engine, SETTINGS) as queue,
    ):
        capa = await raise_record(env.client, records_queue, owner="paul")
        due = (await capa.state()).due_at
        assert due is not None
        await env.sleep(timedelta(hours=73))
        before_due = await env.client.execute_workflow(
            DigestWorkflow.run, DigestRequest(at=due - timedelta(minutes=1)), id="early", task_queue=queue
        )
        after_due = await env.client.execute_workflow(
            DigestWorkflow.run, DigestRequest(at=due + timedelta(minutes=1)), id="late", task_queue=queue
        )

    assert before_due.recipients == {}
    assert after_due.recipients == {"ada": 1, "maria": 1, "nina": 1}
    assert after_due.day == f"DIGEST-{(due + timedelta(minutes=1)).astimezone(ZoneInfo('Europe/Berlin')).date()}"


async def test_email_goes_to_those_who_want_it_and_each_webhook_gets_the_whole_list_once(
    env: WorkflowEnvironment, engine: Engine
) -> None:
    """maria (address, e-mail on) is mailed; mike (off for digests) and ada (no address) are not; one webhook row."""
    with Session(engine) as session:
        for name in ("maria", "mike"):
            user = session.get(User, name)
            assert user is not None
            user.email = f"{name}@example.test"
            session.add(user)
        session.commit()
    set_email_preference(engine, "mike", "digest", False)
    now = await env.get_current_time()
    publish(engine, state("NC-2026-0001", owner="olivia", stage_clock=clock("olivia", now - timedelta(hours=2))), [])
    publish(engine, state("NC-2026-0002", owner="paul", stage_clock=clock("paul", now - timedelta(hours=9))), [])
    settings = SETTINGS.model_copy(
        update={"smtp_host": "127.0.0.1", "webhook_urls": ["https://hooks.example.test/capa"]}
    )

    async with digest_worker(env.client, engine, settings) as queue:
        result = await run_digest(env.client, queue)

    rows = digest_rows(engine)
    assert result.recipients == {"ada": 2, "maria": 2, "mike": 1, "nina": 1}
    assert sorted((row.channel, row.recipient) for row in rows) == [
        ("email", "maria"),
        ("log", "ada"),
        ("log", "maria"),
        ("log", "mike"),
        ("log", "nina"),
        ("webhook", "https://hooks.example.test/capa"),
    ]
    webhook = next(row for row in rows if row.channel == "webhook")
    assert "NC-2026-0001" in webhook.body
    assert "NC-2026-0002" in webhook.body
    assert webhook.subject == "Overdue digest: 2 items"
    assert {row.status for row in rows if row.channel == "log"} == {"sent"}
