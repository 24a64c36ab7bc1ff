"""The CLI end to end: a real Temporal dev server, a worker and the HTTP API in this process (uvicorn on a free
local port), and ``capa`` run as a subprocess against them.

One dev server serves the session; each test module gets its own task queue, SQLite read model, worker, API and
credentials directory, so modules never see each other's records or sign-ins. The seeded people have the password
``PASSWORD``; a test acting as someone (``user=``) runs ``capa --as NAME``, after that person has signed in once per
module through ``capa login`` (the password piped on standard input).
"""

import asyncio
import json
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
import pytest_asyncio
import uvicorn
from sqlalchemy import Engine
from starlette.types import ASGIApp
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from models.payloads import CapaState
from tests.policies import uniform_policy
from tests.stack import PASSWORD, running_stack
from workflows.record import RecordWorkflow

CAPA = Path(sys.executable).with_name("capa")
CLI_TIMEOUT = 60.0
T = TypeVar("T")
# The signed steps: the signer's password is piped to them (--password-stdin), as a script would.
SIGNED = ("verify", "review", "cancel", "decide-extension", "triage", "decide-plan", "concede", "amend", "decide-pause")

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
    """Runs ``capa`` against this module's API, and reads the workflows directly for comparison."""

    env: WorkflowEnvironment
    settings: Settings
    engine: Engine
    api_url: str
    config_dir: Path
    signed_in: set[str] = field(default_factory=set)

    async def __call__(
        self, *args: str, user: str | None = None, env: dict[str, str] | None = None, stdin: str = ""
    ) -> Run:
        """``capa ARGS``; with ``user``, ``capa --as USER ARGS`` once USER has signed in (``capa login``), and a
        signed step gets their password on standard input."""
        if user is not None:
            if user not in self.signed_in:
                await self.login(user)
            if args and args[0] in SIGNED and "--password-stdin" not in args:
                args, stdin = (*args, "--password-stdin"), f"{PASSWORD}\n"
            args = ("--as", user, *args)
        return await self.run(*args, env=env, stdin=stdin)

    async def run(self, *args: str, env: dict[str, str] | None = None, stdin: str = "") -> Run:
        environment = {key: value for key, value in os.environ.items() if not key.startswith("CAPA_")}
        environment |= {
            "TEMPORAL_ADDRESS": self.env.client.service_client.config.target_host,
            "TEMPORAL_NAMESPACE": self.env.client.namespace,
            "CAPA_DATABASE_URL": self.settings.database_url,
            "CAPA_TASK_QUEUE": self.settings.task_queue,
            "CAPA_API_URL": self.api_url,
            "CAPA_CONFIG_DIR": str(self.config_dir),
            "COLUMNS": "200",  # rich tables on one line each, whatever the terminal running the tests
        }
        environment |= env or {}
        # A subprocess driven from the event loop: the in-process worker and API keep running meanwhile.
        process = await asyncio.create_subprocess_exec(
            str(CAPA),
            *args,
            env=environment,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(stdin.encode()), CLI_TIMEOUT)
        assert process.returncode is not None
        return Run(process.returncode, out.decode(), err.decode())

    async def login(self, name: str, password: str = PASSWORD) -> Run:
        """``echo PASSWORD | capa login NAME``, which must succeed."""
        run = await self.run("login", name, stdin=f"{password}\n")
        assert run.code == 0, f"capa login {name} failed ({run.code}): {run.err}"
        self.signed_in.add(name)
        return run

    async def ok(self, *args: str, user: str | None = None) -> Run:
        run = await self(*args, user=user)
        assert run.code == 0, f"capa {' '.join(args)} failed ({run.code}): {run.err}"
        return run

    async def show(self, record_id: str, user: str = "maria") -> dict[str, Any]:
        data: dict[str, Any] = (await self.ok("show", record_id, "--json", user=user)).json()
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


@asynccontextmanager
async def serving(app: ASGIApp) -> AsyncIterator[str]:
    """The API app served over real HTTP on a free local port, in this event loop; yields its URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False, lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))

    async def started() -> bool:
        return server.started

    await eventually(started, within=10)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()


@pytest_asyncio.fixture(scope="module")
async def capa(dev_server: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Capa]:
    workdir = tmp_path_factory.mktemp("capa")
    async with running_stack(dev_server, workdir, policy=POLICY) as stack, serving(stack.app) as url:
        yield Capa(dev_server, stack.settings, stack.engine, url, workdir / "config")
