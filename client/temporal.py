"""The one way every front-end and the worker reach Temporal: same address, namespace and data converter."""

import structlog
from opentelemetry.sdk.trace import TracerProvider
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import Runtime
from temporalio.service import RPCError, RPCStatusCode, TLSConfig

from core import tracing
from core.settings import Settings
from models import search_attributes

log = structlog.get_logger(__name__)


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
