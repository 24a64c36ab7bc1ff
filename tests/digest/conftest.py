from collections.abc import AsyncIterator

import pytest_asyncio
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from client.temporal import ensure_search_attributes
from models import search_attributes
from tests.conftest import TEMPORAL_CLI, TEST_SERVER


@pytest_asyncio.fixture
async def env() -> AsyncIterator[WorkflowEnvironment]:
    """A fresh time-skipping server per test: the days until steps fall overdue pass in milliseconds."""
    async with await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(TEST_SERVER), data_converter=pydantic_data_converter
    ) as environment:
        await ensure_search_attributes(environment.client)
        yield environment


@pytest_asyncio.fixture(scope="session")
async def dev_server() -> AsyncIterator[WorkflowEnvironment]:
    """A real dev server, which (unlike the time-skipping one) runs Temporal Schedules."""
    async with await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(TEMPORAL_CLI),
        search_attributes=search_attributes.KEYS,
        namespace="default",
        ip="127.0.0.1",
        data_converter=pydantic_data_converter,
    ) as environment:
        yield environment
