"""The one way every front end and the worker reach Temporal (same address, namespace and data converter), and
how the SDK's failures read as the client layer's errors."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import structlog
from opentelemetry.sdk.trace import TracerProvider
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
from temporalio.client import (
    Client,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError
from temporalio.runtime import Runtime
from temporalio.service import RPCError, RPCStatusCode, TLSConfig

from client.errors import CapaError, ErrorKind, FieldProblem
from core import tracing
from core.settings import Settings
from models import search_attributes

log = structlog.get_logger(__name__)

# How long a step or a query waits for a worker to answer; the SDK alone would wait for ever.
WORKER_TIMEOUT = timedelta(seconds=20)


async def connect(
    settings: Settings,
    *,
    lazy: bool = False,
    runtime: Runtime | None = None,
    tracer_provider: TracerProvider | None = None,
) -> Client:
    """Connect to Temporal; ``lazy`` waits for the first call, for front-ends that may not need the server.

    TLS, the client certificate and the API key come from the settings (TEMPORAL_TLS*, TEMPORAL_API_KEY);
    ``runtime`` carries the worker's metrics exporter. With CAPA_OTEL_ENDPOINT set, every call, and every
    workflow and activity of a worker built on this client, is traced (or always, to ``tracer_provider``).
    """
    api_key = settings.temporal_api_key.get_secret_value() if settings.temporal_api_key else None
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=pydantic_data_converter,
        tls=tls_config(settings),
        api_key=api_key,
        # Temporal Cloud routes API-key calls by this header as well as by the endpoint.
        rpc_metadata={"temporal-namespace": settings.temporal_namespace} if api_key else {},
        interceptors=tracing.interceptors(settings, tracer_provider),
        runtime=runtime,
        lazy=lazy,
    )


def tls_config(settings: Settings) -> TLSConfig | bool:
    """The SDK's TLS setting: a TLSConfig with the client certificate or CA read from their files, or on/off."""
    if settings.temporal_tls_cert is None and settings.temporal_tls_ca is None:
        return settings.temporal_uses_tls
    return TLSConfig(
        server_root_ca_cert=settings.temporal_tls_ca.read_bytes() if settings.temporal_tls_ca else None,
        client_cert=settings.temporal_tls_cert.read_bytes() if settings.temporal_tls_cert else None,
        client_private_key=settings.temporal_tls_key.read_bytes() if settings.temporal_tls_key else None,
    )


