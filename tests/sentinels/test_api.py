"""The sentinels through the product stack: two raises on one product fire the rule; ``GET /api/v1/sentinels``
and the ``/sentinels`` page show the key with its count, window and linked CAPA to quality, managers and admins."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from tests.policies import EARLIER_TOML
from tests.stack import Stack, running_stack
from tests.web.pages import browser

RULE = f"t-{uuid.uuid4().hex[:10]}"
PRODUCT = f"P-{uuid.uuid4().hex[:8]}"
POLICY = (
    EARLIER_TOML
    + f"""
[[sentinel]]
name = "{RULE}"
match = ["product"]
count = 2
window = "90d"
owner = "olivia"
"""
)


@pytest_asyncio.fixture(scope="module")
async def stack(dev_server: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    async with running_stack(dev_server, tmp_path_factory.mktemp("sentinels"), policy=POLICY) as running:
        yield running


async def _mine(http: httpx.AsyncClient, stack: Stack) -> list[dict[str, Any]]:
    response = await http.get("/api/v1/sentinels", headers=stack.bearer("quinn"))
    assert response.status_code == 200, response.text
    return [row for row in response.json() if row["rule"] == RULE]


async def test_a_fired_rule_is_listed_on_the_api_and_the_page(stack: Stack) -> None:
    async with browser(stack, "otto") as otto:
        for _ in range(2):
            raised = await otto.raise_record(product=PRODUCT)
            assert raised.status_code == 303, raised.text
    transport = httpx.ASGITransport(app=stack.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        rows: list[dict[str, Any]] = []
        for _ in range(300):
            rows = await _mine(http, stack)
            if rows and rows[0]["linked"]:
                break
            await asyncio.sleep(0.1)
        [row] = rows
        assert row["key"] == {"product": PRODUCT}
        assert row["count"] == 2
        assert row["window_days"] == 90
        refused = await http.get("/api/v1/sentinels", headers=stack.bearer("olivia"))
        assert refused.status_code == 403
    async with browser(stack, "maria") as maria:
        page = await maria.get("/sentinels")
        assert page.status_code == 200
        assert RULE in page.text
        assert row["linked"] in page.text
        assert 'href="/sentinels"' in page.text
    async with browser(stack, "olivia") as olivia:
        assert (await olivia.get("/sentinels")).status_code == 403
