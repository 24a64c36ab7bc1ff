"""The web app under test: one product stack per test module, and browsers (cookie jars) signed in as anyone."""

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from tests.stack import Stack, running_stack
from tests.web.pages import POLICY


@pytest_asyncio.fixture(scope="module")
async def stack(dev_server: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    async with running_stack(dev_server, tmp_path_factory.mktemp("web"), policy=POLICY) as running:
        yield running
