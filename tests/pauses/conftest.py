"""The product stack for the pause tests through the API, the CLI and the browser: one per test module."""

from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from tests.api.flow import POLICY, Api
from tests.stack import Stack, running_stack


@pytest_asyncio.fixture(scope="module")
async def stack(dev_server: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    async with running_stack(dev_server, tmp_path_factory.mktemp("pauses"), policy=POLICY) as running:
        yield running


@pytest_asyncio.fixture(scope="module")
async def api(stack: Stack) -> AsyncIterator[Api]:
    transport = httpx.ASGITransport(app=stack.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield Api(http, stack)
