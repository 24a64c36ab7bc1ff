"""What a chaos run adds to the shared dev stack: a fleet of worker processes it kills, replaces and watches.

Everything runs as a real subprocess so a SIGKILL is a real crash; the server is ``core.devstack.DevServer``,
restarted on its port with its SQLite file kept. Only what was started here is ever stopped.
"""

import asyncio
import time
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from temporalio.api.enums.v1 import TaskQueueType
from temporalio.client import Client
from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter

from core import devstack
from core.devstack import DevServer, Process, StackError


@cache
def _quiet_runtime() -> Runtime:
    return Runtime(
        telemetry=TelemetryConfig(
            logging=LoggingConfig(filter=TelemetryFilter(core_level="ERROR", other_level="ERROR"))
        )
    )


async def connect(server: DevServer) -> Client:
    """A client that rides out the server's restart; its retries while the server is away are expected, not logged."""
    return await server.connect(runtime=_quiet_runtime())


# A worker that exits on its own this soon after starting, this many times in a row, cannot start at all.
_CRASH_LOOP_SECONDS = 30.0
_CRASH_LOOP_ATTEMPTS = 5


@dataclass
class WorkerProcess:
    """One ``python worker.py`` in a slot; its JSON log goes to a file shared by every process of its slot."""

    slot: int
    process: Process

    @property
    def log_path(self) -> Path:
        assert self.process.log_path is not None
        return self.process.log_path

    def ready(self) -> bool:
        """Whether it has logged "worker started": connected, and about to poll."""
        with self.log_path.open("rb") as log:
            log.seek(self.process.log_start)
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
        return cls(size=size, env=devstack.own_settings_env(variables), workdir=workdir)

    def _spawn(self, slot: int) -> None:
        process = devstack.spawn(
            f"worker {slot}",
            devstack.worker_command(),
            log_path=self.workdir / f"worker-{slot}.log",
            env=self.env,
            cwd=devstack.REPOSITORY,
        )
        self.workers[slot] = WorkerProcess(slot, process)

    async def start(self, client: Client, task_queue: str, within: float = 60) -> None:
        for slot in range(self.size):
            self._spawn(slot)

        async def polling() -> bool:
            for worker in self.workers.values():
                if worker.process.popen.poll() is not None:
                    raise StackError(f"worker {worker.slot} exited at start: {worker.last_line()}")
            pollers = await devstack.pollers(client, task_queue, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY)
            return pollers >= self.size

        await devstack.wait_until(
            f"{self.size} worker(s) on {task_queue}", polling, within, where=f"see {self.workdir}"
        )

    def check_alive(self) -> None:
        """Replace any worker that exited without being killed here, and remember that it did.

        One that keeps exiting within its first seconds is not crashing under load but unable to start (a bad
        setting, a database schema it refuses): after a few attempts that ends the run with its last line.
        """
        for slot, worker in list(self.workers.items()):
            code = worker.process.popen.poll()
            if code is None:
                continue
            worker.process.close_log()
            quick = time.monotonic() - worker.process.started_at < _CRASH_LOOP_SECONDS
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

        await devstack.wait_until("every worker to start", all_ready, within, where=f"see {self.workdir}")

    async def kill_one(self, within: float = 60) -> int:
        """SIGKILL the longest-running worker once every worker is up, and start its replacement at once.

        Waiting for the others first means a kill never lands on a fleet still starting from the last one: there
        is always a worker to take over, as in a real deployment of several workers. Returns the killed pid.
        """

        await self.wait_ready(within)
        worker = min(self.workers.values(), key=lambda w: w.process.started_at)
        pid = worker.process.pid
        await asyncio.to_thread(worker.process.kill)
        self.kills += 1
        self._spawn(worker.slot)
        return pid

    def stop(self) -> None:
        for worker in self.workers.values():
            worker.process.kill()
        self.workers.clear()
