from collections.abc import AsyncIterator

import pytest_asyncio
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from models import search_attributes
from tests.conftest import TEMPORAL_CLI


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
