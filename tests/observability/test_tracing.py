"""Tracing: a record's workflow and its activities produce OpenTelemetry spans, and log lines carry their ids."""

import json
import logging
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import structlog
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import Engine
from temporalio.testing import WorkflowEnvironment

from client.records import CapaClient
from client.temporal import connect
from core import tracing
from core.logging import configure_logging
from core.settings import Settings
from tests.builders import raise_burr
from tests.policies import EARLIER
from worker import build_worker


async def test_a_record_workflow_and_its_activities_produce_spans_and_traced_log_lines(
    env: WorkflowEnvironment, engine: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Raising a record traces the start, the workflow run and the wait for it to open in one trace; its activities
    are traced, and their log lines carry their span's ids."""
    exporter = InMemorySpanExporter()
    provider = tracing.tracer_provider(exporter, service_name="capaflow-test", processor=SimpleSpanProcessor(exporter))
    settings = Settings(
        temporal_address=env.client.service_client.config.target_host,
        task_queue=f"tracing-{uuid.uuid4()}",
        database_url=str(engine.url),
    )
    client = await connect(settings, tracer_provider=provider)
    root = logging.getLogger()
    handlers, level, saved = root.handlers[:], root.level, structlog.get_config()
    configure_logging("json", "info")
    # Module loggers must not cache this configuration: later tests capture logs with their own.
    structlog.configure(cache_logger_on_first_use=False)
    try:
        with ThreadPoolExecutor(max_workers=4) as executor:
            worker = build_worker(
                client,
                task_queue=settings.task_queue,
                engine=engine,
                policy=EARLIER,
                executor=executor,
                settings=settings,
            )
            async with worker:
                record_id = await raise_burr(CapaClient(client, engine, settings))
        logged = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    finally:
        structlog.configure(**saved)
        root.handlers[:], root.level = handlers, level

    spans = exporter.get_finished_spans()
    names = {span.name for span in spans}
    assert {"StartWorkflow:CapaRecord", "RunWorkflow:CapaRecord"} <= names, names
    assert {"RunActivity:settle_step", "StartWorkflow:CapaAlarm"} <= names, names
    started = next(span for span in spans if span.name == "StartWorkflow:CapaRecord")
    trace_id = started.context.trace_id
    # The record's run and the client's wait for it to open are one trace; the writes started as it opens, before
    # its run begins, are traces of their own, linked to it by the record id their log lines carry.
    in_trace = {span.name for span in spans if span.context.trace_id == trace_id}
    assert {"RunWorkflow:CapaRecord", "HandleUpdate:opened"} <= in_trace, in_trace
    assert all(span.resource.attributes["service.name"] == "capaflow-test" for span in spans)

    written = [
        line for line in logged if line.get("event") == "record state written" and line.get("record_id") == record_id
    ]
    assert written, logged
    settle_spans = {
        (format(span.context.trace_id, "032x"), span.context.span_id)
        for span in spans
        if span.name == "RunActivity:settle_step"
    }
    for line in written:
        assert (line["trace_id"], int(line["span_id"], 16)) in settle_spans


def test_tracing_is_off_without_an_endpoint_and_the_url_gets_the_traces_path() -> None:
    """No CAPA_OTEL_ENDPOINT, no interceptor; a bare collector URL gets OTLP's /v1/traces path."""
    assert tracing.interceptors(Settings()) == []
    assert len(tracing.interceptors(Settings(otel_endpoint="http://127.0.0.1:4318"))) == 1
    assert tracing.traces_url("http://collector:4318") == "http://collector:4318/v1/traces"
    assert tracing.traces_url("http://collector:4318/") == "http://collector:4318/v1/traces"
    assert tracing.traces_url("https://otlp.example/custom/v1/traces") == "https://otlp.example/custom/v1/traces"
