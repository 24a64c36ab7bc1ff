"""The worker's /metrics endpoint: the Temporal SDK's series and capaflow's own, on one port."""

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from temporalio.testing import WorkflowEnvironment

from client.records import CapaClient
from core.settings import Settings
from models.enums import Channel, OutboxStatus, Severity, Source, Stage
from models.payloads import RaiseStep
from models.tables import OutboxMessage
from tests.policies import uniform_policy
from tests.workers.harness import Workers, eventually, free_port

# Containment due 2 s after the raise, reminded at 1 s and escalated (level 1, to mike) at once when due.
POLICY = uniform_policy("metrics", containment="2s", remind_before=["1s"], escalate_after=["0s", "1h"])

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
def policy_text() -> str:
    return POLICY


@pytest.fixture
def worker_variables() -> dict[str, str]:
    """Recount the read-model gauges often, so the scrape sees the escalated record soon."""
    return {"CAPA_METRICS_INTERVAL": "0.5"}


async def scrape(port: int) -> Samples:
    """Every sample on the page, keyed by name and labels (the SDK's ``service_name`` label left out)."""
    async with httpx.AsyncClient() as http:
        response = await http.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
    response.raise_for_status()
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            labels = frozenset((k, v) for k, v in sample.labels.items() if k != "service_name")
            samples[(sample.name, labels)] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum of the samples of ``name`` whose labels include ``labels`` (0 when there is none)."""
    wanted = set(labels.items())
    return sum(v for (n, have), v in samples.items() if n == name and wanted <= have)


async def test_metrics_endpoint_shows_sdk_and_product_metrics_after_an_escalation(
    dev_server: WorkflowEnvironment, settings: Settings, engine: Engine, workers: Workers
) -> None:
    """After a record escalates, /metrics has the SDK's temporal_* series and capaflow_* with the right values."""
    port = free_port()
    await workers.start("worker", metrics_port=port)
    capa = CapaClient(dev_server.client, engine, settings)
    record_id = await capa.raise_record(
        "otto",
        RaiseStep(
            title="Burr", description="Metrics test", severity=Severity.MAJOR, source=Source.INSPECTION, owner="olivia"
        ),
    )

    async def escalated_and_counted() -> Samples | None:
        samples = await scrape(port)
        done = (
            value(samples, "capaflow_escalations_fired_total", level="1") == 1
            and value(samples, "capaflow_records_overdue", severity="major") == 1
            and value(samples, "capaflow_step_latency_seconds_count", kind="escalated") >= 1
        )
        return samples if done else None

    samples: Samples = await eventually(escalated_and_counted, 30, f"{record_id}'s escalation in the metrics")

    names = {name for name, _ in samples}
    assert any(name.startswith("temporal_workflow_task_") for name in names), sorted(names)
    assert any(name.startswith("temporal_activity_") for name in names), sorted(names)

    # The open-records gauge: this one record, in containment; every other stage and severity at 0.
    assert value(samples, "capaflow_records_open", stage=Stage.CONTAINMENT.value, severity="major") == 1
    assert value(samples, "capaflow_records_open") == 1
    assert value(samples, "capaflow_records_open", stage=Stage.ROOT_CAUSE.value, severity="minor") == 0
    assert ("capaflow_records_open", frozenset({("stage", "root_cause"), ("severity", "minor")})) in samples
    assert value(samples, "capaflow_records_overdue") == 1

    # One escalation, counted once, at level 1, by the settle_step activity that sent it.
    assert value(samples, "capaflow_escalations_fired_total") == 1
    assert value(samples, "capaflow_escalations_fired_total", activity_type="settle_step", level="1") == 1

    # Step latency: one observation per record_state call with new events, by the newest event's kind.
    assert value(samples, "capaflow_step_latency_seconds_count", kind="raised") >= 1
    assert value(samples, "capaflow_step_latency_seconds_bucket", kind="raised", le="+Inf") >= 1
    assert value(samples, "capaflow_step_latency_seconds_sum", kind="raised") < 30

    # Delivered notifications: exactly the log rows the outbox shows sent (raise, reminder, escalation).
    with Session(engine) as session:
        sent = session.exec(
            select(OutboxMessage).where(
                col(OutboxMessage.channel) == Channel.LOG.value, col(OutboxMessage.status) == OutboxStatus.SENT.value
            )
        ).all()
    assert len(sent) == 3
    assert value(samples, "capaflow_notifications_delivered_total", channel="log") == len(sent)
    assert value(samples, "capaflow_notifications_failed_total") == 0
