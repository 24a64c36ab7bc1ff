"""The Grafana dashboard in deploy/grafana, read as the tests need it: its panels' PromQL queries, and the metric
and label names each query uses."""

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "capaflow-dashboard.json"
DATASOURCE = ROOT / "deploy" / "grafana" / "datasource.yml"
SCRAPE_CONFIG = ROOT / "deploy" / "prometheus" / "prometheus.yml"

# Series Prometheus writes itself for each target, never served on a /metrics page.
PROMETHEUS_OWN = {"up"}
# Labels Prometheus adds to every series it scrapes.
TARGET_LABELS = {"job", "instance"}

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_MATCHERS = re.compile(r"\{([^}]*)\}")
_RANGE = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
_NAME = re.compile(r"(?<![\w:.$])([a-zA-Z_:][\w:]*)(?![\w:]|\s*\()")
_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool", "and", "or", "unless"}


@dataclass(frozen=True)
class Query:
    panel: str
    expr: str

    @property
    def metrics(self) -> set[str]:
        """The metric names the query selects (functions, keywords, labels and ranges left out)."""
        text = _STRING.sub('""', self.expr)
        text = _MATCHERS.sub("", text)
        text = _RANGE.sub("", text)
        text = _GROUPING.sub("", text)
        return {name for name in _NAME.findall(text) if name.lower() not in _KEYWORDS}

    @property
    def labels(self) -> set[str]:
        """The label names the query groups by or matches on."""
        text = _STRING.sub('""', self.expr)
        grouped = {name.strip() for group in _GROUPING.findall(text) for name in group.split(",") if name.strip()}
        matched = {
            m for group in _MATCHERS.findall(text) for m in re.findall(r"([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)", group)
        }
        return grouped | matched

    def promql(self) -> str:
        """The query as plain PromQL: Grafana's interval variables replaced by a duration."""
        return re.sub(r"\$__(?:rate_)?interval|\$__range", "5m", self.expr)


@cache
def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def panels() -> list[dict[str, Any]]:
    """Every panel, those inside collapsed rows included, rows themselves left out."""
    found = []
    for panel in dashboard()["panels"]:
        if panel["type"] == "row":
            found.extend(panel.get("panels", []))
        else:
            found.append(panel)
    return found


def queries() -> list[Query]:
    return [Query(panel["title"], target["expr"]) for panel in panels() for target in panel["targets"]]
