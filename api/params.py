"""Path and query parameters the API's routes share: record ids, paging."""

from typing import Annotated

import structlog
from fastapi import Depends, Path, Query

from models.payloads import RECORD_ID_PATTERN

# Beyond this a database's OFFSET overflows; no list is anywhere near it.
MAX_OFFSET = 1_000_000_000
# Row ids are 64-bit integers in every database the read model runs on.
MAX_ROW_ID = 2**63 - 1

Limit = Annotated[int, Query(ge=1, le=200, description="At most this many items")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Skip this many items")]
RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]


def _record_id(
    record_id: Annotated[
        str, Path(pattern=RECORD_ID_PATTERN, description="The record's id", examples=["NC-2026-0001"])
    ],
) -> str:
    """The record a route acts on, bound to every log line of the request."""
    structlog.contextvars.bind_contextvars(record_id=record_id, workflow_id=record_id)
    return record_id


RecordId = Annotated[str, Depends(_record_id)]
