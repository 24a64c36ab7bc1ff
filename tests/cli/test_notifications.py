"""``capa digest --now`` and ``capa notifications list/retry``, as a subprocess through the API, as ada (admin).

Each test gets its own read model, seeded with the directory of tests/conftest.py, a digest worker on its own task
queue and an API serving them; overdue records are written straight into the read model, which is all the digest
reads.
"""

import dataclasses
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from api.app import create_app
from client.records import CapaClient
from core import accounts
from core.readmodel import email_enabled
from core.settings import Settings
from models.tables import OutboxMessage
from tests.builders import clock, event, publish, state
from tests.cli.conftest import Capa, assert_one_line_error, serving
from tests.digest.harness import digest_worker
from tests.stack import PASSWORD

WEBHOOK = "https://hooks.example.com/capa"


@pytest_asyncio.fixture
async def fresh(capa: Capa, engine: Engine, tmp_path: Path) -> AsyncIterator[Capa]:
    """``capa`` as ada on an empty read model of this test's own, with a worker that runs the digest and an API
    serving both."""
    settings = Settings(
        task_queue=f"cli-digest-{uuid.uuid4()}",
        database_url=engine.url.render_as_string(hide_password=False),
        digest_timezone="Europe/Berlin",
        secret_key="k" * 64,
    )
    accounts.set_password(engine, "ada", PASSWORD)
    app = create_app(settings, CapaClient(capa.env.client, engine, settings))
    async with (
        digest_worker(capa.env.client, engine, settings, task_queue=settings.task_queue),
        serving(app) as url,
    ):
        ours = dataclasses.replace(
            capa, settings=settings, engine=engine, api_url=url, config_dir=tmp_path / "config", signed_in=set()
        )
        await ours.login("ada")
        yield ours


def late(engine: Engine, record_id: str, holder: str, hours: int) -> None:
    """A record whose containment, held by ``holder``, has been due for ``hours``."""
    due = datetime.now(UTC) - timedelta(hours=hours)
    publish(engine, state(record_id, owner=holder, stage_clock=clock(holder, due, level=1)), [event(1)])


def add_row(engine: Engine, **values: Any) -> int:
    row = OutboxMessage(
        **{
            "record_id": "NC-2026-0001",
            "seq": 4,
            "recipient": WEBHOOK,
            "channel": "webhook",
            "kind": "escalated",
            "subject": "[NC-2026-0001] containment overdue",
            "body": "{}",
            "address": WEBHOOK,
            **values,
        }
    )
    with Session(engine) as session:
        session.add(row)
        session.commit()
        assert row.id is not None
        return row.id


def status(engine: Engine, row_id: int) -> str:
    with Session(engine) as session:
        row = session.get(OutboxMessage, row_id)
        assert row is not None
        return row.status


def digest_rows(engine: Engine) -> list[OutboxMessage]:
    with Session(engine) as session:
        return list(session.exec(select(OutboxMessage).where(col(OutboxMessage.kind) == "digest")))


async def test_digest_now_with_nothing_overdue_sends_nothing(fresh: Capa) -> None:
    """Nothing late: the command says so, exits 0 and queues no digest."""
    run = await fresh.ok("digest", "--now", user="ada")
    assert run.out.strip() == "nothing is overdue; no digest sent"
    assert digest_rows(fresh.engine) == []


async def test_digest_now_tells_who_got_how_many_items_and_never_sends_twice(fresh: Capa) -> None:
    """olivia's and paul's late steps reach mike, nina, maria and ada; a second --now the same day sends none."""
    late(fresh.engine, "NC-2026-0001", "olivia", hours=30)
    late(fresh.engine, "NC-2026-0002", "paul", hours=5)

    run = await fresh.ok("digest", "--now", user="ada")

    lines = run.out.strip().splitlines()
    assert lines[0].startswith("overdue digest for ")
    assert lines[0].endswith(" sent to:")
    assert [line.strip() for line in lines[1:]] == ["ada: 2 items", "maria: 2 items", "mike: 1 item", "nina: 1 item"]
    assert sorted(row.recipient for row in digest_rows(fresh.engine)) == ["ada", "maria", "mike", "nina"]

    again = (await fresh.ok("digest", "--now", "--json", user="ada")).json()
    assert again["recipients"] == {}
    assert again["already_sent"] == {"ada": 2, "maria": 2, "mike": 1, "nina": 1}
    assert again["workflow_id"].startswith("capaflow-overdue-digest-manual-")
    assert len(digest_rows(fresh.engine)) == 4


