"""The operations dashboard and its Prometheus, checked without Grafana or a Docker engine: the dashboard parses and
every query is PromQL Prometheus accepts, Prometheus's own checker (`promtool`, Debian's `prometheus` package, which
.ci/run installs) accepts the scrape configuration, and the compose file's `monitoring` profile runs both with these
files. That every metric the queries use is served is tests/workers/test_dashboard_metrics.py's."""

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from core.settings import Settings
from tests.deploy.dashboard import DASHBOARD, DATASOURCE, ROOT, SCRAPE_CONFIG, dashboard, panels, queries
from tests.deploy.test_compose import services


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("promtool")
    if binary is None:
        pytest.fail("promtool is not installed: `apt-get install -y prometheus` (.ci/run does it)")
    return subprocess.run([binary, *args], capture_output=True, text=True, check=False)


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def test_promtool_accepts_the_scrape_configuration() -> None:
    """`promtool check config` accepts deploy/prometheus/prometheus.yml, the file the compose file mounts."""
    result = _promtool("check", "config", str(SCRAPE_CONFIG))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr


def test_prometheus_scrapes_every_worker_and_the_api_on_their_metrics_ports() -> None:
    """The worker's job finds each worker by its compose name (scaled workers included) on CAPA_METRICS_PORT's
    default, the API's on CAPA_API_METRICS_PORT's; the dashboard's job names are these."""
    jobs = {job["job_name"]: job for job in _yaml(SCRAPE_CONFIG)["scrape_configs"]}
    defaults = Settings.model_fields
    wanted = {
        "capaflow-worker": ("worker", defaults["metrics_port"].default),
        "capaflow-api": ("api", defaults["api_metrics_port"].default),
    }
    for job_name, (service, port) in wanted.items():
        (discovery,) = jobs[job_name]["dns_sd_configs"]
        assert (discovery["names"], discovery["type"], discovery["port"]) == ([service], "A", port)
        assert service in services()
    named = {job for query in queries() for job in re.findall(r'job="([^"]+)"', query.expr)}
    assert named, "no panel shows whether the workers are up"
    assert named <= set(jobs)


def test_dashboard_parses_and_every_panel_queries_the_provisioned_prometheus() -> None:
    """The dashboard is Grafana JSON with a uid, panels with unique ids inside the 24-column grid, each with at least
    one query on the data source the provisioning file makes."""
    board = dashboard()
    assert (board["uid"], board["title"]) == ("capaflow", "capaflow")
    (source,) = _yaml(DATASOURCE)["datasources"]
    assert (source["type"], source["url"]) == ("prometheus", "http://prometheus:9090")
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids))
    assert len(panels()) >= 10
    for panel in panels():
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        assert panel["datasource"] == {"type": "prometheus", "uid": source["uid"]}, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["expr"].strip(), panel["title"]
            assert target["datasource"]["uid"] == source["uid"], panel["title"]


def test_every_query_is_promql_prometheus_accepts(tmp_path: Path) -> None:
    """Each panel's query, as a recording rule, passes `promtool check rules` (Prometheus's own PromQL parser)."""
    rules = [{"record": f"capaflow:dashboard:{n}", "expr": query.promql()} for n, query in enumerate(queries())]
    path = tmp_path / "dashboard-rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = _promtool("check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(rules)} rules found" in result.stdout


def test_the_monitoring_profile_runs_prometheus_and_grafana_with_these_files() -> None:
    """Prometheus and Grafana start only with `--profile monitoring`; they mount the scrape configuration, the
    data source, the dashboard provider and the dashboard from deploy/; Grafana's dashboard folder is where the
    provider reads."""
    prometheus, grafana = services()["prometheus"], services()["grafana"]
    for service in (prometheus, grafana):
        assert service["profiles"] == ["monitoring"]
    for name in ("postgresql", "temporal", "worker", "api"):
        assert "profiles" not in services()[name], name

    def mounts(service: dict[str, Any]) -> dict[Path, str]:
        found = {}
        for volume in service["volumes"]:
            source, target, *_ = str(volume).split(":")
            if source.startswith("/"):
                found[Path(source).resolve()] = target
        return found

    assert mounts(prometheus) == {SCRAPE_CONFIG: "/etc/prometheus/prometheus.yml"}
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]
    grafana_files = mounts(grafana)
    provider = _yaml(ROOT / "deploy" / "grafana" / "dashboards.yml")["providers"][0]
    assert Path(grafana_files[DASHBOARD]).parent == Path(provider["options"]["path"])
    assert grafana_files[DATASOURCE].startswith("/etc/grafana/provisioning/datasources/")
    assert grafana_files[ROOT / "deploy" / "grafana" / "dashboards.yml"].startswith(
        "/etc/grafana/provisioning/dashboards/"
    )


def test_grafana_and_prometheus_are_published_on_loopback_only() -> None:
    """Neither has capaflow's sign-in in front of it: both are reachable from the host's loopback alone."""
    for name, port in (("grafana", "3000"), ("prometheus", "9090")):
        (published,) = services()[name]["ports"]
        host, host_port, target = str(published).removesuffix("/tcp").split(":")
        assert (host, host_port, target) == ("127.0.0.1", port, port), name


def test_ci_installs_promtool() -> None:
    """.ci/run installs Debian's prometheus package (promtool) when it is missing, as it does chromium."""
    script = (ROOT / ".ci" / "run").read_text()
    assert "command -v promtool" in script
    assert "apt-get install -y -qq --no-install-recommends prometheus" in script
