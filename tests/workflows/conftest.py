import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from client.temporal import ensure_search_attributes
from tests.conftest import TEST_SERVER
from tests.workflows.harness import STARTED

HISTORIES = Path(__file__).parent.parent / "replay" / "histories"


@pytest_asyncio.fixture
async def env(request: pytest.FixtureRequest) -> AsyncIterator[WorkflowEnvironment]:
    """A fresh time-skipping server per test: timers of days fire in milliseconds."""
    async with await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(TEST_SERVER), data_converter=pydantic_data_converter
    ) as environment:
        await ensure_search_attributes(environment.client)
        STARTED.clear()
        yield environment
        if os.environ.get("CAPA_RECORD_HISTORIES") == "1":
            # Refresh the committed histories that tests/replay replays against the current workflow code.
            for number, handle in enumerate(STARTED, start=1):
                history = await handle.fetch_history()
                (HISTORIES / f"{request.node.name}-{number}.json").write_text(history.to_json())
