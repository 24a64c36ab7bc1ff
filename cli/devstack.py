"""``capa dev`` (what ``make run`` calls): the whole product on one machine.

It starts the Temporal dev server from the virtualenv (state in ``.data/temporal.db``, so records survive a
restart), creates the read-model schema, gives the demo site a working-day calendar and seeds the demo directory
once (a calendar set since is kept), starts a worker and the web app
(``capa api``) with the same environment, and says what to try next. Ctrl-C (or SIGTERM) stops the web app,
the worker, then the server: only what it started. A Temporal already serving on the port is reused, and left
running at the end."""

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Callable, Coroutine
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console

from core import devstack, readmodel, sites
from core.database import make_engine
from core.devstack import DevServer, Process, StackError
from core.migrations import ensure_schema
from core.settings import DATA_DIR, Settings
from models.calendars import WorkCalendar
from models.policy import load_policy

PORT = 7233
UI_PORT = 8233
ADDRESS = f"{devstack.HOST}:{PORT}"
UI_URL = f"http://{devstack.HOST}:{UI_PORT}"
SERVER_STATE = DATA_DIR / "temporal.db"
# The demo site's zone unless CAPA_SITE_TIME_ZONE names one: not UTC, so the tour shows local times with their zone.
DEMO_TIME_ZONE = "Europe/Berlin"
SERVER_LOG = DATA_DIR / "temporal-server.log"
# The demo site's working days (shown on Help). The demo policy's windows are in calendar time, so they ignore it.
DEMO_HOLIDAYS = (date(2026, 12, 24), date(2026, 12, 25), date(2026, 12, 31), date(2027, 1, 1))
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


