"""The web app under test: one product stack per test module, browsers (cookie jars) signed in as anyone, and
for the browser tests the app served over real HTTP and Debian's Chromium."""

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from tests.stack import Stack, running_stack
from tests.web.chromium import base_url, chromium
from tests.web.pages import POLICY

__all__ = ["base_url", "chromium"]


@pytest_asyncio.fixture(scope="module")
async def stack(dev_server: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    async with running_stack(dev_server, tmp_path_factory.mktemp("web"), policy=POLICY) as running:
        yield running
