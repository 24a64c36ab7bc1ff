"""structlog set-up: readable lines in a terminal, JSON lines in production (``CAPA_LOG_FORMAT=json``).

The standard library's loggers (the Temporal SDK's, and ``workflow.logger`` inside workflows, which cannot call
structlog) go through the same renderer, with their ``extra`` fields (record id, actor, the workflow's id and
run) kept as keys, so every line of the worker is structured alike. While an OpenTelemetry span is active (an
activity traced through CAPA_OTEL_ENDPOINT), each line carries its ``trace_id`` and ``span_id``.
"""

import logging
import sys

import structlog
from opentelemetry import trace


def add_trace_ids(_logger: object, _method: str, event_dict: structlog.types.EventDict) -> structlog.types.EventDict:
    """The active OpenTelemetry span's trace and span ids (hex, as tracing back-ends show them), if any."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event_dict.setdefault("trace_id", format(context.trace_id, "032x"))
        event_dict.setdefault("span_id", format(context.span_id, "016x"))
    return event_dict


_SHARED: list[structlog.types.Processor] = [
    structlog.contextvars.merge_contextvars,
    add_trace_ids,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def _drop_color_message(
    _logger: object, _method: str, event_dict: structlog.types.EventDict
) -> structlog.types.EventDict:
    """uvicorn repeats each message with terminal colour codes as an extra; the plain one is enough."""
    event_dict.pop("color_message", None)
    return event_dict


def configure_logging(log_format: str = "console", level: str = "info") -> None:
    numeric = logging.getLevelNamesMapping()[level.upper()]
    renderer: structlog.types.Processor
    if log_format == "json":
        renderer = structlog.processors.JSONRenderer()
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    structlog.configure(
        processors=[
            *_SHARED,
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*_SHARED, structlog.stdlib.ExtraAdder(), _drop_color_message],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            *([structlog.processors.format_exc_info] if log_format == "json" else []),
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric)
