"""Webhooks to a real HTTP receiver on 127.0.0.1: signed, retried with backoff, delivered once, given up on.

Each test raises a record (its "raised" event is one webhook event, seq 1) and follows that event's delivery
workflow, ``deliver-<row id>``; waiting on its result lets the time-skipping server skip the retry backoff.
"""

import asyncio
import hashlib
import hmac
import json
from datetime import timedelta

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import NoResultFound
from sqlmodel import Session, col, select
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from activities.webhooks import sign
from core.outbox import list_messages, retry_message
from models.delivery import DeliveryResult
from models.enums import Disposition, Stage
from models.payloads import ContainmentInput
from models.tables import OutboxMessage
from tests.notifications.conftest import BASE_URL, SECRET, Receiver, notification_settings, notifying_worker
from tests.workflows.harness import Capa, actor, raise_record
from workflows.record import RecordWorkflow


def _webhook_row(engine: Engine, record_id: str) -> OutboxMessage:
    with Session(engine) as session:
        return session.exec(
            select(OutboxMessage).where(
                col(OutboxMessage.record_id) == record_id, col(OutboxMessage.channel) == "webhook"
            )
        ).one()


async def _first_webhook_row(engine: Engine, record_id: str, within: float = 10.0) -> OutboxMessage:
    """The raise's webhook row, once the worker has written it (the record opens before its first write lands)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        try:
            return _webhook_row(engine, record_id)
        except NoResultFound:
            if loop.time() > deadline:
                raise
            await asyncio.sleep(0.05)


async def _delivered(client: Client, workflow_id: str, within: float = 10.0) -> DeliveryResult:
    """The delivery's result; its workflow is started just after the row is written, so it may not exist yet."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        try:
            result: DeliveryResult = await client.get_workflow_handle(workflow_id, result_type=DeliveryResult).result()
        except RPCError as exc:
            if exc.status is not RPCStatusCode.NOT_FOUND or loop.time() > deadline:
                raise
            await asyncio.sleep(0.05)
        else:
            return result


async def _raise_and_deliver(env: WorkflowEnvironment, engine: Engine, queue: str) -> tuple[Capa, OutboxMessage]:
    capa = await raise_record(env.client, queue, owner="olivia", by="otto")
    row = await _first_webhook_row(engine, capa.handle.id)
    await _delivered(env.client, f"deliver-{row.id}")
    return capa, _webhook_row(engine, capa.handle.id)


async def test_each_event_is_posted_once_signed_with_its_idempotency_key(
    env: WorkflowEnvironment, engine: Engine, receiver: Receiver
) -> None:
    """The POST's HMAC-SHA256 signature over the body verifies, and it names the event and its key."""
    settings = notification_settings(webhook_urls=[receiver.url("/hook")])
    async with notifying_worker(env.client, engine, settings) as queue:
        capa, row = await _raise_and_deliver(env, engine, queue)
    record_id = capa.handle.id
    [post] = receiver.posts_to("/hook")
    assert post["valid"]
    assert post["headers"]["idempotency-key"] == f"{record_id}:1"
    assert post["headers"]["x-capa-event"] == "capa.raised"
    body = post["body"]
    assert body["event_type"] == "capa.raised"
    assert body["idempotency_key"] == f"{record_id}:1"
    assert (body["record_id"], body["seq"], body["kind"]) == (record_id, 1, "raised")
    assert body["recipients"] == ["olivia"]
    assert body["link"] == f"{BASE_URL}/records/{record_id}"
    assert body["subject"].startswith(f"[{record_id}] you own a new major nonconformity")
    assert (row.recipient, row.status, row.attempts, row.last_error) == (receiver.url("/hook"), "sent", 1, None)


def test_signature_is_hmac_sha256_of_the_exact_body() -> None:
    """A consumer recomputing HMAC-SHA256 over the raw bytes with the shared secret gets the header value."""
    body = json.dumps({"a": 1}).encode()
    assert sign(SECRET, body) == "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert sign(SECRET, body) != sign(SECRET, body + b" ")


