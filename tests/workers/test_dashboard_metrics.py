"""Every series the Grafana dashboard (deploy/grafana) queries is served on a real worker's or the API's /metrics,
with the labels the dashboard groups by: a renamed metric or label fails here rather than as an empty panel."""

from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from sqlalchemy import Engine
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from client.records import CapaClient
from core.settings import Settings
from models.enums import Severity, Source
from models.payloads import RaiseStep
from tests.deploy.dashboard import PROMETHEUS_OWN, TARGET_LABELS, queries
from tests.policies import uniform_policy
from tests.workers.harness import Workers, eventually, free_port

# Containment due 2 s after the raise and escalated at once: the escalation and step-latency series appear.
POLICY = uniform_policy("dashboard", containment="2s", remind_before=["1s"], escalate_after=["0s", "1h"])

Served = dict[str, set[str]]  # sample name -> the label names it carries


@pytest.fixture
def policy_text() -> str:
    return POLICY


@pytest.fixture
def worker_variables() -> dict[str, str]:
    """Recount the gauges often; a webhook nobody answers, tried once, so a notification is given up on."""
    return {
        "CAPA_METRICS_INTERVAL": "0.5",
        "CAPA_WEBHOOK_URLS": f"http://127.0.0.1:{free_port()}/capaflow",
        "CAPA_WEBHOOK_SECRET": "w" * 32,
        "CAPA_NOTIFY_MAX_ATTEMPTS": "1",
    }


def served(port: int) -> Served:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    names: Served = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            names.setdefault(sample.name, set()).update(sample.labels)
    return names


async def test_every_metric_the_dashboard_queries_is_served(
    dev_server: WorkflowEnvironment, settings: Settings, engine: Engine, workers: Workers, tmp_path: Path
) -> None:
    """After a record escalates and a webhook is given up on, the worker's and the API's /metrics between them
    serve each metric of each panel's query, carrying every label the query groups or matches by."""
    worker_port, api_port = free_port(), free_port()
    await workers.start("worker", metrics_port=worker_port)
    capa = CapaClient(dev_server.client, engine, settings)
    await capa.raise_record(
        "otto",
        RaiseStep(
            title="Loose connector",
            description="Dashboard test",
            severity=Severity.MAJOR,
            source=Source.INSPECTION,
            owner="olivia",
        ),
    )

    async def escalated_and_given_up() -> Served | None:
        names = served(worker_port)
        wanted = ("capaflow_escalations_fired_total", "capaflow_notifications_failed_total")
        return names if all(name in names for name in wanted) else None

    worker = await eventually(escalated_and_given_up, 60, "an escalation and a failed webhook in the metrics")

    api_settings = settings.model_copy(
        update={
            "temporal_address": dev_server.client.service_client.config.target_host,
            "temporal_namespace": dev_server.client.namespace,
            "api_metrics_port": api_port,
            "secret_key": SecretStr("d" * 40),
        }
    )
    with TestClient(create_app(api_settings)) as http:
        assert http.get("/healthz").status_code == 200
        api = served(api_port)

    missing = []
    for query in queries():
        for metric in query.metrics - PROMETHEUS_OWN:
            labels = worker.get(metric, set()) | api.get(metric, set())
            if metric not in worker and metric not in api:
                missing.append(f"{query.panel}: {metric} is not served")
            elif unknown := query.labels - TARGET_LABELS - labels:
                missing.append(f"{query.panel}: {metric} has no label {', '.join(sorted(unknown))}")
    assert missing == [], "\n".join(missing)
    # Both processes are in the dashboard: the records come from the worker, the requests from the API.
    assert "capaflow_records_open" in worker
    assert "capaflow_http_requests_total" in api
