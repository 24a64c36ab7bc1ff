"""``capa dev`` (what ``make run`` calls): the whole product on one machine.

It starts the Temporal dev server from the virtualenv (state in ``.data/temporal.db``, so records survive a
restart), creates the read-model schema, seeds the demo directory once, starts a worker and the web app
(``capa api``) with the same environment, and says what to try next. Ctrl-C (or SIGTERM) stops the web app,
the worker, then the server: only what it started. A Temporal already serving on the port is reused, and left
running at the end."""

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import httpx
from rich.console import Console
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from core import readmodel
from core.database import make_engine
from core.migrations import ensure_schema
from core.settings import DATA_DIR, Settings
from models import search_attributes
from models.policy import load_policy

HOST = "127.0.0.1"
PORT = 7233
UI_PORT = 8233
ADDRESS = f"{HOST}:{PORT}"
UI_URL = f"http://{HOST}:{UI_PORT}"
NAMESPACE = "default"
SERVER_STATE = DATA_DIR / "temporal.db"
SERVER_LOG = DATA_DIR / "temporal-server.log"
DEMO_POLICY = Path("examples/demo-policy.toml")

SERVER_START_TIMEOUT = timedelta(seconds=60)
WORKER_START_TIMEOUT = timedelta(seconds=60)
# The worker drains in-flight activities for up to 30 s on SIGTERM (worker.py); give it a little more.
WORKER_STOP_TIMEOUT = timedelta(seconds=40)
SERVER_STOP_TIMEOUT = timedelta(seconds=15)
API_START_TIMEOUT = timedelta(seconds=30)
API_STOP_TIMEOUT = timedelta(seconds=15)
_POLL_SECONDS = 0.5
# A worker or web app that exits is started again, up to this many times in this window.
_RESTARTS = 3
_RESTART_WINDOW = timedelta(minutes=5)

console = Console(stderr=True, highlight=False, soft_wrap=True)


class DevStackError(Exception):
    """The local stack could not start; the message says which part and where to look."""


def venv_tool(name: str) -> Path:
    """A console script installed next to this interpreter, so ``make run`` needs nothing on PATH."""
    return Path(sys.executable).with_name(name)


def search_attribute_flags() -> list[str]:
    """``--search-attribute CapaStage=Keyword ...`` for every attribute the records keep up to date."""
    flags: list[str] = []
    for key in search_attributes.KEYS:
        kind = key.indexed_value_type.name.title().replace("_", "")  # KEYWORD_LIST -> KeywordList
        flags += ["--search-attribute", f"{key.name}={kind}"]
    return flags


def server_command() -> list[str]:
    return [
        str(venv_tool("temporal")),
        "server",
        "start-dev",
        "--db-filename",
        str(SERVER_STATE),
        "--ip",
        HOST,
        "--port",
        str(PORT),
        "--ui-port",
        str(UI_PORT),
        "--log-level",
        "error",
        *search_attribute_flags(),
    ]


def _listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _port_open() -> bool:
    try:
        with socket.create_connection((HOST, PORT), timeout=1):
            return True
    except OSError:
        return False


def _serving_temporal() -> bool:
    async def probe() -> bool:
        try:
            await Client.connect(ADDRESS, namespace=NAMESPACE)
        except RuntimeError:
            return False
        return True

    return asyncio.run(probe())


def _worker_polling(task_queue: str) -> bool:
    """Whether some worker is polling the task queue: the proof that ours is up, not merely started."""

    async def probe() -> bool:
        client = await Client.connect(ADDRESS, namespace=NAMESPACE)
        answer = await client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace=NAMESPACE,
                task_queue=TaskQueue(name=task_queue),
                task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
            )
        )
        return bool(answer.pollers)

    return asyncio.run(probe())