def is_unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` says the Temporal server could not be reached at all.

    The SDK reports a failed connection as a plain RuntimeError (recognisable only by its message) and a
    connection lost mid-call as an RPCError with status UNAVAILABLE.
    """
    if isinstance(exc, RPCError):
        return exc.status is RPCStatusCode.UNAVAILABLE
    return isinstance(exc, RuntimeError) and str(exc).startswith("Failed client connect")


def is_namespace_missing(exc: BaseException) -> bool:
    """Whether ``exc`` is the server's NOT_FOUND for the namespace itself rather than for a workflow in it."""
    return (
        isinstance(exc, RPCError)
        and exc.status is RPCStatusCode.NOT_FOUND
        and exc.message.startswith("Namespace ")
        and exc.message.endswith(" is not found.")
    )


def is_workflow_missing(exc: BaseException) -> bool:
    """Whether ``exc`` is the server's NOT_FOUND for a workflow (or an update of it) in an existing namespace."""
    return isinstance(exc, RPCError) and exc.status is RPCStatusCode.NOT_FOUND and not is_namespace_missing(exc)


async def ensure_search_attributes(client: Client) -> list[str]:
    """Register the record's custom search attributes that the namespace lacks; return the names added.

    Temporal Cloud and locked-down clusters refuse this call; there the attributes are registered by an
    operator beforehand, so a refusal is logged, not fatal.
    """
    namespace = client.namespace
    try:
        existing = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=namespace)
        )
        known = set(existing.custom_attributes) | set(existing.system_attributes)
    except RPCError as exc:
        if exc.status in (RPCStatusCode.PERMISSION_DENIED, RPCStatusCode.UNAUTHENTICATED):
            # Temporal Cloud keeps the operator API from workers: an operator registers the attributes.
            log.warning("search attributes not checked", reason=exc.message)
            return []
        # The time-skipping test server cannot list attributes but does accept new ones.
        if exc.status is not RPCStatusCode.UNIMPLEMENTED:
            raise
        known = set()
    missing = {key.name: key.indexed_value_type for key in search_attributes.KEYS if key.name not in known}
    if not missing:
        return []
    try:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(
                namespace=namespace,
                search_attributes={name: IndexedValueType.ValueType(int(kind)) for name, kind in missing.items()},
            )
        )
    except RPCError as exc:
        if exc.status is RPCStatusCode.ALREADY_EXISTS:
            return []
        log.warning("search attributes not registered", missing=sorted(missing), reason=exc.message)
        return []
    log.info("search attributes registered", added=sorted(missing))
    return sorted(missing)


# --- the SDK's failures, as the client layer's errors -----------------------------------------------------------


def timed_out(exc: BaseException) -> bool:
    """Whether the client's own patience ran out (its own timeout; the SDK reports its rpc_timeout as CANCELLED,
    the server its deadline as DEADLINE_EXCEEDED)."""
    if isinstance(exc, TimeoutError | WorkflowUpdateRPCTimeoutOrCancelledError):
        return True
    return isinstance(exc, RPCError) and exc.status in (RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED)


def recovering(exc: RPCError) -> bool:
    """Whether Temporal refused an update only because the record's last workflow task failed or timed out (a
    worker lost mid-task): it takes updates again once another worker has completed a task."""
    return exc.status is RPCStatusCode.FAILED_PRECONDITION and "Workflow Task in failed state" in exc.message


def namespace_missing(settings: Settings) -> CapaError:
    return CapaError(
        ErrorKind.UNAVAILABLE,
        f"Temporal at {settings.temporal_address} has no namespace {settings.temporal_namespace}: "
        "set TEMPORAL_NAMESPACE to the namespace the workers use",
    )


def temporal_unavailable(settings: Settings) -> CapaError:
    return CapaError(
        ErrorKind.UNAVAILABLE,
        f"cannot reach Temporal at {settings.temporal_address} (namespace {settings.temporal_namespace}); "
        "start it, or point TEMPORAL_ADDRESS at a running server",
    )


def no_worker(settings: Settings, what: str, waited: timedelta) -> str:
    return (
        f"no worker answered for {what} within {waited.total_seconds():.0f}s "
        f"(is a worker running on task queue {settings.task_queue}?)"
    )


def refusal(failure: ApplicationError) -> CapaError:
    """A record's refusal of a step: the rule's kind, message and fields at fault (the failure's details)."""
    try:
        kind = ErrorKind(failure.type or "")
    except ValueError:
        # Validators only raise the rule kinds; anything else is still the workflow refusing the step.
        kind = ErrorKind.NOT_ALLOWED
    problems = [p for p in map(FieldProblem.from_json, failure.details) if p is not None]
    return CapaError(kind, failure.message, problems)


@contextmanager
def translated(settings: Settings, what: str, waited: timedelta) -> Iterator[None]:
    """Translate the SDK's failures into CapaErrors; a refused update carries the validator's verdict. ``what``
    names the record (or other workflow) asked, ``waited`` how long the caller gave the workers."""
    try:
        yield
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        if isinstance(cause, ApplicationError):
            raise refusal(cause) from None
        raise CapaError(ErrorKind.NOT_ALLOWED, f"{what}: the step failed: {cause}") from None
    except WorkflowQueryFailedError as exc:
        # The workflow cannot be replayed (a non-determinism error, say): a fault for operators, not input.
        raise CapaError(ErrorKind.UNAVAILABLE, f"{what} cannot be read from Temporal: {exc}") from None
    except WorkflowUpdateRPCTimeoutOrCancelledError:
        raise CapaError(
            ErrorKind.UNAVAILABLE,
            f"{no_worker(settings, what, waited)}; the step may still be applied when one starts, "
            "so look at the record before sending it again",
        ) from None
    except RPCError as exc:
        if is_namespace_missing(exc):
            raise namespace_missing(settings) from None
        if exc.status is RPCStatusCode.NOT_FOUND:
            raise CapaError(ErrorKind.NOT_FOUND, f"{what} does not exist") from None
        # The SDK reports its own rpc_timeout as CANCELLED, the server's as DEADLINE_EXCEEDED.
        if exc.status in (RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED):
            raise CapaError(ErrorKind.UNAVAILABLE, no_worker(settings, what, waited)) from None
        if is_unreachable(exc):
            raise temporal_unavailable(settings) from None
        if recovering(exc):
            raise CapaError(
                ErrorKind.UNAVAILABLE,
                f"{no_worker(settings, what, waited)}: its last workflow task was left unfinished (a worker "
                "stopped or stalled) and no worker has taken it up since",
            ) from None
        raise CapaError(ErrorKind.UNAVAILABLE, f"Temporal refused the request: {exc.message}") from None
    except RuntimeError as exc:
        if is_unreachable(exc):
            raise temporal_unavailable(settings) from None
        raise