class DevStack:
    """The processes ``capa dev`` started, so it stops exactly those."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.server = DevServer(SERVER_STATE, SERVER_LOG, port=PORT, ui_port=UI_PORT)
        self.worker: Process | None = None
        self.api: Process | None = None

    def start(self) -> None:
        # The worker would refuse a bad policy file too, but only after the server had started.
        load_policy(self.settings.policy_file)
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        if devstack.listening(devstack.HOST, PORT):
            if not asyncio.run(devstack.serving(ADDRESS)):
                raise StackError(f"port {PORT} is taken by something that is not Temporal; stop it first")
            console.print(f"Temporal is already serving on {ADDRESS}; using it (and leaving it running).")
        else:
            self._starting(f"Temporal dev server on {ADDRESS}", self._start_server)
            console.print(f"Temporal dev server running on {ADDRESS} (state in {SERVER_STATE}).")
        self._prepare_database()
        self._start_worker()
        self._start_api()

    async def _start_server(self, progress: devstack.Progress) -> None:
        await self.server.start(SERVER_START_TIMEOUT.total_seconds(), poll=_POLL_SECONDS, progress=progress)

    def _prepare_database(self) -> None:
        engine = make_engine(self.settings.sqlalchemy_url)
        ensure_schema(engine)
        site = sites.default_site(engine, self.settings.site_name, self._site_time_zone())
        console.print(f"Default site: {site.name}, times shown in {site.time_zone}.")
        if not site.calendar:
            calendar = WorkCalendar(timezone=site.time_zone, holidays=DEMO_HOLIDAYS)
            sites.set_calendar(engine, site.name, calendar)
            console.print(f"Gave {site.name} a working-day calendar: {calendar.describe()}.")
        if readmodel.seed_demo_users(engine):
            console.print("Added the demo users to the directory.")
        elif given := readmodel.give_demo_passwords(engine):
            console.print(f"Demo users without a password got the demo one: {', '.join(given)}.")

    def _site_time_zone(self) -> str:
        """The demo's site zone: CAPA_SITE_TIME_ZONE when set, else one that is not UTC, so the tour shows times
        in a site's local time with its zone."""
        return os.environ.get("CAPA_SITE_TIME_ZONE") or DEMO_TIME_ZONE

    def _env(self) -> dict[str, str]:
        return {
            **os.environ,
            "TEMPORAL_ADDRESS": ADDRESS,
            "TEMPORAL_NAMESPACE": devstack.NAMESPACE,
            "CAPA_SITE_TIME_ZONE": self._site_time_zone(),
        }

    def _start_worker(self) -> None:
        queue = self.settings.task_queue
        worker = self.worker = devstack.spawn("worker", [str(devstack.venv_tool("capa")), "worker"], env=self._env())

        async def polled(progress: devstack.Progress) -> None:
            client = await self.server.connect()
            await devstack.wait_polling(
                worker, client, queue, WORKER_START_TIMEOUT.total_seconds(), poll=_POLL_SECONDS, progress=progress
            )

        self._starting(f"worker on task queue {queue}", polled)

    def _start_api(self) -> None:
        host, port = self.settings.api_host, self.settings.api_port
        if devstack.listening(host, port):
            raise StackError(f"port {port} on {host} is taken; stop what serves it or set CAPA_API_PORT")
        api = self.api = devstack.spawn("web app and API", [str(devstack.venv_tool("capa")), "api"], env=self._env())

        async def answering(progress: devstack.Progress) -> None:
            await devstack.wait_answering(
                api, self.api_url, "/healthz", API_START_TIMEOUT.total_seconds(), poll=_POLL_SECONDS, progress=progress
            )

        self._starting(f"web app and API on {self.api_url}", answering)

    @property
    def api_url(self) -> str:
        return f"http://{self.settings.api_host}:{self.settings.api_port}"

    @staticmethod
    def _starting(what: str, start: Callable[[devstack.Progress], Coroutine[Any, Any, None]]) -> None:
        """Run ``start`` (which waits until its process is ready), showing the wait."""
        with console.status(f"Starting {what}...") as status:
            asyncio.run(start(lambda seconds: status.update(f"Starting {what}... {seconds:.0f}s")))

    def watch(self) -> int:
        """Block until Ctrl-C (0) or until the server dies, or the worker or web app keeps dying (1).

        A worker or web app that exits is started again, as a service manager would: records wait meanwhile,
        nothing is lost. One that exits again and again within minutes has a fault to look at, so then all stops.
        """
        restarts: dict[str, list[float]] = {"worker": [], "web app": []}
        while True:
            server = self.server.process
            if server is not None and server.popen.poll() is not None:
                console.print(
                    f"[red]The Temporal dev server exited with code {server.popen.returncode}; stopping.[/red]"
                )
                return 1
            for name, process, start in (
                ("worker", self.worker, self._start_worker),
                ("web app", self.api, self._start_api),
            ):
                if process is None or process.popen.poll() is None:
                    continue
                now = time.monotonic()
                recent = [at for at in restarts[name] if now - at < _RESTART_WINDOW.total_seconds()]
                if len(recent) >= _RESTARTS:
                    console.print(
                        f"[red]The {name} exited with code {process.popen.returncode}, {_RESTARTS + 1} times within "
                        f"{_RESTART_WINDOW.total_seconds() / 60:.0f} minutes; its error is above. Stopping.[/red]"
                    )
                    return 1
                restarts[name] = [*recent, now]
                code = process.popen.returncode
                console.print(f"[yellow]The {name} exited with code {code}; starting it again.[/yellow]")
                try:
                    start()
                except StackError as exc:
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
        if self.server.process is not None:
            _terminate(self.server.process, "Temporal dev server", SERVER_STOP_TIMEOUT)
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

  for who in otto olivia maria; do echo {readmodel.DEMO_PASSWORD} | capa login $who; done
  ID=$(capa --as otto raise --title "Burr on housing edge" --description "Found at final inspection" \\
        --severity major --source inspection --owner olivia --product H-100 --lot L42 --quantity 12)
  capa --as olivia contain $ID --summary "Lot L42 quarantined" --disposition quarantine
  capa --as olivia show $ID
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


def _terminate(process: Process, name: str, timeout: timedelta) -> None:
    seconds = timeout.total_seconds()
    process.stop(seconds, on_timeout=lambda: _say(f"The {name} did not stop within {seconds:.0f}s; killing it."))
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
