"""The daily chain head: each digest run publishes one hash over every record's chain head and the admin log's,
as a log line and a webhook event, once per day."""

import uuid
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlmodel import Session, col, select
from structlog.testing import capture_logs
from temporalio.testing import WorkflowEnvironment

from core import audit
from core.settings import Settings
from models.digest import DigestRequest
from models.tables import OutboxMessage
from tests.audit.records import contain, find_root_cause, stored
from tests.digest.harness import digest_worker
from tests.workflows.harness import raise_record, running_worker
from workflows.digest import DigestWorkflow

SETTINGS = Settings(
    digest_timezone="Europe/Berlin",
    webhook_urls=["https://hooks.example.test/capa"],
    webhook_secret="a secret the endpoints share",  # noqa: S106 - a test endpoint's secret
)


def _published(engine: Engine) -> list[OutboxMessage]:
    with Session(engine) as session:
        query = select(OutboxMessage).where(col(OutboxMessage.kind) == "chain_head")
        return list(session.exec(query.order_by(col(OutboxMessage.id))))


async def test_the_digest_run_publishes_the_days_chain_head(env: WorkflowEnvironment, engine: Engine) -> None:
    """The head covers every record's chain and the admin log's up to the digest's moment: it is logged and
    queued for every webhook endpoint (a second run the same day logs it again but queues nothing new), and
    recomputing it for that moment gives the same hash however the records moved on since."""
    async with running_worker(env.client, engine) as records_queue:
        capa = await raise_record(env.client, records_queue)
        await contain(capa)
        await stored(engine, capa)
        at = datetime.now(UTC)
        await find_root_cause(capa)
        await stored(engine, capa)
    day = at.astimezone(ZoneInfo("Europe/Berlin")).date().isoformat()
    head = audit.chain_head(engine, at)
    with capture_logs() as logs:
        async with digest_worker(env.client, engine, SETTINGS) as queue:
            for _ in range(2):
                await env.client.execute_workflow(
                    DigestWorkflow.run, DigestRequest(at=at), id=f"digest-{uuid.uuid4()}", task_queue=queue
                )

    lines = [line for line in logs if line["event"] == "audit chain head"]
    assert [(line["day"], line["head"]) for line in lines] == [(day, head)] * 2
    assert head != audit.chain_head(engine)
    rows = _published(engine)
    assert [(row.record_id, row.channel, row.recipient) for row in rows] == [
        (f"CHAIN-HEAD-{day}", "webhook", "https://hooks.example.test/capa")
    ]
    assert rows[0].subject == f"Audit chain head {day} (entries up to {at.isoformat()}): {head}"
