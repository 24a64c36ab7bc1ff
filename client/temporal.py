"""The one way every front-end and the worker reach Temporal: same address, namespace and data converter."""

import structlog
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError, RPCStatusCode

from core.settings import Settings
from models import search_attributes

log = structlog.get_logger(__name__)


async def connect(settings: Settings, *, lazy: bool = False) -> Client:
    """Connect to Temporal; ``lazy`` waits for the first call, for front-ends that may not need the server."""
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=pydantic_data_converter,
        lazy=lazy,
    )


def is_unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` says the Temporal server could not be reached at all.

    The SDK reports a failed connection as a plain RuntimeError (recognisable only by its message) and a
    connection lost mid-call as an RPCError with status UNAVAILABLE.
    """
    if isinstance(exc, RPCError):
        return exc.status is RPCStatusCode.UNAVAILABLE
    return isinstance(exc, RuntimeError) and str(exc).startswith("Failed client connect")


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
