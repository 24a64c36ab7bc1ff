"""Each figure's chart is an SVG drawn by matplotlib whose labels stay text and which carries no script."""

import xml.etree.ElementTree as ET

import pytest
from sqlalchemy import Engine

from api.web.charts import draw
from client.stats import FIGURES, Figure, figure
from core.stats import StatsFilter, compute
from tests.stats.fixture import NOW, march_and_april, write_fixture

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def tables(engine: Engine) -> dict[str, Figure]:
    write_fixture(engine)
    result = compute(engine, StatsFilter(**march_and_april()), now=NOW)
    return {name: figure(result, name) for name in FIGURES}


@pytest.mark.parametrize("name", list(FIGURES))
def test_every_chart_is_svg_with_its_labels_as_text(tables: dict[str, Figure], name: str) -> None:
    """The chart parses as SVG, has no script, and names what it counts in text elements (a stage, a cause, a
    person), so it reads and searches like the page around it."""
    svg = draw(tables[name])

    root = ET.fromstring(svg)  # noqa: S314 - our own drawing, parsed to check it
    assert root.tag == f"{SVG}svg"
    assert not list(root.iter(f"{SVG}script"))
    texts = " ".join("".join(t.itertext()) for t in root.iter(f"{SVG}text"))
    expected = {
        "opened-closed": "2026-03",
        "cycle-time": "Root cause",
        "rates": "Actions on time",
        "ageing": "8-30 d",
        "pareto-cause": "method",
        "pareto-source": "customer-complaint",
        "pareto-product": "P1",
        "pareto-escape": "final inspection",
        "open-work": "oscar",
    }
    assert expected[name] in texts
