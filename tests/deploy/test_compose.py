"""docker-compose.yml and the Dockerfile, checked without a Docker engine.

The compose file is parsed and validated by a real Compose implementation: Debian's ``docker-compose`` (1.29.2),
whose ``config`` command validates against the Compose schema, resolves ``${VAR:-default}``, YAML anchors and
merge keys, and prints the normalised file without needing an engine. It accepts everything this file uses,
``depends_on`` conditions included (``service_completed_successfully`` since 1.29). ``.ci/run`` installs it; a
machine without it fails these tests rather than skipping them.
"""

import json
import os
import re
import shutil
import subprocess
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from pydantic import AliasChoices

from core.settings import Settings
from models import search_attributes

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
ALL_INTERFACES = "0.0.0.0"  # noqa: S104 - what the compose file must say, not a binding
DOCKERFILE = ROOT / "Dockerfile"
CAPAFLOW_SERVICES = ("migrate", "worker", "api")
BACKSLASH = "\\"
COMPILERS = ("build-essential", "gcc", "g++", "clang", "make", "cc", "libc6-dev", "python3-dev")

# Normalised YAML to JSON, every scalar kept as the string Compose printed (BaseLoader: `07:00` stays a time of
# day, not YAML 1.1's sexagesimal 420). PyYAML is a dependency of docker-compose itself, so the interpreter that
# runs docker-compose has it.
_TO_JSON = "import json, sys, yaml; json.dump(yaml.load(sys.stdin, Loader=yaml.BaseLoader), sys.stdout)"


def _compose_binary() -> str:
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.fail("docker-compose is not installed: `apt-get install -y docker-compose` (.ci/run does it)")
    return binary


def _compose_python(binary: str) -> str:
    """The interpreter docker-compose runs on, named by its script's first line."""
    first_line = Path(binary).read_bytes().split(b"\n", 1)[0].decode(errors="replace")
    if not first_line.startswith("#!") or "python" not in first_line:
        pytest.fail(f"{binary} is not the Python docker-compose (Debian's package); cannot load its output")
    return first_line[2:].strip().split()[0]


