"""The API process's own Prometheus endpoint: its HTTP requests by route template and status."""

from pathlib import Path

import httpx
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from core.settings import Settings
from tests.workers.harness import free_port

Samples = list[tuple[str, dict[str, str], float]]


def _samples(port: int) -> Samples:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return [
        (sample.name, sample.labels, sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    ]


def _value(samples: Samples, name: str, **labels: str) -> float:
    """The one sample of ``name`` carrying ``labels`` (the exporter adds labels of its own, e.g. service_name)."""
    (value,) = [v for n, got, v in samples if n == name and labels.items() <= got.items()]
    return value


def test_requests_are_counted_by_route_template_and_status(dev_server: WorkflowEnvironment, tmp_path: Path) -> None:
    """Each answered request is counted and timed under its route's template, beside the SDK's client metrics."""
    port = free_port()
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/capaflow.db",
        temporal_address=dev_server.client.service_client.config.target_host,
        api_metrics_port=port,
        secret_key="m" * 40,
    )
    with TestClient(create_app(settings)) as http:
        for _ in range(3):
            assert http.get("/healthz").status_code == 200
        assert http.get("/api/v1/records/NC-2026-0001").status_code == 401
        assert http.get("/readyz").status_code in (200, 503)
        samples = _samples(port)

    assert _value(samples, "capaflow_http_requests_total", method="GET", route="/healthz", status="200") == 3
    # A record's route is counted under its template, so ids never multiply the series.
    template = "/api/v1/records/{record_id}"
    assert _value(samples, "capaflow_http_requests_total", method="GET", route=template, status="401") == 1
    assert not any("NC-2026-0001" in value for _, labels, _ in samples for value in labels.values())
    assert _value(samples, "capaflow_http_request_seconds_bucket", route="/healthz", le="+Inf") == 3
    # The SDK's client metrics share the endpoint.
    assert any(name.startswith("temporal_") for name, _, _ in samples)
