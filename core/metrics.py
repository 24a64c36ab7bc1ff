"""Prometheus metrics of the worker: the Temporal SDK's own and capaflow's, on one endpoint.

One exporter serves both. The SDK's Rust core runs the Prometheus endpoint (``PrometheusConfig`` on the
worker's ``Runtime``, port CAPA_METRICS_PORT), and capaflow's series are instruments of that same runtime's
metric meter, so ``/metrics`` shows ``temporal_*`` and ``capaflow_*`` side by side and nothing else needs a
port. Activities record through ``activity.metric_meter()`` (the meter of the runtime their worker runs on,
labelled with namespace, task queue and activity type); the read-model gauges are set by the worker's
refresher through ``runtime.metric_meter``.

capaflow's series:

- ``capaflow_records_open{stage,severity}`` (gauge): open records, recounted from the read model every
  CAPA_METRICS_INTERVAL seconds; every stage and severity is set, zero included.
- ``capaflow_records_overdue{severity}`` (gauge): open records with a deadline (stage or action) past due.
- ``capaflow_escalations_fired_total{level}`` (counter): escalation notices queued, counted once per
  escalation by the activity that first queued it (``settle_step``; ``send_notice`` for records started before it).
- ``capaflow_step_latency_seconds{kind}`` (histogram): how long after a step or timer event the read model
  had it; measured by the step's read-model write (in ``settle_step``, or ``record_state`` for records started
  before it) from the newest event's time to its commit.
- ``capaflow_notifications_delivered_total{channel}`` / ``capaflow_notifications_failed_total{channel}``
  (counters): messages handed to their channel, and messages given up on after every attempt.

The API process serves its own endpoint (CAPA_API_METRICS_PORT): the SDK's client metrics, and
``capaflow_http_requests_total{method,route,status}`` (counter) and ``capaflow_http_request_seconds{method,route}``
(histogram), labelled with the route's template (``/api/v1/records/{record_id}``), never a raw path.

Gauges are per worker: with several workers each reports the same read-model counts, so dashboards take
``max`` across instances, not ``sum``; counters and histograms are per worker and do sum.
"""

import asyncio
import contextlib
import re
from collections import Counter
from datetime import UTC, datetime

import structlog
from sqlalchemy import Engine
from sqlmodel import col, func, select
from temporalio import activity
from temporalio.common import MetricMeter
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from core.database import session_scope
from core.readmodel import RecordFilter, list_records
from core.settings import Settings
from models.enums import Severity, Stage
from models.tables import Nonconformity

log = structlog.get_logger(__name__)

RECORDS_OPEN = "capaflow_records_open"
RECORDS_OVERDUE = "capaflow_records_overdue"
ESCALATIONS_FIRED = "capaflow_escalations_fired"
STEP_LATENCY = "capaflow_step_latency_seconds"
NOTIFICATIONS_DELIVERED = "capaflow_notifications_delivered"
NOTIFICATIONS_FAILED = "capaflow_notifications_failed"
HTTP_REQUESTS = "capaflow_http_requests"
HTTP_LATENCY = "capaflow_http_request_seconds"

# From a page served from the read model to a step that waited for a busy worker.
HTTP_LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0]

# From a fast commit to a read model that lagged behind a worker outage of minutes.
STEP_LATENCY_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0]

OPEN_STAGES = [stage for stage in Stage if stage.is_open]


def prometheus_runtime(port: int, host: str = "127.0.0.1") -> Runtime:
    """A Temporal runtime whose metrics, the SDK's and capaflow's, are served at ``http://host:port/metrics``."""
    return Runtime(
        telemetry=TelemetryConfig(
            metrics=PrometheusConfig(
                bind_address=f"{host}:{port}",
                counters_total_suffix=True,
                histogram_bucket_overrides={STEP_LATENCY: STEP_LATENCY_BUCKETS, HTTP_LATENCY: HTTP_LATENCY_BUCKETS},
            )
        )
    )


class HttpMetrics:
    """Requests the API and web app answered, by method, route template and status, and how long each took."""

    def __init__(self, meter: MetricMeter) -> None:
        self._requests = meter.create_counter(HTTP_REQUESTS, "HTTP requests answered")
        self._latency = meter.create_histogram_float(HTTP_LATENCY, "Time to answer an HTTP request", "s")

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        labels = {"method": method, "route": route, "status": str(status)}
        self._requests.add(1, labels)
        self._latency.record(seconds, {"method": method, "route": route})


