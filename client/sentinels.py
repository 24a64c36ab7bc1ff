"""The recurrence sentinels running now, through the client layer: each watched key, its rule, how many occurrences
its window holds, the window, when it last fired and its linked CAPA (Temporal's visibility lists the sentinels;
each answers its ``state`` query)."""

from datetime import datetime

import structlog
from pydantic import BaseModel
from temporalio.client import Client
from temporalio.service import RPCError

from models.sentinels import SentinelState, pending

log = structlog.get_logger(__name__)

QUERY = "WorkflowType = 'SentinelWorkflow' AND ExecutionStatus = 'Running'"


class SentinelRow(BaseModel):
    """One watched key as lists show it."""

    id: str
    rule: str
    key: dict[str, str]
    count: int
    threshold: int
    window_days: int
    pending: int
    last_fired: datetime | None
    linked: str | None
    owner: str


def row_of(workflow_id: str, state: SentinelState) -> SentinelRow:
    return SentinelRow(
        id=workflow_id,
        rule=state.rule.name,
        key=state.facts,
        count=len(state.occurrences),
        threshold=state.rule.count,
        window_days=state.rule.window.days,
        pending=len(pending(state)),
        last_fired=state.last_fired,
        linked=state.linked,
        owner=state.rule.owner,
    )


async def list_sentinels(temporal: Client) -> list[SentinelRow]:
    """Every running sentinel, by rule then key."""
    rows = []
    async for execution in temporal.list_workflows(QUERY):
        try:
            state = await temporal.get_workflow_handle(execution.id).query("state", result_type=SentinelState)
        except RPCError as exc:
            log.info("sentinel did not answer", workflow_id=execution.id, actor="system", reason=str(exc))
            continue
        if state is not None:
            rows.append(row_of(execution.id, state))
    return sorted(rows, key=lambda row: (row.rule, row.id))
