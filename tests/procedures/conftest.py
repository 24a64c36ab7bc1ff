"""The product stack for the procedure-pinning tests through the API: one per test module, raising records under
the current rules and SOP-QA-014 rev C."""

from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from models.policy import CURRENT_RULES
from tests.api.flow import Api
from tests.policies import uniform_policy
from tests.stack import Stack, running_stack

PROCEDURE_C = '\n[procedure]\ndocument = "SOP-QA-014"\nrevision = "C"\neffective = 2026-11-01\n'
POLICY_C = (
    uniform_policy("2026-11", remind_before=["30m"], escalate_after=["0s", "1h"], rules=CURRENT_RULES) + PROCEDURE_C
)
POLICY_D = POLICY_C.replace('name = "2026-11"', 'name = "2026-12"').replace('revision = "C"', 'revision = "D"')


@pytest_asyncio.fixture(scope="module")
async def stack(dev_server: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    async with running_stack(dev_server, tmp_path_factory.mktemp("procedures"), policy=POLICY_C) as running:
        yield running


@pytest_asyncio.fixture(scope="module")
async def api(stack: Stack) -> AsyncIterator[Api]:
    transport = httpx.ASGITransport(app=stack.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield Api(http, stack)