def _activity_meter() -> MetricMeter:
    """The running activity's meter; a no-op outside an activity (unit tests call activities' helpers directly)."""
    return activity.metric_meter() if activity.in_activity() else MetricMeter.noop


def escalation_fired(level: int | None) -> None:
    _activity_meter().create_counter(
        ESCALATIONS_FIRED, "Escalations fired: escalation notices queued, once per escalation"
    ).add(1, {"level": str(level) if level is not None else "unknown"})


def notification_delivered(channel: str, count: int = 1) -> None:
    if count:
        _activity_meter().create_counter(
            NOTIFICATIONS_DELIVERED,
            "Notifications handed to their channel (log line written, mail or webhook accepted)",
        ).add(count, {"channel": channel})


def notification_failed(channel: str) -> None:
    _activity_meter().create_counter(
        NOTIFICATIONS_FAILED, "Notifications given up on after their last delivery attempt"
    ).add(1, {"channel": channel})


def step_latency(kind: str, happened_at: datetime) -> None:
    """Record how long after ``happened_at`` (the event's time in the workflow) the read model has the event."""
    seconds = max((datetime.now(UTC) - happened_at).total_seconds(), 0.0)
    _activity_meter().create_histogram_float(
        STEP_LATENCY,
        "Seconds from a record's event (step accepted or timer fired, the event's time in the workflow) to its"
        " commit in the read model, by the newest event's kind",
        "s",
    ).record(seconds, {"kind": kind})


_LEVEL = re.compile(r"\(escalation level (\d+)\)")


def escalation_level(subject: str) -> int | None:
    """The level an escalation notice's subject states (``... (escalation level 2)``)."""
    match = _LEVEL.search(subject)
    return int(match[1]) if match else None


class ReadModelGauges:
    """The gauges counted from the read model: open records by stage and severity, overdue records by severity."""

    def __init__(self, meter: MetricMeter, engine: Engine) -> None:
        self._engine = engine
        self._open = meter.create_gauge(RECORDS_OPEN, "Open records by stage and severity, from the read model")
        self._overdue = meter.create_gauge(
            RECORDS_OVERDUE, "Open records with a deadline (stage or action) past due, from the read model"
        )

    def refresh(self, now: datetime | None = None) -> None:
        """Recount and set every series, zeros included, so a stage that empties drops to 0."""
        now = now or datetime.now(UTC)
        with session_scope(self._engine) as session:
            rows = session.exec(
                select(col(Nonconformity.stage), col(Nonconformity.severity), func.count())
                .where(col(Nonconformity.stage).in_([s.value for s in OPEN_STAGES]))
                .group_by(col(Nonconformity.stage), col(Nonconformity.severity))
            ).all()
        open_counts = {(stage, severity): count for stage, severity, count in rows}
        overdue = Counter(record.severity for record in list_records(self._engine, RecordFilter(overdue=True), now=now))
        for stage in OPEN_STAGES:
            for severity in Severity:
                self._open.set(
                    open_counts.get((stage.value, severity.value), 0),
                    {"stage": stage.value, "severity": severity.value},
                )
        for severity in Severity:
            self._overdue.set(overdue.get(severity.value, 0), {"severity": severity.value})

    async def run(self, interval: float, stop: asyncio.Event) -> None:
        """Refresh now and every ``interval`` seconds until ``stop`` is set; a failed count is logged, not fatal."""
        while not stop.is_set():
            try:
                await asyncio.to_thread(self.refresh)
            except Exception as exc:  # a database hiccup must not stop the worker or its other metrics
                log.warning("metrics: read-model count failed", error=str(exc))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)


class MetricsPortError(RuntimeError):
    """The metrics endpoint could not be opened; the message names CAPA_METRICS_PORT."""


def metrics_runtime(settings: Settings, *, api: bool = False) -> Runtime | None:
    """The Temporal runtime serving /metrics on CAPA_METRICS_HOST, port CAPA_METRICS_PORT (the API's:
    CAPA_API_METRICS_PORT), or None (the SDK's default) when the port is 0."""
    port, variable = (
        (settings.api_metrics_port, "CAPA_API_METRICS_PORT") if api else (settings.metrics_port, "CAPA_METRICS_PORT")
    )
    if not port:
        return None
    try:
        return prometheus_runtime(port, settings.metrics_host)
    except Exception as exc:
        raise MetricsPortError(
            f"{variable} / CAPA_METRICS_HOST: cannot serve metrics on {settings.metrics_host} port {port}: {exc}"
        ) from exc
