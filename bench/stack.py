"""What the bench runs on: its own Temporal dev server, worker processes and HTTP API, on free ports, in a temp dir.

Nothing here is shared with ``make run`` or the tests: the server keeps its state in the run's own SQLite file,
and every process the bench starts it also stops, by its own handle. Beside the product's worker runs the
skeleton's (``bench.worker``), and the bench measures the memory and CPU time of each process.
"""

import contextlib
import os
import platform
import secrets
import subprocess
import sys
from pathlib import Path

import psutil  # type: ignore[import-untyped]  # no stubs are installed; three calls are used
from temporalio.client import Client

from core import devstack
from core.devstack import DevServer, Process, venv_tool


def rss_bytes(pid: int) -> int:
    """Resident memory of a process and its children."""
    process = psutil.Process(pid)
    total: int = process.memory_info().rss
    for child in process.children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):
            total += child.memory_info().rss
    return total


def cpu_seconds(pid: int) -> float:
    """User and system CPU time a process and its children have used so far."""
    process = psutil.Process(pid)
    times = process.cpu_times()
    total: float = times.user + times.system + times.children_user + times.children_system
    for child in process.children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):
            child_times = child.cpu_times()
            total += child_times.user + child_times.system
    return total


class Stack:
    """The dev server and the two workers (product and skeleton), started in ``workdir``; on request, the API."""

    def __init__(self, workdir: Path, policy_file: Path, profile: Path | None = None) -> None:
        self.workdir = workdir
        # Run the product's worker under cProfile, writing its statistics here when it stops.
        self.profile = profile
        self.policy_file = policy_file
        self.dev_server = DevServer(workdir / "temporal.db", workdir / "Temporal-dev-server.log")
        self.address = self.dev_server.address
        self.database_url = f"sqlite:///{workdir / 'capaflow.db'}"
        self.product_queue = "bench-product"
        self.skeleton_queue = "bench-skeleton"
        self.fired_log = workdir / "skeleton-fired.jsonl"
        self.product: Process | None = None
        self.skeleton: Process | None = None
        self.api: Process | None = None
        self.api_url: str | None = None

    @property
    def server(self) -> Process | None:
        return self.dev_server.process

    async def start(self) -> Client:
        await self.dev_server.start()
        client = await self.dev_server.connect()
        profiling = ["-m", "cProfile", "-o", str(self.profile)] if self.profile else []
        self.product = self._spawn("product worker", devstack.worker_command(*profiling), self.product_env())
        self.skeleton = self._spawn(
            "skeleton worker",
            [sys.executable, "-m", "bench.worker", self.address, self.skeleton_queue, str(self.fired_log)],
        )
        await devstack.wait_polling(self.product, client, self.product_queue)
        await devstack.wait_polling(self.skeleton, client, self.skeleton_queue)
        return client

    def _spawn(self, name: str, command: list[str], env: dict[str, str] | None = None) -> Process:
        log_path = self.workdir / f"{name.replace(' ', '-')}.log"
        return devstack.spawn(name, command, log_path=log_path, env=env, cwd=devstack.REPOSITORY)

    def product_env(self) -> dict[str, str]:
        """The product's settings for this stack, as a site sets them: the environment, none of the caller's own."""
        return devstack.own_settings_env(
            {
                "TEMPORAL_ADDRESS": self.address,
                "CAPA_TASK_QUEUE": self.product_queue,
                "CAPA_DATABASE_URL": self.database_url,
                "CAPA_POLICY_FILE": str(self.policy_file),
            }
        )

    async def start_api(self) -> str:
        """Serve the HTTP API the way a site does (``capa api``) on a free port; its base URL once it is ready.

        The same settings as the product's worker; a secret key of its own (unset, the API would keep one in the
        repository's .data/), and no metrics endpoint, like the worker here.
        """
        port = devstack.free_port()
        env = self.product_env() | {"CAPA_SECRET_KEY": secrets.token_hex(32), "CAPA_API_METRICS_PORT": "0"}
        self.api = self._spawn(
            "HTTP API", [str(venv_tool("capa")), "api", "--host", devstack.HOST, "--port", str(port)], env
        )
        base_url = f"http://{devstack.HOST}:{port}"
        # /readyz: it reaches both Temporal and the read model.
        await devstack.wait_answering(self.api, base_url, "/readyz")
        self.api_url = base_url
        return base_url

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time used so far by each process of the stack that runs, and by this one (the users)."""
        times = psutil.Process().cpu_times()
        # This process alone: its children are the stack's processes, counted below.
        used = {"users": times.user + times.system}
        for name, process in (
            ("server", self.server),
            ("capaflow worker", self.product),
            ("skeleton worker", self.skeleton),
            ("api", self.api),
        ):
            if process is not None and process.popen.poll() is None:
                used[name] = cpu_seconds(process.pid)
        return used

    def stop(self) -> None:
        for process in (self.api, self.product, self.skeleton, self.server):
            if process is not None:
                process.stop()


def machine_facts() -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    version = subprocess.run(
        [str(venv_tool("temporal")), "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return {
        "cpu": f"{psutil.cpu_count()} x {cpu}",
        "memory": f"{psutil.virtual_memory().total / 2**30:.1f} GiB",
        "os": platform.platform(),
        "python": platform.python_version(),
        "temporal": version,
        "load average at start": load,
    }
