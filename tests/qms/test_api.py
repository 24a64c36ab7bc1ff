"""QMS update actions through the HTTP API: a plan with a training action and its details, training recorded per
person through POST /records/{id}/actions/{action}/training, the record view carrying the details; and what a
careless or hostile client gets back (the field named)."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from tests.api.flow import POLICY, Api, later
from tests.stack import running_stack


@pytest_asyncio.fixture(scope="module")
async def api(dev_server: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Api]:
    async with running_stack(dev_server, tmp_path_factory.mktemp("qms-api"), policy=POLICY) as stack:
        transport = httpx.ASGITransport(app=stack.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield Api(http, stack)


def _plan(kind: str = "training", **details: Any) -> dict[str, Any]:
    training = {"course": "WI-7 torque check", "audience": ["oscar", "otto"], "threshold_percent": 100} | details
    return {
        "actions": [
            {
                "description": "Train the line",
                "owner": "oscar",
                "due_at": later(days=5),
                "kind": kind,
                "details": training,
            }
        ],
        "affected_documents": ["WI-7 rev C"],
    }


async def test_hostile_plans_are_refused_naming_the_field(api: Api) -> None:
    record_id = await api.record_at("action")
    unknown = await api.step("olivia", record_id, "plan", _plan(kind="pep-talk"))
    assert unknown.status_code == 422, unknown.text
    assert "kind" in unknown.text
    for threshold in (0, 150):
        bad = await api.step("olivia", record_id, "plan", _plan(threshold_percent=threshold))
        assert bad.status_code == 422, bad.text
        assert "threshold_percent" in bad.text
    no_course = await api.step("olivia", record_id, "plan", _plan(course=None))
    assert no_course.status_code == 422, no_course.text
    assert "actions.0.details.course" in no_course.text


async def test_training_is_recorded_per_person_and_shown_in_the_record(api: Api) -> None:
    record_id = await api.record_at("action")
    planned = await api.step("olivia", record_id, "plan", _plan())
    assert planned.status_code == 200, planned.text
    path = f"/records/{record_id}/actions/A1/training"
    outsider = await api.call("oscar", "POST", path, {"people": ["paul"]})
    assert outsider.status_code == 422, outsider.text
    assert "people" in outsider.text
    assert "paul" in outsider.text
    await api.ok("oscar", "POST", path, {"people": ["oscar"]})
    state = await api.record(record_id)
    action = state["actions"][0]
    assert action["kind"] == "training"
    assert action["details"]["completions"] == ["oscar"]
    assert state["affected_documents"] == ["WI-7 rev C"]
