"""GET /api/v1/stats: the figures as JSON and one figure's table as CSV, for managers, quality and admins only."""

import csv
import io
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from tests.stack import Stack, running_stack
from tests.stats.fixture import write_fixture

PERIOD = {"since": "2026-03-01", "until": "2026-04-30"}


@pytest_asyncio.fixture(scope="module")
async def stack(dev_server: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    async with running_stack(dev_server, tmp_path_factory.mktemp("stats")) as running:
        write_fixture(running.engine)
        yield running


@pytest_asyncio.fixture(scope="module")
async def http(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=stack.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver/api/v1") as client:
        yield client


async def test_a_manager_reads_every_figure_as_a_table(stack: Stack, http: httpx.AsyncClient) -> None:
    """The JSON names each figure with its headings and rows: cycle time per stage and the rates as worked out."""
    response = await http.get("/stats", params=PERIOD, headers=stack.bearer("maria"))

    assert response.status_code == 200, response.text
    figures = {f["name"]: f for f in response.json()["figures"]}
    assert figures["cycle-time"]["rows"][1] == ["Root cause", 2, 9.5, 13.9]
    assert figures["rates"]["rows"][0] == ["Stage steps on time", 4, 5, 80.0]
    assert figures["opened-closed"]["rows"] == [["2026-03", 4, 1], ["2026-04", 0, 0]]


async def test_one_figure_downloads_as_csv(stack: Stack, http: httpx.AsyncClient) -> None:
    """Quality downloads the source Pareto as CSV: a named file whose rows are the figure's table."""
    params = PERIOD | {"figure": "pareto-source", "format": "csv"}
    response = await http.get("/stats", params=params, headers=stack.bearer("quinn"))

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert "capaflow-pareto-source-2026-03-01-2026-04-30.csv" in response.headers["content-disposition"]
    assert list(csv.reader(io.StringIO(response.text))) == [
        ["Source", "Records", "Cumulative (%)"],
        ["customer-complaint", "2", "50.0"],
        ["inspection", "2", "100.0"],
    ]


async def test_an_owner_may_not_read_the_figures(stack: Stack, http: httpx.AsyncClient) -> None:
    """The figures are for those who review the process: an owner is refused with 403."""
    response = await http.get("/stats", params=PERIOD, headers=stack.bearer("olivia"))

    assert response.status_code == 403


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"since": "2026-04-30", "until": "2026-03-01"}, "until"),
        ({"since": "March"}, "since"),
        ({"severity": "huge"}, "severity"),
        ({"figure": "pie"}, "figure"),
        ({"format": "csv"}, "figure"),
        ({"until": "9999-12-31"}, "until"),
        ({"product": "H-200\x00"}, "product"),
    ],
)
async def test_bad_values_are_refused_naming_the_field(
    stack: Stack, http: httpx.AsyncClient, params: dict[str, str], field: str
) -> None:
    """A period ending before it starts, a date that is none, an unknown class or figure, CSV without a figure:
    422 naming the field."""
    response = await http.get("/stats", params=params, headers=stack.bearer("maria"))

    assert response.status_code == 422, response.text
    assert [error["field"] for error in response.json()["errors"]] == [field]
