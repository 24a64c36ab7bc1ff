"""QMS update actions through `capa`: record-training per person (someone outside the audience refused, naming
the field), complete-action --detail (an unknown detail refused, naming it), and `capa show` with the action's
details and training progress, in its table and its JSON."""

from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from tests.api.flow import BASE, later
from tests.cli.conftest import POLICY, Capa, serving
from tests.stack import Stack, running_stack


@pytest_asyncio.fixture(scope="module")
async def stack(dev_server: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    async with running_stack(dev_server, tmp_path_factory.mktemp("qms-cli"), policy=POLICY) as running:
        yield running


@pytest_asyncio.fixture(scope="module")
async def capa(
    dev_server: WorkflowEnvironment, stack: Stack, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Capa]:
    async with serving(stack.app) as url:
        yield Capa(dev_server, stack.settings, stack.engine, url, tmp_path_factory.mktemp("config"))


async def _planned(capa: Capa, stack: Stack) -> str:
    """A record whose plan (made through the API) has a training action A1 and a risk file action A2."""
    record_id = await capa.raise_record()
    await capa.ok("contain", record_id, "--summary", "Lot quarantined", "--disposition", "quarantine", user="olivia")
    await capa.ok("root-cause", record_id, "--method", "fishbone", "--cause", "Not trained on WI-7", user="olivia")
    training = {"course": "WI-7 torque check", "audience": ["oscar", "otto"], "threshold_percent": 100}
    plan = {
        "actions": [
            {
                "description": "Train",
                "owner": "oscar",
                "due_at": later(days=5),
                "kind": "training",
                "details": training,
            },
            {
                "description": "Risk file",
                "owner": "olivia",
                "due_at": later(days=5),
                "kind": "risk_file",
                "details": {},
            },
        ],
        "affected_documents": [],
        "no_documents_justification": "Training only",
    }
    transport = httpx.ASGITransport(app=stack.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        response = await http.post(f"{BASE}/records/{record_id}/plan", json=plan, headers=stack.bearer("olivia"))
    assert response.status_code == 200, response.text
    return record_id


async def test_record_training_and_completion_details_through_capa(capa: Capa, stack: Stack) -> None:
    record_id = await _planned(capa, stack)
    outsider = await capa("record-training", record_id, "A1", "--person", "paul", user="oscar")
    assert outsider.code != 0
    assert "people" in outsider.err
    assert "paul" in outsider.err
    await capa.ok("record-training", record_id, "A1", "--person", "oscar", user="oscar")
    unknown = await capa(
        "complete-action", record_id, "A2", "--evidence", "RF", "--detail", "colour=red", user="olivia"
    )
    assert unknown.code != 0
    assert "colour" in unknown.err
    await capa.ok(
        "complete-action", record_id, "A2", "--evidence", "RF updated", "--detail", "reference=RF-12", user="olivia"
    )
    shown = await capa.show(record_id)
    assert shown["actions"][0]["training_progress"] == "1 of 2 trained (50%), threshold 100%"
    assert shown["actions"][1]["details"]["reference"] == "RF-12"
    assert shown["no_documents_justification"] == "Training only"
    table = (await capa.ok("show", record_id, user="maria")).out
    assert "threshold 100%" in table
    assert "Affected QMS documents: none (Training only)" in table