def _run(args: list[str], stdin: str | None = None) -> str:
    # Only PATH and HOME: nothing from the developer's shell may change what ${VAR:-default} resolves to.
    env = {name: os.environ[name] for name in ("PATH", "HOME") if name in os.environ}
    result = subprocess.run(args, cwd=ROOT, env=env, input=stdin, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        pytest.fail(f"{' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
    return result.stdout


@cache
def compose() -> dict[str, Any]:
    """The compose file as docker-compose resolves it, with its demo defaults."""
    binary = _compose_binary()
    normalised = _run([binary, "--file", str(COMPOSE_FILE), "config"])
    loaded: dict[str, Any] = json.loads(_run([_compose_python(binary), "-c", _TO_JSON], stdin=normalised))
    return loaded


def services() -> dict[str, dict[str, Any]]:
    result: dict[str, dict[str, Any]] = compose()["services"]
    return result


def known_environment_names() -> set[str]:
    """Every variable the settings class reads: its aliases, or CAPA_ plus the field name."""
    prefix = Settings.model_config.get("env_prefix", "")
    names: set[str] = set()
    for field_name, field in Settings.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names.update(str(choice).upper() for choice in alias.choices if isinstance(choice, str))
        elif isinstance(alias, str):
            names.add(alias.upper())
        else:
            names.add(f"{prefix}{field_name}".upper())
    return names


def dockerfile_stages() -> list[list[str]]:
    """The Dockerfile's instructions (continuation lines joined, comments dropped), one list per FROM."""
    instructions: list[str] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        pending = f"{pending} {line.removesuffix(BACKSLASH).strip()}".strip()
        if not line.endswith("\\"):
            instructions.append(pending)
            pending = ""
    stages: list[list[str]] = []
    for instruction in instructions:
        if instruction.upper().startswith("FROM "):
            stages.append([])
        if stages:
            stages[-1].append(instruction)
    return stages


def test_compose_file_is_valid_for_a_real_compose_parser() -> None:
    """docker-compose validates the file against the Compose schema and names every service the product needs."""
    _run([_compose_binary(), "--file", str(COMPOSE_FILE), "config", "--quiet"])
    assert set(services()) == {
        "postgresql",
        "temporal-schema",
        "temporal",
        "temporal-setup",
        "temporal-ui",
        "migrate",
        "worker",
        "api",
        # The `monitoring` profile's (docker compose --profile monitoring up): tests/deploy/test_monitoring.py.
        "prometheus",
        "grafana",
    }


def test_every_image_is_pinned_to_an_explicit_version() -> None:
    """No service runs :latest or an untagged image; every tag names a version number."""
    for name, service in services().items():
        image = service.get("image")
        assert image, f"{name} has no image"
        repository, _, tag = image.rpartition(":")
        assert repository, f"{name}: {image} has no tag"
        assert "/" not in tag, f"{name}: {image} has no tag"
        assert tag != "latest", f"{name}: {image} is not pinned"
        assert re.match(r"v?\d+\.\d+", tag), f"{name}: {image} does not name an explicit version"


def test_capaflow_image_is_built_here_and_tagged_with_the_project_version() -> None:
    """migrate and worker share one image, built from this Dockerfile and tagged with pyproject's version."""
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    for name in CAPAFLOW_SERVICES:
        service = services()[name]
        assert service["image"] == f"capaflow:{version}", name
        assert Path(service["build"]["context"]).resolve() == ROOT, name
    assert services()["worker"]["command"] == ["capa", "worker"]
    assert services()["migrate"]["command"] == ["capa", "db", "upgrade"]


def test_api_serves_on_port_8000_and_is_health_checked_on_healthz() -> None:
    """The web app and API listen on all interfaces in the container, publish 8000, and report /healthz."""
    api = services()["api"]
    assert api["command"] == ["capa", "api", "--host", "0.0.0.0", "--port", "8000"]  # noqa: S104
    assert [(port["published"], port["target"]) for port in api["ports"]] == [("8000", "8000")]
    assert "http://127.0.0.1:8000/healthz" in " ".join(api["healthcheck"]["test"])
    assert any(volume.split(":")[1] == "/app/.data" for volume in api["volumes"])


def test_metrics_listen_where_the_compose_network_can_scrape_them() -> None:
    """Outside a container the metrics endpoints stay on loopback; in compose, the worker's and the API's listen
    on every interface of their container, so a Prometheus on the compose network reaches them."""
    for name in ("worker", "api"):
        assert services()[name]["environment"]["CAPA_METRICS_HOST"] == ALL_INTERFACES, name


def test_worker_can_be_scaled() -> None:
    """The worker has neither a container_name nor host ports, so `--scale worker=N` can start N of them."""
    worker = services()["worker"]
    assert "container_name" not in worker
    assert "ports" not in worker


@pytest.mark.parametrize(
    ("service", "dependency", "condition"),
    [
        ("temporal-schema", "postgresql", "service_healthy"),
        ("temporal", "temporal-schema", "service_completed_successfully"),
        ("temporal-setup", "temporal", "service_healthy"),
        ("temporal-ui", "temporal", "service_healthy"),
        ("migrate", "postgresql", "service_healthy"),
        ("worker", "migrate", "service_completed_successfully"),
        ("worker", "temporal-setup", "service_completed_successfully"),
        ("api", "migrate", "service_completed_successfully"),
        ("api", "temporal-setup", "service_completed_successfully"),
    ],
)
def test_start_order(service: str, dependency: str, condition: str) -> None:
    """Each service waits for what it needs, in the order postgresql, schema, server, setup, migrate, worker."""
    assert services()[service]["depends_on"][dependency] == {"condition": condition}


def test_services_waited_on_as_healthy_have_health_checks_and_jobs_run_once() -> None:
    """A service_healthy dependency has a healthcheck; a service_completed_successfully one is never restarted."""
    for service in services().values():
        for dependency, wanted in service.get("depends_on", {}).items():
            target = services()[dependency]
            if wanted["condition"] == "service_healthy":
                assert target.get("healthcheck", {}).get("test"), f"{dependency} has no healthcheck"
            if wanted["condition"] == "service_completed_successfully":
                assert target.get("restart", "no") == "no", f"{dependency} is a one-shot job but restarts"
    assert "pg_isready" in services()["postgresql"]["healthcheck"]["test"]


def test_temporal_runs_on_postgresql_with_the_plain_server_image() -> None:
    """The server is temporalio/server (not the deprecated auto-setup) on the two PostgreSQL databases."""
    temporal = services()["temporal"]
    assert temporal["image"].startswith("temporalio/server:")
    environment = temporal["environment"]
    assert environment["DB"] == "postgres12"
    assert environment["POSTGRES_SEEDS"] == "postgresql"
    assert (environment["DBNAME"], environment["VISIBILITY_DBNAME"]) == ("temporal", "temporal_visibility")
    assert services()["temporal-schema"]["environment"]["SQL_PLUGIN"] == "postgres12"
    for job in ("temporal-schema", "temporal-setup"):
        assert services()[job]["image"].startswith("temporalio/admin-tools:")
        assert services()[job]["image"].rpartition(":")[2] == temporal["image"].rpartition(":")[2]


def test_every_mounted_file_exists_in_the_repository() -> None:
    """Each script and config file the compose file mounts from the repository is there."""
    mounted = 0
    for name, service in services().items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("/"):
                assert Path(source).is_file(), f"{name} mounts {source}, which does not exist"
                assert Path(source).resolve().is_relative_to(ROOT), f"{name} mounts {source} from outside"
                mounted += 1
    assert mounted >= 4


def test_setup_job_registers_every_search_attribute_the_workflow_sets() -> None:
    """temporal-setup registers CapaStage, CapaSeverity, CapaOwner (Keyword) and CapaDueAt (Datetime)."""
    script = (ROOT / "deploy" / "temporal" / "setup.sh").read_text()
    registered = dict(re.findall(r"^register (\w+) (\w+)$", script, flags=re.MULTILINE))
    wanted = {
        key.name: key.indexed_value_type.name.removeprefix("INDEXED_VALUE_TYPE_") for key in search_attributes.KEYS
    }
    assert {name: kind.upper() for name, kind in registered.items()} == wanted
    assert set(wanted) == {"CapaStage", "CapaSeverity", "CapaOwner", "CapaDueAt"}


def test_capaflow_services_set_only_variables_the_settings_class_knows() -> None:
    """Every environment variable set on migrate and worker is one core.settings.Settings reads."""
    known = known_environment_names()
    for name in CAPAFLOW_SERVICES:
        unknown = set(services()[name]["environment"]) - known
        assert not unknown, f"{name} sets variables the settings class ignores: {sorted(unknown)}"


def test_capaflow_environment_is_accepted_by_the_settings_class(monkeypatch: pytest.MonkeyPatch) -> None:
    """The values the compose file gives the worker (its defaults) pass the settings' validation at start."""
    for name in known_environment_names():
        monkeypatch.delenv(name, raising=False)
    environment = services()["worker"]["environment"]
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.temporal_address == "temporal:7233"
    assert settings.temporal_namespace == environment["TEMPORAL_NAMESPACE"]
    assert settings.sqlalchemy_url.startswith("postgresql+psycopg://capaflow:")
    assert settings.sqlalchemy_url.endswith("@postgresql:5432/capaflow")
    assert services()["migrate"]["environment"] == environment


def test_dockerfile_final_stage_is_slim_and_unprivileged() -> None:
    """The image is multi-stage; its final stage runs as a non-root USER and installs no compiler."""
    stages = dockerfile_stages()
    assert len(stages) >= 2, "the Dockerfile has no separate builder stage"
    final = stages[-1]
    users = [instruction.split(None, 1)[1].strip() for instruction in final if instruction.upper().startswith("USER ")]
    assert users, "the final stage sets no USER"
    assert users[-1].split(":")[0] not in ("root", "0"), f"the final stage runs as {users[-1]}"
    text = " ".join(final).lower()
    for compiler in COMPILERS:
        assert not re.search(rf"(?<![\w.-]){re.escape(compiler)}(?![\w.-])", text), f"final stage has {compiler}"
    assert any(instruction.upper().startswith("COPY --FROM=") for instruction in final), "nothing from the builder"
    assert re.search(r"build-essential|gcc", " ".join(stages[0])), "the builder stage has no build tools"


def test_dockerfile_default_command_is_the_worker() -> None:
    """`docker run capaflow` starts `capa worker`, as PID 1 (exec form) so SIGTERM reaches it."""
    final = dockerfile_stages()[-1]
    commands = [instruction for instruction in final if instruction.upper().startswith("CMD ")]
    assert json.loads(commands[-1].split(None, 1)[1]) == ["capa", "worker"]


def test_the_temporal_ui_is_published_on_loopback_only() -> None:
    """The Temporal UI has no sign-in and can end workflows outside the record's rules: it is published on the
    host's loopback alone, never on every interface."""
    ports = services()["temporal-ui"]["ports"]
    assert len(ports) == 1
    host, published, target = str(ports[0]).removesuffix("/tcp").split(":")
    assert (host, published, target) == ("127.0.0.1", "8233", "8233")


def test_evidence_files_are_kept_in_a_named_volume_the_api_and_workers_share() -> None:
    """CAPA_FILES_DIR is the mount point of one named volume on the api and on every worker, owned in the image by
    the user the containers run as."""
    files_dir = services()["api"]["environment"]["CAPA_FILES_DIR"]
    for name in ("api", "worker"):
        mounts = [str(volume) for volume in services()[name]["volumes"]]
        assert any(mount.startswith("capa-files:") and mount.split(":")[1] == files_dir for mount in mounts), name
    assert "capa-files" in compose()["volumes"]
    assert f"chown capaflow:capaflow /app/.data {files_dir}" in DOCKERFILE.read_text()
