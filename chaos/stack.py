"""The processes a chaos run owns: one Temporal dev server (restartable, its SQLite file kept) and worker processes.

Everything runs as a real subprocess so a SIGKILL is a real crash. Only what was started here is ever stopped.
"""

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import IO

from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter

from cli.devstack import search_attribute_flags, venv_tool

REPOSITORY = Path(__file__).resolve().parents[1]
WORKER_SCRIPT = REPOSITORY / "worker.py"
HOST = "127.0.0.1"
NAMESPACE = "default"
_POLL_SECONDS = 0.25


@cache
def _quiet_runtime() -> Runtime:
    return Runtime(
        telemetry=TelemetryConfig(
            logging=LoggingConfig(filter=TelemetryFilter(core_level="ERROR", other_level="ERROR"))
        )
    )


class StackError(RuntimeError):
    """A process of the chaos stack did not start; the message names its log file."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


async def wait_until(
    what: str, ready: Callable[[], Awaitable[bool]], within: float, log_path: Path | None = None
) -> None:
    """Poll ``ready`` until it holds; raise StackError naming ``what`` (and where to look) at the deadline."""
    deadline = time.monotonic() + within
    while not await ready():
        if time.monotonic() >= deadline:
            where = f"; see {log_path}" if log_path else ""
            raise StackError(f"{what} not ready within {within:.0f}s{where}")
        await asyncio.sleep(_POLL_SECONDS)


@dataclass
class TemporalServer:
    """``temporal server start-dev`` on free ports with state in ``db_file``, so a restart keeps every record."""

    db_file: Path
    log_path: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"

    def command(self) -> list[str]:
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
            "--headless",
            "--metrics-port",
            str(free_port()),
            "--log-level",
            "error",
            *search_attribute_flags(),
        ]

    def _spawn(self) -> subprocess.Popen[bytes]:
        with self.log_path.open("ab") as log_file:
            # A session of its own, so a Ctrl-C in the terminal reaches only the chaos run, which stops it.
            self.process = subprocess.Popen(self.command(), stdout=log_file, stderr=log_file, start_new_session=True)
        return self.process

    async def start(self, within: float = 60) -> None:
        process = self._spawn()

        async def serving() -> bool:
            if process.poll() is not None:
                raise StackError(f"the Temporal dev server exited with code {process.returncode}; see {self.log_path}")
            try:
                await Client.connect(self.address, namespace=NAMESPACE)
            except RuntimeError:
                return False
            return True

        await wait_until(f"Temporal dev server on {self.address}", serving, within, self.log_path)

    async def stop(self, within: float = 30) -> None:
        """SIGTERM, then SIGKILL if it has not exited within ``within`` seconds."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            await asyncio.to_thread(process.wait, within)
        except subprocess.TimeoutExpired:
            process.kill()
            await asyncio.to_thread(process.wait)

    async def restart(self) -> float:
        """Stop and start again on the same port and file; return how long it was down, in seconds."""
        began = time.monotonic()
        await self.stop()
        await self.start()
        self.restarts += 1
        return time.monotonic() - began

    async def connect(self) -> Client:
        """A client that rides out the restart; its retries while the server is away are expected, not logged."""
        return await Client.connect(
            self.address, namespace=NAMESPACE, data_converter=pydantic_data_converter, runtime=_quiet_runtime()
        )


# A worker that exits on its own this soon after starting, this many times in a row, cannot start at all.
_CRASH_LOOP_SECONDS = 30.0
_CRASH_LOOP_ATTEMPTS = 5


@dataclass
class WorkerProcess:
    """One ``python worker.py``; its JSON log goes to a file shared by every process of its slot."""

    slot: int
    process: subprocess.Popen[bytes]
    log_path: Path
    log: IO[bytes]
    log_offset: int  # where this process's lines begin in the slot's log
    started_at: float = field(default_factory=time.monotonic)

    def ready(self) -> bool:
        """Whether it has logged "worker started": connected, and about to poll."""
        with self.log_path.open("rb") as log:
            log.seek(self.log_offset)
            return b'"event": "worker started"' in log.read()

    def last_line(self) -> str:
        lines = self.log_path.read_text(errors="replace").strip().splitlines()
        return lines[-1] if lines else "(no output)"