async def test_an_endpoint_failing_twice_gets_the_event_once(
    env: WorkflowEnvironment, engine: Engine, receiver: Receiver
) -> None:
    """HTTP 500 twice, then 200: retried with backoff, processed once, the row sent after three attempts."""
    receiver.script["/flaky"] = [500, 500]
    settings = notification_settings(webhook_urls=[receiver.url("/flaky")])
    async with notifying_worker(env.client, engine, settings) as queue:
        before = await env.get_current_time()
        _, row = await _raise_and_deliver(env, engine, queue)
        after = await env.get_current_time()
    posts = receiver.posts_to("/flaky")
    assert len(posts) == 3
    assert len({p["headers"]["idempotency-key"] for p in posts}) == 1
    assert len(receiver.processed_at("/flaky")) == 1
    assert (row.status, row.attempts, row.last_error) == ("sent", 3, None)
    # The backoff (5s, then 10s) really elapsed, on the server's skipped clock.
    assert after - before >= timedelta(seconds=15)


async def test_a_crash_between_post_and_mark_causes_no_duplicate(
    env: WorkflowEnvironment, engine: Engine, receiver: Receiver
) -> None:
    """The POST went out but marking it sent failed: the retry re-sends the same key and is processed once."""
    # The crash: a database trigger refuses the first attempt's "mark sent" update, as a worker dying right
    # after the POST would leave the row: delivered, still pending. Nothing in the code under test is
    # patched; the activity fails after delivery and Temporal retries it.
    with engine.begin() as conn:
        conn.execute(
            text(
                "CREATE TRIGGER crash_after_post BEFORE UPDATE OF status ON outbox"
                " WHEN NEW.status = 'sent' AND OLD.channel = 'webhook' AND OLD.attempts = 1"
                " BEGIN SELECT RAISE(ABORT, 'simulated crash between send and mark'); END"
            )
        )
    settings = notification_settings(webhook_urls=[receiver.url("/once")])
    async with notifying_worker(env.client, engine, settings) as queue:
        capa, row = await _raise_and_deliver(env, engine, queue)
    posts = receiver.posts_to("/once")
    assert [p["headers"]["idempotency-key"] for p in posts] == [f"{capa.handle.id}:1"] * 2
    assert all(p["valid"] for p in posts)
    assert len(receiver.processed_at("/once")) == 1
    assert (row.status, row.attempts) == ("sent", 2)


async def test_a_gone_endpoint_fails_after_one_attempt_and_the_record_goes_on(
    env: WorkflowEnvironment, engine: Engine, receiver: Receiver
) -> None:
    """HTTP 410 is final: the row is failed with its error after one attempt; the record's steps still work."""
    receiver.script["/gone"] = [410] * 10
    settings = notification_settings(webhook_urls=[receiver.url("/gone")])
    async with notifying_worker(env.client, engine, settings) as queue:
        capa, row = await _raise_and_deliver(env, engine, queue)
        assert (row.status, row.attempts) == ("failed", 1)
        assert row.last_error is not None
        assert "HTTP 410" in row.last_error
        assert [m.id for m in list_messages(engine, failed_only=True)] == [row.id]
        result = await capa.handle.execute_update(
            RecordWorkflow.contain,
            ContainmentInput(actor=actor("olivia"), summary="Quarantined", disposition=Disposition.QUARANTINE),
        )
        assert result.stage is Stage.ROOT_CAUSE
    assert len(receiver.posts_to("/gone")) == 1


async def test_retry_puts_a_failed_row_back_on_its_way(
    env: WorkflowEnvironment, engine: Engine, receiver: Receiver
) -> None:
    """retry_message re-delivers a failed row under a new workflow id; it refuses unknown and unfailed rows."""
    receiver.script["/back"] = [410]
    settings = notification_settings(webhook_urls=[receiver.url("/back")])
    async with notifying_worker(env.client, engine, settings) as queue:
        _, row = await _raise_and_deliver(env, engine, queue)
        assert row.id is not None
        assert row.status == "failed"
        await retry_message(engine, env.client, queue, row.id)
        result = await _delivered(env.client, f"deliver-{row.id}-retry-1")
        assert result.status == "sent"
        with pytest.raises(ValueError, match=f"notification {row.id} is sent; only a failed one can be retried"):
            await retry_message(engine, env.client, queue, row.id)
        with pytest.raises(ValueError, match="no notification with id 999999"):
            await retry_message(engine, env.client, queue, 999_999)
    assert len(receiver.processed_at("/back")) == 1
    assert list_messages(engine, failed_only=True) == []
