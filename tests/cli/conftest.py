"""The CLI end to end: a real Temporal dev server, a worker in this process and ``capa`` run as a subprocess.

One dev server serves the session; each test module gets its own task queue, SQLite read model and worker,
so modules never see each other's records.
"""

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
import pytest_asyncio
from sqlalchemy import Engine
from temporalio.testing import WorkflowEnvironment

from core.database import make_engine
from core.migrations import ensure_schema
from core.settings import Settings
from models.payloads import CapaState
from models.policy import load_policy
from tests.conftest import number_records_apart, seed_directory
from tests.policies import uniform_policy
from worker import build_worker
from workflows.record import RecordWorkflow

CAPA = Path(sys.executable).with_name("capa")
CLI_TIMEOUT = 60.0
T = TypeVar("T")

# Stage windows of an hour keep reminders and escalations out of the way; the effectiveness window of a few
# seconds lets a test reach the review, and escalate_after "0s" makes an action due in seconds escalate.
POLICY = uniform_policy("cli-tests", effectiveness_after="3s", remind_before=["30m"], escalate_after=["0s", "1h"])


@dataclass(frozen=True)
class Run:
    """One finished ``capa`` invocation."""

    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@dataclass(frozen=True)
class Capa:
    """Runs ``capa`` against this module's worker, and reads the workflows directly for comparison."""

    env: WorkflowEnvironment
    settings: Settings
    engine: Engine

    async def __call__(self, *args: str, user: str | None = None, env: dict[str, str] | None = None) -> Run:
        environment = {key: value for key, value in os.environ.items() if not key.startswith("CAPA_")}
        environment |= {
            "TEMPORAL_ADDRESS": self.env.client.service_client.config.target_host,
            "TEMPORAL_NAMESPACE": self.env.client.namespace,
            "CAPA_DATABASE_URL": self.settings.database_url,
            "CAPA_TASK_QUEUE": self.settings.task_queue,
            "COLUMNS": "200",  # rich tables on one line each, whatever the terminal running the tests
        }
        if user is not None:
            environment["CAPA_USER"] = user
        environment |= env or {}
        # A subprocess driven from the event loop: the in-process worker keeps running meanwhile.
        process = await asyncio.create_subprocess_exec(
            str(CAPA), *args, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        out, err = await asyncio.wait_for(process.communicate(), CLI_TIMEOUT)
        assert process.returncode is not None
        return Run(process.returncode, out.decode(), err.decode())

    async def ok(self, *args: str, user: str | None = None) -> Run:
        run = await self(*args, user=user)
        assert run.code == 0, f"capa {' '.join(args)} failed ({run.code}): {run.err}"
        return run

    async def show(self, record_id: str) -> dict[str, Any]:
        data: dict[str, Any] = (await self.ok("show", record_id, "--json")).json()
        return data

    async def query(self, record_id: str) -> CapaState:
        return await self.env.client.get_workflow_handle_for(RecordWorkflow.run, record_id).query(RecordWorkflow.state)

    async def raise_record(self, owner: str = "olivia", severity: str = "major", user: str = "otto") -> str:
        run = await self.ok(
            "raise",
            "--title",
            "Burr on housing edge",
            "--description",
            "Found at final inspection, station 4",
            "--severity",
            severity,
            "--source",
            "inspection",
            "--owner",
            owner,
            "--product",
            "H-100",
            "--lot",
            "L42",
            "--quantity",
            "12",
            user=user,
        )
        return run.out.strip()


async def eventually(probe: Callable[[], Awaitable[T | None]], within: float = 30.0) -> T:
    """Poll ``probe`` until it returns something truthy; fail the test when the deadline passes first."""
    try:
        async with asyncio.timeout(within):
            while True:
                value = await probe()
                if value:
                    return value
                await asyncio.sleep(0.3)
    except TimeoutError:
        pytest.fail(f"condition not met within {within:.0f}s")


def assert_one_line_error(run: Run, code: int, *fragments: str) -> None:
    """A refusal: the given exit code and exactly one ``error:`` line naming the problem, no traceback."""
    assert run.code == code, run
    lines = run.err.strip().splitlines()
    assert len(lines) == 1, run.err
    assert lines[0].startswith("error: "), run.err
    for fragment in fragments:
        assert fragment in lines[0], run.err


@pytest_asyncio.fixture(scope="module")
async def capa(dev_server: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Capa]:
    workdir = tmp_path_factory.mktemp("capa")
    policy_file = workdir / "policy.toml"
    policy_file.write_text(POLICY)
    settings = Settings(
        task_queue=f"cli-{uuid.uuid4()}",
        database_url=f"sqlite:///{workdir / 'capaflow.db'}",
        policy_file=policy_file,
    )
    engine = make_engine(settings.sqlalchemy_url)
    ensure_schema(engine)
    seed_directory(engine)
    number_records_apart(engine)
    with ThreadPoolExecutor(max_workers=8) as executor:
        worker = build_worker(
            dev_server.client,
            task_queue=settings.task_queue,
            engine=engine,
            policy=load_policy(settings.policy_file),
            executor=executor,
        )
        async with worker:
            yield Capa(dev_server, settings, engine)