class DevStack:
    """The processes ``capa dev`` started, so it stops exactly those."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.server: subprocess.Popen[bytes] | None = None
        self.worker: subprocess.Popen[bytes] | None = None
        self.api: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        # The worker would refuse a bad policy file too, but only after the server had started.
        load_policy(self.settings.policy_file)
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        if _port_open():
            if not _serving_temporal():
                raise DevStackError(f"port {PORT} is taken by something that is not Temporal; stop it first")
            console.print(f"Temporal is already serving on {ADDRESS}; using it (and leaving it running).")
        else:
            self._start_server()
        self._prepare_database()
        self._start_worker()
        self._start_api()

    def _start_server(self) -> None:
        with SERVER_LOG.open("ab") as log_file:
            # A session of its own: a Ctrl-C in the terminal reaches only capa dev, which stops things in order.
            self.server = subprocess.Popen(server_command(), stdout=log_file, stderr=log_file, start_new_session=True)
        self._wait(
            f"Temporal dev server on {ADDRESS}",
            _serving_temporal,
            SERVER_START_TIMEOUT,
            self.server,
            f"see {SERVER_LOG}",
        )
        console.print(f"Temporal dev server running on {ADDRESS} (state in {SERVER_STATE}).")

    def _prepare_database(self) -> None:
        engine = make_engine(self.settings.sqlalchemy_url)
        ensure_schema(engine)
        if readmodel.seed_demo_users(engine):
            console.print("Added the demo users to the directory.")
        elif given := readmodel.give_demo_passwords(engine):
            console.print(f"Demo users without a password got the demo one: {', '.join(given)}.")

    def _start_worker(self) -> None:
        env = {**os.environ, "TEMPORAL_ADDRESS": ADDRESS, "TEMPORAL_NAMESPACE": NAMESPACE}
        self.worker = subprocess.Popen([str(venv_tool("capa")), "worker"], env=env, start_new_session=True)
        queue = self.settings.task_queue
        self._wait(
            f"worker on task queue {queue}",
            lambda: _worker_polling(queue),
            WORKER_START_TIMEOUT,
            self.worker,
            "its error is above",
        )

    def _start_api(self) -> None:
        host, port = self.settings.api_host, self.settings.api_port
        if _listening(host, port):
            raise DevStackError(f"port {port} on {host} is taken; stop what serves it or set CAPA_API_PORT")
        env = {**os.environ, "TEMPORAL_ADDRESS": ADDRESS, "TEMPORAL_NAMESPACE": NAMESPACE}
        self.api = subprocess.Popen([str(venv_tool("capa")), "api"], env=env, start_new_session=True)
        self._wait(
            f"web app and API on {self.api_url}",
            lambda: _answers(self.api_url),
            API_START_TIMEOUT,
            self.api,
            "its error is above",
        )

    @property
    def api_url(self) -> str:
        return f"http://{self.settings.api_host}:{self.settings.api_port}"

    def _wait(
        self,
        what: str,
        ready: Callable[[], bool],
        timeout: timedelta,
        process: subprocess.Popen[bytes],
        where_to_look: str,
    ) -> None:
        """Poll ``ready`` until it holds, the process dies or the deadline passes, showing the wait."""
        started = time.monotonic()
        deadline = started + timeout.total_seconds()
        with console.status(f"Starting {what}...") as status:
            while not ready():
                code = process.poll()
                if code is not None:
                    raise DevStackError(f"{what} exited with code {code}; {where_to_look}")
                if time.monotonic() >= deadline:
                    raise DevStackError(f"{what} not ready after {timeout.total_seconds():.0f}s; {where_to_look}")
                time.sleep(_POLL_SECONDS)
                status.update(f"Starting {what}... {time.monotonic() - started:.0f}s")

    def watch(self) -> int:
        """Block until Ctrl-C (0) or until the server dies, or the worker or web app keeps dying (1).

        A worker or web app that exits is started again, as a service manager would: records wait meanwhile,
        nothing is lost. One that exits again and again within minutes has a fault to look at, so then all stops.
        """
        restarts: dict[str, list[float]] = {"worker": [], "web app": []}
        while True:
            if self.server is not None and self.server.poll() is not None:
                console.print(
                    f"[red]The Temporal dev server exited with code {self.server.returncode}; stopping.[/red]"
                )
                return 1
            for name, process, start in (
                ("worker", self.worker, self._start_worker),
                ("web app", self.api, self._start_api),
            ):
                if process is None or process.poll() is None:
                    continue
                now = time.monotonic()
                recent = [at for at in restarts[name] if now - at < _RESTART_WINDOW.total_seconds()]
                if len(recent) >= _RESTARTS:
                    console.print(
                        f"[red]The {name} exited with code {process.returncode}, {_RESTARTS + 1} times within "
                        f"{_RESTART_WINDOW.total_seconds() / 60:.0f} minutes; its error is above. Stopping.[/red]"
                    )
                    return 1
                restarts[name] = [*recent, now]
                console.print(f"[yellow]The {name} exited with code {process.returncode}; starting it again.[/yellow]")
                try:
                    start()
                except DevStackError as exc:
                    console.print(f"[red]{exc}. Stopping.[/red]")
                    return 1
                _say(f"The {name} is running again.")
            try:
                time.sleep(_POLL_SECONDS)
            except KeyboardInterrupt:
                return 0

    def stop(self) -> None:
        """Stop the worker first (it drains in-flight activities), then the server; only what we started."""
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)  # a second Ctrl-C must not leave a child behind
        if self.api is not None:
            _terminate(self.api, "web app", API_STOP_TIMEOUT)
        if self.worker is not None:
            _terminate(self.worker, "worker", WORKER_STOP_TIMEOUT)
        if self.server is not None:
            _terminate(self.server, "Temporal dev server", SERVER_STOP_TIMEOUT)
            _say(f"Records are kept in {SERVER_STATE} and the read model; `make run` brings them back.")

    def next_steps(self) -> str:
        engine = make_engine(self.settings.sqlalchemy_url)
        users = readmodel.list_users(engine)
        people = ", ".join(f"{user.name} ({user.role})" for user in users)
        demo = set(readmodel.demo_user_names())
        sign_in = (
            f"as {', '.join(u.name for u in users if u.name in demo)}, password {readmodel.DEMO_PASSWORD}"
            if any(u.name in demo for u in users)
            else "with the passwords `capa users passwd` set"
        )
        return f"""
