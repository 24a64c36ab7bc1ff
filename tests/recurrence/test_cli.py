"""The effectiveness window's data through `capa show`, the record page and
`GET /api/v1/records/{id}/effectiveness-window`: a nonconformity raised on a product a criterion watches, during the
window, is counted beside that criterion."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from tests.cli.conftest import Capa, eventually, serving
from tests.policies import uniform_policy
from tests.stack import Stack, running_stack
from tests.web.pages import browser

# A window of an hour: the new raise falls well inside it.
POLICY = uniform_policy("recurrence-cli", effectiveness_after="1h", remind_before=["30m"], escalate_after=["1h"])
CRITERION = "measure=H-210 rejects,baseline=1 %,threshold=0,source=QC-DB,days=30,products=H-210"


@pytest_asyncio.fixture(scope="module")
async def stack(dev_server: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    async with running_stack(dev_server, tmp_path_factory.mktemp("recurrence"), policy=POLICY) as running:
        yield running


@pytest_asyncio.fixture(scope="module")
async def capa(
    dev_server: WorkflowEnvironment, stack: Stack, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Capa]:
    async with serving(stack.app) as url:
        yield Capa(dev_server, stack.settings, stack.engine, url, tmp_path_factory.mktemp("config"))


async def _raised(capa: Capa, product: str) -> str:
    run = await capa.ok(
        "raise",
        "--title",
        "Burr on housing edge",
        "--description",
        "Found at final inspection, station 4",
        "--severity",
        "major",
        "--source",
        "inspection",
        "--owner",
        "olivia",
        "--product",
        product,
        user="otto",
    )
    return run.out.strip()


async def test_show_and_the_api_count_a_watched_products_raise_beside_its_criterion(capa: Capa, stack: Stack) -> None:
    record_id = await _raised(capa, "H-200")
    await capa.ok("contain", record_id, "--summary", "Lot quarantined", "--disposition", "quarantine", user="olivia")
    await capa.ok("root-cause", record_id, "--method", "fishbone", "--cause", "Worn deburring tool", user="olivia")
    await capa.ok("plan", record_id, "--action", "olivia:10d:Replace tool", "--criterion", CRITERION, user="olivia")
    await capa.ok("complete-action", record_id, "A1", "--evidence", "WO-1", user="olivia")
    await capa.ok("verify", record_id, "--result", "pass", "--evidence", "Checked", user="mike")
    shown = await capa.show(record_id)
    assert shown["criteria"][0]["products"] == ["H-210"]
    await _raised(capa, "H-999")  # watched by no criterion: adds nothing
    new_id = await _raised(capa, "H-210")

    async def recorded() -> list[dict[str, Any]]:
        events = (await capa.show(record_id))["events"]
        return [event for event in events if event["kind"] == "recurrence_detected"]

    [entry] = await eventually(recorded)
    assert entry["details"]["record_ids"] == [new_id]
    assert entry["details"]["criteria"] == [1]
    table = (await capa.ok("show", record_id, user="maria")).out
    assert "Effectiveness window" in table
    assert new_id in table

    transport = httpx.ASGITransport(app=stack.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        response = await http.get(f"/api/v1/records/{record_id}/effectiveness-window", headers=stack.bearer("maria"))
    assert response.status_code == 200, response.text
    window = response.json()
    assert window["start"] is not None
    [criterion] = window["criteria"]
    assert (criterion["number"], criterion["measure"], criterion["count"]) == (1, "H-210 rejects", 1)
    assert [seen["record_id"] for seen in criterion["seen"]] == [new_id]

    async with browser(stack, "maria") as person:
        page = await person.get(f"/records/{record_id}")
    assert page.status_code == 200
    assert "Effectiveness window" in page.text
    assert f'href="/records/{new_id}"' in page.text


async def test_the_plan_form_names_the_products_a_criterion_watches(capa: Capa, stack: Stack) -> None:
    record_id = await _raised(capa, "H-200")
    await capa.ok("contain", record_id, "--summary", "Lot quarantined", "--disposition", "quarantine", user="olivia")
    await capa.ok("root-cause", record_id, "--method", "fishbone", "--cause", "Worn deburring tool", user="olivia")
    due = (datetime.now(UTC) + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")
    plan = {
        "description-1": "Replace tool",
        "owner-1": "olivia",
        "due-1": due,
        "measure-1": "H-210 rejects",
        "baseline-1": "1 %",
        "threshold-1": "0",
        "data_source-1": "QC-DB",
        "window_days-1": "30",
        "products-1": "H-210\nH-220\n",
    }
    async with browser(stack, "olivia") as olivia:
        sent = await olivia.step(record_id, "plan", **plan)
    assert sent.status_code == 303, sent.text
    shown = await capa.show(record_id)
    assert shown["criteria"][0]["products"] == ["H-210", "H-220"]
