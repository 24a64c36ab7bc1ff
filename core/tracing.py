"""OpenTelemetry tracing, on when CAPA_OTEL_ENDPOINT names an OTLP/HTTP collector.

Temporal's ``TracingInterceptor`` on the client traces every client call (start, update, query) and, on a worker
built on that client, every workflow task and activity, carrying the trace across them in Temporal headers; the
spans go to the collector in batches. ``core.logging`` adds the active span's ids to each log line.
"""

from functools import cache
from urllib.parse import urlsplit

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from temporalio.client import Interceptor
from temporalio.contrib.opentelemetry import TracingInterceptor

from core.settings import Settings

DEFAULT_SERVICE = "capaflow"


def traces_url(endpoint: str) -> str:
    """The collector's traces URL: a bare base (``http://collector:4318``) gets OTLP's ``/v1/traces`` path."""
    if urlsplit(endpoint).path in ("", "/"):
        return endpoint.rstrip("/") + "/v1/traces"
    return endpoint


def tracer_provider(
    exporter: SpanExporter, *, service_name: str, processor: SpanProcessor | None = None
) -> TracerProvider:
    """A provider whose spans name the service and go to ``exporter`` (in batches unless ``processor`` says)."""
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service_name}))
    provider.add_span_processor(processor or BatchSpanProcessor(exporter))
    return provider


@cache
def _otlp_provider(endpoint: str, service_name: str) -> TracerProvider:
    # One provider per process and endpoint: its batch processor flushes at exit (TracerProvider's atexit hook).
    return tracer_provider(OTLPSpanExporter(endpoint=traces_url(endpoint)), service_name=service_name)


_service_name = DEFAULT_SERVICE


def set_service_name(name: str) -> None:
    """Name this process in its spans (``capaflow-worker``); call before the first ``connect``."""
    global _service_name  # noqa: PLW0603 - one process, one service name
    _service_name = name


def interceptors(settings: Settings, provider: TracerProvider | None = None) -> list[Interceptor]:
    """The client interceptors that trace, or none when tracing is off (no CAPA_OTEL_ENDPOINT, no provider)."""
    if provider is None:
        if settings.otel_endpoint is None:
            return []
        provider = _otlp_provider(settings.otel_endpoint, _service_name)
    return [TracingInterceptor(tracer=provider.get_tracer("capaflow"))]
