"""What the bench runs on: its own Temporal dev server, worker processes and HTTP API, on free ports, in a temp dir.

Nothing here is shared with ``make run`` or the tests: the server keeps its state in the run's own SQLite file,
and every process the bench starts it also stops, by its own handle.
"""

import asyncio
import contextlib
import os
import platform
import secrets
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx
import psutil  # type: ignore[import-untyped]  # no stubs are installed; three calls are used
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from cli.devstack import search_attribute_flags, venv_tool

REPO = Path(__file__).resolve().parents[1]
START_TIMEOUT = 60.0
_POLL = 0.25


class StackError(RuntimeError):
    """A part of the bench's stack did not start; the message says which and where its log is."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


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


@dataclass
class Process:
    """One process the bench started: its handle and the file its output goes to (never a pipe that fills)."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    log: IO[bytes]

    @property
    def pid(self) -> int:
        return self.popen.pid

    def rss(self) -> int:
        return rss_bytes(self.pid)

    def check_alive(self) -> None:
        code = self.popen.poll()
        if code is not None:
            raise StackError(f"the {self.name} exited with code {code}; see {self.log_path}")

    def stop(self, timeout: float = 40.0) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self.log.close()


def _start(name: str, command: list[str], workdir: Path, env: dict[str, str] | None = None) -> Process:
    log_path = workdir / f"{name.replace(' ', '-')}.log"
    log = log_path.open("ab")
    popen = subprocess.Popen(command, stdout=log, stderr=log, env=env, cwd=REPO, start_new_session=True)
    return Process(name, popen, log_path, log)


class Stack:
    """The dev server and the two workers (product and skeleton), started in ``workdir``; on request, the API."""

    def __init__(self, workdir: Path, policy_file: Path, profile: Path | None = None) -> None:
        self.workdir = workdir
        # Run the product's worker under cProfile, writing its statistics here when it stops.
        self.profile = profile
        self.policy_file = policy_file
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.database_url = f"sqlite:///{workdir / 'capaflow.db'}"
        self.product_queue = "bench-product"
        self.skeleton_queue = "bench-skeleton"
        self.fired_log = workdir / "skeleton-fired.jsonl"
        self.server: Process | None = None
        self.product: Process | None = None
        self.skeleton: Process | None = None
        self.api: Process | None = None

    async def start(self) -> Client:
        self.server = _start(
            "Temporal dev server",
            [
                str(venv_tool("temporal")),
                "server",
                "start-dev",
                "--db-filename",
                str(self.workdir / "temporal.db"),
                "--ip",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--http-port",
                str(free_port()),
                "--metrics-port",
                str(free_port()),
                "--headless",
                "--log-level",
                "error",
                *search_attribute_flags(),
            ],
            self.workdir,
        )
        client = await self._connect()
        profiling = ["-m", "cProfile", "-o", str(self.profile)] if self.profile else []
        self.product = _start(
            "product worker", [sys.executable, *profiling, str(REPO / "worker.py")], self.workdir, self.product_env()
        )
        self.skeleton = _start(
            "skeleton worker",
            [sys.executable, "-m", "bench.worker", self.address, self.skeleton_queue, str(self.fired_log)],
            self.workdir,
        )
        await self._polled(client, self.product_queue, self.product)
        await self._polled(client, self.skeleton_queue, self.skeleton)
        return client

    def product_env(self) -> dict[str, str]:
        """The product's settings for this stack, as a site sets them: the environment, none of the caller's own."""
        env = {key: value for key, value in os.environ.items() if not key.startswith(("CAPA_", "TEMPORAL_"))}
        return env | {
            "TEMPORAL_ADDRESS": self.address,
            "CAPA_TASK_QUEUE": self.product_queue,
            "CAPA_DATABASE_URL": self.database_url,
            "CAPA_POLICY_FILE": str(self.policy_file),
            "CAPA_LOG_FORMAT": "json",
            "CAPA_METRICS_PORT": "0",
        }

    async def start_api(self) -> str:
        """Serve the HTTP API the way a site does (``capa api``) on a free port; its base URL once it is ready.

        The same settings as the product's worker; a secret key of its own (unset, the API would keep one in the
        repository's .data/), and no metrics endpoint, like the worker here.
        """
        port = free_port()
        env = self.product_env() | {"CAPA_SECRET_KEY": secrets.token_hex(32), "CAPA_API_METRICS_PORT": "0"}
        self.api = _start(
            "HTTP API",
            [str(venv_tool("capa")), "api", "--host", "127.0.0.1", "--port", str(port)],
            self.workdir,
            env,
        )
        base_url = f"http://127.0.0.1:{port}"
        await self._ready(base_url, self.api)
        return base_url

    async def _ready(self, base_url: str, process: Process) -> None:
        """Wait until the API answers /readyz with 200: it reaches both Temporal and the read model."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_TIMEOUT
        async with httpx.AsyncClient(base_url=base_url, timeout=5.0) as http:
            while True:
                process.check_alive()
                try:
                    if (await http.get("/readyz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                if loop.time() > deadline:
                    raise StackError(f"the {process.name} did not become ready; see {process.log_path}")
                await asyncio.sleep(_POLL)

    async def _connect(self) -> Client:
        assert self.server is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_TIMEOUT
        while True:
            self.server.check_alive()
            try:
                return await Client.connect(self.address, data_converter=pydantic_data_converter)
            except RuntimeError:
                if loop.time() > deadline:
                    raise StackError(f"the Temporal dev server did not answer; see {self.server.log_path}") from None
                await asyncio.sleep(_POLL)

    async def _polled(self, client: Client, task_queue: str, process: Process) -> None:
        """Wait until the worker polls its workflow task queue: proof that it is up, not merely started."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_TIMEOUT
        request = DescribeTaskQueueRequest(
            namespace=client.namespace,
            task_queue=TaskQueue(name=task_queue),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        )
        while not (await client.workflow_service.describe_task_queue(request)).pollers:
            process.check_alive()
            if loop.time() > deadline:
                raise StackError(f"the {process.name} did not poll {task_queue}; see {process.log_path}")
            await asyncio.sleep(_POLL)

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
