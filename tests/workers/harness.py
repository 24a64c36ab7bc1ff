"""Worker processes on a real Temporal dev server: start them as ``python worker.py``, read their JSON logs."""

import asyncio
import json
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

WORKER = Path(__file__).resolve().parents[2] / "worker.py"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def eventually(probe: Callable[[], Any], within: float, what: str) -> Any:
    """Poll ``probe`` (sync or async) until it returns something truthy; fail naming ``what`` at the deadline."""
    try:
        async with asyncio.timeout(within):
            while True:
                value = probe()
                if asyncio.iscoroutine(value):
                    value = await value
                if value:
                    return value
                await asyncio.sleep(0.25)
    except TimeoutError:
        pytest.fail(f"{what}: not within {within:.0f}s")


@dataclass
class WorkerProcess:
    """One ``python worker.py``; its output (JSON log lines) goes to a file, never a pipe that could fill up."""

    name: str
    env: dict[str, str]
    log_path: Path
    process: asyncio.subprocess.Process | None = None
    _log: Any = field(default=None, repr=False)

    @classmethod
    async def start(cls, name: str, workdir: Path, *, metrics_port: int = 0, **variables: str) -> "WorkerProcess":
        env = {key: value for key, value in os.environ.items() if not key.startswith(("CAPA_", "TEMPORAL_"))}
        env |= {"CAPA_LOG_FORMAT": "json", "CAPA_METRICS_PORT": str(metrics_port), **variables}
        worker = cls(name, env, workdir / f"{name}.log")
        worker._log = worker.log_path.open("ab")
        worker.process = await asyncio.create_subprocess_exec(
            sys.executable, str(WORKER), env=env, cwd=workdir, stdout=worker._log, stderr=worker._log
        )
        await eventually(lambda: worker.lines("worker started") or worker.exited(), 60, f"{name} to start")
        assert worker.returncode is None, worker.log_path.read_text()
        return worker

    def entries(self) -> list[dict[str, Any]]:
        entries = []
        for line in self.log_path.read_text().splitlines():
            try:
                entries.append(json.loads(line))
            except json.JSONDecodeError:
                entries.append({"event": line})
        return entries

    def lines(self, event: str) -> list[dict[str, Any]]:
        return [entry for entry in self.entries() if entry.get("event") == event]

    @property
    def returncode(self) -> int | None:
        assert self.process is not None
        return self.process.returncode

    def exited(self) -> bool:
        return self.returncode is not None

    def send(self, sig: signal.Signals) -> None:
        assert self.process is not None
        self.process.send_signal(sig)

    async def wait(self, within: float) -> int:
        assert self.process is not None
        code = await asyncio.wait_for(self.process.wait(), within)
        self._log.close()
        return code

    async def stop(self) -> None:
        """Make sure the process is gone (test teardown)."""
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()
        if self._log is not None and not self._log.closed:
            self._log.close()


@dataclass
class Workers:
    """Every worker process a test started, all killed at teardown."""

    workdir: Path
    base_env: dict[str, str]
    started: list[WorkerProcess] = field(default_factory=list)

    async def start(self, name: str, *, metrics_port: int = 0, **variables: str) -> WorkerProcess:
        worker = await WorkerProcess.start(name, self.workdir, metrics_port=metrics_port, **(self.base_env | variables))
        self.started.append(worker)
        return worker

    async def close(self) -> None:
        for worker in self.started:
            await worker.stop()


async def workers_for(env: WorkflowEnvironment, workdir: Path, **variables: str) -> AsyncIterator[Workers]:
    workers = Workers(
        workdir,
        {
            "TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
            "TEMPORAL_NAMESPACE": env.client.namespace,
            **variables,
        },
    )
    try:
        yield workers
    finally:
        await workers.close()