[bold]capaflow is running.[/bold] Ctrl-C stops the web app, the worker and the server.

  Web app       {self.api_url}   sign in {sign_in}
  API docs      {self.api_url}/docs
  Temporal UI   {UI_URL}
  Users         {people}

Try it in another terminal, in this directory, after `source .venv/bin/activate`:

  ID=$(capa --as otto raise --title "Burr on housing edge" --description "Found at final inspection" \\
        --severity major --source inspection --owner olivia --product H-100 --lot L42 --quantity 12)
  capa --as olivia contain $ID --summary "Lot L42 quarantined" --disposition quarantine
  capa show $ID
  capa --as maria overdue
{self._policy_hint()}"""

    def _policy_hint(self) -> str:
        if self.settings.policy_file is not None:
            return f"\nDeadlines follow {self.settings.policy_file}.\n"
        return (
            "\nSeconds-scale deadlines, to watch reminders and escalations happen: stop with Ctrl-C, then\n"
            f"  CAPA_POLICY_FILE={DEMO_POLICY} make run\n"
        )


def _say(message: str) -> None:
    """Print while shutting down; a closed terminal or pipe (``make run | tee``) must not stop the clean-up."""
    with contextlib.suppress(OSError):
        console.print(message)


def _terminate(process: subprocess.Popen[bytes], name: str, timeout: timedelta) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout.total_seconds())
        except subprocess.TimeoutExpired:
            _say(f"The {name} did not stop within {timeout.total_seconds():.0f}s; killing it.")
            process.kill()
            process.wait()
    _say(f"Stopped the {name}.")


def run(settings: Settings) -> int:
    """Start everything, wait for Ctrl-C or SIGTERM, stop everything; the exit code for the shell."""
    # SIGTERM (from `kill` or a process manager) gets the same orderly stop as Ctrl-C; SIGINT is set too
    # because a shell starts background jobs with it ignored.
    # SIGHUP too: closing the terminal window must not leave the server running.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.default_int_handler)
    stack = DevStack(settings)
    try:
        stack.start()
        console.print(stack.next_steps(), soft_wrap=True)
        return stack.watch()
    except KeyboardInterrupt:
        return 0
    finally:
        stack.stop()
