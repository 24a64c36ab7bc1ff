"""The files under test through the whole product: one stack per test module, the API client and browsers."""

from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from tests.api.flow import POLICY, Api
from tests.stack import Stack, running_stack

# Small, so a test can go past it: 1 MB per file.
MAX_FILE_MB = 1


@pytest_asyncio.fixture(scope="module")
async def stack(dev_server: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    async with running_stack(
        dev_server, tmp_path_factory.mktemp("files"), policy=POLICY, max_file_mb=MAX_FILE_MB
    ) as running:
        yield running


@pytest_asyncio.fixture(scope="module")
async def api(stack: Stack) -> AsyncIterator[Api]:
    transport = httpx.ASGITransport(app=stack.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield Api(http, stack)
