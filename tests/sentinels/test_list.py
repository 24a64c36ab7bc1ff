"""``capa sentinels list`` / ``GET /api/v1/sentinels`` read the running sentinels (a real dev server: visibility)."""

import asyncio
import uuid

from sqlalchemy import Engine
from temporalio.testing import WorkflowEnvironment

from client.sentinels import SentinelRow, list_sentinels
from models.enums import Severity
from models.sentinels import SentinelRule
from tests.policies import EARLIER
from tests.workflows.harness import raise_record, running_worker


async def test_each_watched_key_is_listed_with_its_count_and_linked_capa(
    dev_server: WorkflowEnvironment, engine: Engine
) -> None:
    name = f"t-{uuid.uuid4().hex[:12]}"
    rule = SentinelRule.model_validate(
        {"name": name, "match": ["product", "defect_code"], "count": 2, "window": "30d", "owner": "olivia"}
    )
    client = dev_server.client
    async with running_worker(client, engine, EARLIER.model_copy(update={"sentinels": [rule]})) as queue:
        for _ in range(2):
            capa = await raise_record(client, queue, severity=Severity.MINOR, product="P-1", defect_code="DENT")
            await capa.activities_done()
        mine: list[SentinelRow] = []
        for _ in range(200):
            mine = [row for row in await list_sentinels(client) if row.rule == name]
            if mine and mine[0].linked is not None:
                break
            await asyncio.sleep(0.1)
    [row] = mine
    assert row.key == {"product": "P-1", "defect_code": "DENT"}
    assert row.count == 2
    assert row.threshold == 2
    assert row.window_days == 30
    assert row.linked is not None
    assert row.last_fired is not None