async def test_digest_without_now_is_a_usage_error(fresh: Capa) -> None:
    """`capa digest` alone sends nothing and says to pass --now, exit 2."""
    assert_one_line_error(await fresh("digest", user="ada"), 2, "--now")


async def test_notifications_list_shows_every_row_and_failed_ones_in_red(
    fresh: Capa, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The table lists sent and failed rows, the failed one in red; --failed and --json narrow and structure it."""
    sent = add_row(fresh.engine, recipient="mike", channel="log", address=None, status="sent", attempts=1)
    failed = add_row(fresh.engine, status="failed", attempts=8, last_error="HTTP 503 from hooks.example.com")

    rows = (await fresh.ok("notifications", "list", "--json", user="ada")).json()
    assert [(r["id"], r["status"], r["channel"], r["recipient"]) for r in rows] == [
        (failed, "failed", "webhook", WEBHOOK),
        (sent, "sent", "log", "mike"),
    ]
    assert rows[0]["attempts"] == 8
    assert rows[0]["last_error"] == "HTTP 503 from hooks.example.com"
    # The facts a message showed are an object a script can read, not JSON inside a string.
    assert all(isinstance(row["details"], dict) for row in rows)
    only_failed = (await fresh.ok("notifications", "list", "--failed", "--json", user="ada")).json()
    assert [r["id"] for r in only_failed] == [failed]

    monkeypatch.setenv("FORCE_COLOR", "1")
    table = (await fresh.ok("notifications", "list", user="ada")).out
    failed_line = next(line for line in table.splitlines() if "HTTP 503" in line)
    sent_line = next(line for line in table.splitlines() if " mike " in line)
    assert "\x1b[1;31m" in failed_line
    assert "\x1b[1;31m" not in sent_line
    assert failed_line.split()[0].endswith(str(failed))


async def test_notifications_list_with_nothing_failed_says_so(fresh: Capa) -> None:
    """--failed on an outbox without failures prints one plain line."""
    add_row(fresh.engine, status="sent")
    assert (await fresh.ok("notifications", "list", "--failed", user="ada")).out.strip() == "no failed notifications"


async def test_retry_puts_a_failed_notification_back_and_refuses_the_others(fresh: Capa) -> None:
    """A failed row goes back to delivery (no longer failed); retrying a pending or unknown row is one error line."""
    failed = add_row(fresh.engine, status="failed", attempts=8, last_error="HTTP 503")

    run = await fresh.ok("notifications", "retry", str(failed))

    assert run.out.strip() == f"notification {failed} handed to delivery again"
    assert status(fresh.engine, failed) != "failed"
    assert (await fresh.ok("notifications", "list", "--failed", "--json", user="ada")).json() == []
    assert_one_line_error(
        await fresh("notifications", "retry", str(failed)), 1, f"notification {failed}", "only a failed one"
    )
    assert_one_line_error(await fresh("notifications", "retry", "999999", user="ada"), 1, "no notification 999999")
    assert_one_line_error(await fresh("notifications", "retry", "abc", user="ada"), 2, "ID")


async def test_users_notify_turns_one_kind_of_email_off_and_on(fresh: Capa) -> None:
    """--no-email then --email for the digest is stored; an unknown user or a kind never notified is refused."""
    run = await fresh.ok("users", "notify", "maria", "--kind", "digest", "--no-email", user="ada")
    assert run.out.strip() == "maria: e-mail for digest notifications off"
    assert not email_enabled(fresh.engine, "maria", "digest")
    assert email_enabled(fresh.engine, "maria", "escalated")
    assert (await fresh.ok("users", "notify", "maria", "--kind", "digest", "--email", "--json", user="ada")).json() == {
        "user": "maria",
        "kind": "digest",
        "email": True,
    }
    assert email_enabled(fresh.engine, "maria", "digest")
    assert_one_line_error(
        await fresh("users", "notify", "nobody", "--kind", "digest", "--email", user="ada"), 1, "nobody"
    )
    assert_one_line_error(
        await fresh("users", "notify", "maria", "--kind", "closed", "--email", user="ada"), 2, "--kind"
    )
    assert_one_line_error(await fresh("users", "notify", "maria", "--kind", "digest", user="ada"), 2, "--email")