@dataclass
class WorkerFleet:
    """``size`` worker processes on one task queue; a killed or exited one is replaced in the same slot."""

    size: int
    env: dict[str, str]
    workdir: Path
    workers: dict[int, WorkerProcess] = field(default_factory=dict)
    kills: int = 0
    unexpected_exits: list[str] = field(default_factory=list)
    _quick_exits: dict[int, int] = field(default_factory=dict)

    @classmethod
    def for_settings(cls, size: int, workdir: Path, variables: dict[str, str]) -> "WorkerFleet":
        env = {key: value for key, value in os.environ.items() if not key.startswith(("CAPA_", "TEMPORAL_"))}
        env |= {"CAPA_LOG_FORMAT": "json", "CAPA_METRICS_PORT": "0", **variables}
        return cls(size=size, env=env, workdir=workdir)

    def _spawn(self, slot: int) -> None:
        path = self.workdir / f"worker-{slot}.log"
        log = path.open("ab")
        offset = log.tell()
        process = subprocess.Popen(
            [sys.executable, str(WORKER_SCRIPT)],
            env=self.env,
            cwd=REPOSITORY,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        self.workers[slot] = WorkerProcess(slot, process, path, log, offset)

    async def start(self, client: Client, task_queue: str, within: float = 60) -> None:
        for slot in range(self.size):
            self._spawn(slot)

        async def polling() -> bool:
            for worker in self.workers.values():
                if worker.process.poll() is not None:
                    raise StackError(f"worker {worker.slot} exited at start: {worker.last_line()}")
            answer = await client.workflow_service.describe_task_queue(
                DescribeTaskQueueRequest(
                    namespace=NAMESPACE,
                    task_queue=TaskQueue(name=task_queue),
                    task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
                )
            )
            return len(answer.pollers) >= self.size

        await wait_until(f"{self.size} worker(s) on {task_queue}", polling, within, self.workdir)

    def check_alive(self) -> None:
        """Replace any worker that exited without being killed here, and remember that it did.

        One that keeps exiting within its first seconds is not crashing under load but unable to start (a bad
        setting, a database schema it refuses): after a few attempts that ends the run with its last line.
        """
        for slot, worker in list(self.workers.items()):
            code = worker.process.poll()
            if code is None:
                continue
            worker.log.close()
            quick = time.monotonic() - worker.started_at < _CRASH_LOOP_SECONDS
            self._quick_exits[slot] = self._quick_exits.get(slot, 0) + 1 if quick else 0
            if self._quick_exits[slot] >= _CRASH_LOOP_ATTEMPTS:
                raise StackError(f"worker {slot} keeps exiting right after it starts: {worker.last_line()}")
            self.unexpected_exits.append(
                f"worker {slot} (pid {worker.process.pid}) exited with code {code}: {worker.last_line()[:160]}"
            )
            self._spawn(slot)

    async def wait_ready(self, within: float = 60) -> None:
        """Until every worker has started (replacing any that exited)."""

        async def all_ready() -> bool:
            self.check_alive()
            return all(worker.ready() for worker in self.workers.values())

        await wait_until("every worker to start", all_ready, within, self.workdir)

    async def kill_one(self, within: float = 60) -> int:
        """SIGKILL the longest-running worker once every worker is up, and start its replacement at once.

        Waiting for the others first means a kill never lands on a fleet still starting from the last one: there
        is always a worker to take over, as in a real deployment of several workers. Returns the killed pid.
        """

        await self.wait_ready(within)
        worker = min(self.workers.values(), key=lambda w: w.started_at)
        pid = worker.process.pid
        worker.process.send_signal(signal.SIGKILL)
        await asyncio.to_thread(worker.process.wait)
        worker.log.close()
        self.kills += 1
        self._spawn(worker.slot)
        return pid

    def stop(self) -> None:
        for worker in self.workers.values():
            if worker.process.poll() is None:
                worker.process.kill()
                worker.process.wait()
            worker.log.close()
        self.workers.clear()
