"""A chaos run: start the stack, drive the lifecycles, inject the faults while they run, then check everything."""

import asyncio
import contextlib
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from sqlalchemy import Engine
from sqlmodel import Session, col, select
from temporalio.client import Client, WorkflowQueryFailedError
from temporalio.service import RPCError

from chaos import checks
from chaos.checks import Check, EscalationTally, TaskTally
from chaos.lifecycle import Lifecycle, LifecycleResult, RecordPlan, Timings
from chaos.outage import Outage, PostgresDatabase, PostgresOutage, SqliteOutage, Window, hold_outage
from chaos.stack import WorkerFleet, connect
from client.records import CapaClient
from core import readmodel
from core.database import make_engine
from core.devstack import DevServer
from core.migrations import ensure_schema
from core.settings import Settings
from models.tables import Nonconformity

Backend = Literal["sqlite", "postgres"]

# How long the read model may take to reflect, after the outage, every step the workflows had taken by then;
# its lag is measured for up to ``_CATCH_UP_DEADLINE``.
_CATCH_UP_TARGET = 10.0
_CATCH_UP_DEADLINE = 120.0
_POLL_SECONDS = 0.5

DEFAULT_TIMINGS = Timings(window=8, escalate_after=(0, 3), effectiveness_after=3, margin=2, step_deadline=180)
QUICK_TIMINGS = Timings(window=4, escalate_after=(0, 2), effectiveness_after=2, margin=1.5, step_deadline=90)


@dataclass
class ChaosConfig:
    records: int = 300
    # Records raised per second: what a 2-core machine keeps up with while its workers are killed every 5 s
    # (lifecycles of about half a minute; docs/fault-injection.md gives the catch-up after the outage at 0.3 and
    # 0.4). At 0.5 work queues up and the catch-up takes tens of seconds.
    rate: float = 0.3
    workers: int = 2
    kill_every: float = 5.0
    max_kills: int | None = None  # None: keep killing until the last lifecycle ends
    restart_server: bool = True
    outage_seconds: float = 30.0
    db: Backend = "sqlite"
    postgres_url: str = "postgresql://postgres@127.0.0.1:5432/postgres"
    seed: int = 2026
    timings: Timings = DEFAULT_TIMINGS
    workdir: Path = Path(".data/chaos")


@dataclass
class Fault:
    what: str
    at: float  # seconds into the run
    detail: str


@dataclass
class ChaosReport:
    config: ChaosConfig
    results: list[LifecycleResult]
    faults: list[Fault]
    checks: list[Check]
    escalations: EscalationTally
    tasks: TaskTally
    unexpected_worker_exits: list[str]
    outbox: Counter[str]
    seconds: float
    histories: int = 0
    refusals: Counter[tuple[str, str]] = field(default_factory=Counter)

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)


async def run_chaos(config: ChaosConfig) -> ChaosReport:
    config.workdir.mkdir(parents=True, exist_ok=True)
    postgres = PostgresDatabase(config.postgres_url) if config.db == "postgres" else None
    if postgres is not None:
        await asyncio.to_thread(postgres.create)
        database_url = postgres.url
    else:
        database_url = f"sqlite:///{config.workdir / 'capaflow.db'}"
    policy = config.workdir / "policy.toml"
    policy.write_text(config.timings.policy_toml())
    settings = Settings(task_queue=f"chaos-{uuid.uuid4().hex[:8]}", database_url=database_url, policy_file=policy)
    engine = make_engine(settings.sqlalchemy_url)
    await asyncio.to_thread(ensure_schema, engine)
    await asyncio.to_thread(readmodel.seed_demo_users, engine)

    server = DevServer(config.workdir / "temporal.db", config.workdir / "temporal-server.log")
    fleet: WorkerFleet | None = None
    try:
        await server.start()
        client = await connect(server)
        fleet = WorkerFleet.for_settings(
            config.workers,
            config.workdir,
            {
                "TEMPORAL_ADDRESS": server.address,
                "TEMPORAL_NAMESPACE": "default",
                "CAPA_TASK_QUEUE": settings.task_queue,
                "CAPA_DATABASE_URL": database_url,
                "CAPA_POLICY_FILE": str(policy),
            },
        )
        await fleet.start(client, settings.task_queue)
        outage: Outage = (
            PostgresOutage(postgres) if postgres is not None else SqliteOutage(str(config.workdir / "capaflow.db"))
        )
        stack = _Stack(client, CapaClient(client, engine, settings), engine, server, fleet, outage)
        return await _Run(config, stack).drive()
    finally:
        if fleet is not None:
            fleet.stop()
        await asyncio.to_thread(server.stop)
        if postgres is not None:
            await asyncio.to_thread(postgres.drop)


@dataclass
class _Stack:
    client: Client
    capa: CapaClient
    engine: Engine
    server: DevServer
    fleet: WorkerFleet
    outage: Outage


class _Run:
    """The lifecycles of one run, and the faults injected while they go on."""

    def __init__(self, config: ChaosConfig, stack: _Stack) -> None:
        self.config = config
        self.stack = stack
        self.began = time.monotonic()
        self.faults: list[Fault] = []
        rng = random.Random(config.seed)  # noqa: S311 - reproducible record plans, not secrets
        plans = [RecordPlan.draw(number, rng) for number in range(config.records)]
        self.lifecycles = [Lifecycle(stack.capa, plan, config.timings) for plan in plans]
        self.window: Window | None = None
        self._paused = False  # kills wait while another fault is on
        self.catch_up: float | None = None
        self.caught_last: list[str] = []

    def fault(self, what: str, detail: str) -> None:
        self.faults.append(Fault(what, time.monotonic() - self.began, detail))

    async def drive(self) -> ChaosReport:
        done = asyncio.Event()
        killer = asyncio.create_task(self._kill_workers(done))
        launch = asyncio.create_task(self._launch())
        try:
            # The killer only ends early by failing (a worker that cannot start): then stop at once.
            await asyncio.wait({launch, killer}, return_when=asyncio.FIRST_COMPLETED)
            if killer.done():
                launch.cancel()
                killer.result()
            results = await launch
        finally:
            done.set()
            await asyncio.gather(killer, return_exceptions=True)
        self.stack.fleet.check_alive()
        return await self._check(results)

    async def _launch(self) -> list[LifecycleResult]:
        """Raise records at the configured rate; restart the server a third of the way in, cut the database at two."""
        config, stack = self.config, self.stack
        restart_at, outage_at = config.records // 3, (2 * config.records) // 3
        tasks = []
        outage: asyncio.Task[None] | None = None
        for number, lifecycle in enumerate(self.lifecycles):
            tasks.append(asyncio.create_task(lifecycle.run()))
            if number == restart_at and config.restart_server:
                self._paused = True
                await stack.fleet.wait_ready()
                downtime = await stack.server.restart()
                self._paused = False
                self.fault("dev server restarted", f"down {downtime:.1f}s, state file kept")
            if number == outage_at and config.outage_seconds > 0:
                outage = asyncio.create_task(self._cut_database())
            await asyncio.sleep(1 / config.rate)  # the arrival rate of new nonconformities
        results = list(await asyncio.gather(*tasks))
        if outage is not None:
            await outage
        return results

    async def _cut_database(self) -> None:
        """The outage runs alongside the lifecycles; then measure how long the read model takes to catch up."""
        self._paused = True
        await self.stack.fleet.wait_ready()
        self.window = await hold_outage(self.stack.outage, self.config.outage_seconds)
        self._paused = False
        self.fault("database unavailable", f"{self.config.db}, {self.window.seconds:.1f}s")
        self.catch_up, self.caught_last = await _catch_up(self.stack.client, self.stack.engine, self.lifecycles)

    async def _kill_workers(self, done: asyncio.Event) -> None:
        fleet, config = self.stack.fleet, self.config
        while not done.is_set():
            try:
                await asyncio.wait_for(done.wait(), config.kill_every)
            except TimeoutError:
                # No kill while the server restarts or the database is down: a worker starting then cannot
                # connect or check the schema and exits, a fault of its own; each fault is tested apart.
                if self._paused:
                    continue
                if config.max_kills is None or fleet.kills < config.max_kills:
                    pid = await fleet.kill_one()
                    self.fault("worker killed", f"SIGKILL pid {pid}, replaced")
            fleet.check_alive()

    async def _check(self, results: list[LifecycleResult]) -> ChaosReport:
        config, engine = self.config, self.stack.engine
        evidence = await checks.gather(self.stack.client, engine, results)
        escalation_check, outbox_check, escalations = checks.escalations_once(results, evidence, engine, config.timings)
        task_check, tasks = checks.workflow_tasks(evidence)
        found = [
            checks.expected_stages(results, evidence),
            checks.nothing_lost_or_doubled(results, evidence),
            checks.every_step_once(results, evidence),
            escalation_check,
            outbox_check,
            checks.read_model_matches(engine, evidence),
            task_check,
            checks.outage_steps(results, evidence, self.window, config.db),
        ]
        if self.window is not None:
            caught = Check("read model caught up after the outage", 1)
            if self.catch_up is None:
                caught.failures.append(f"still behind {_CATCH_UP_DEADLINE:.0f}s after the database returned")
            else:
                caught.detail = f"{self.catch_up:.1f}s after the database returned"
                if self.caught_last:
                    caught.detail += f" (last: {', '.join(self.caught_last[:3])})"
                if self.catch_up > _CATCH_UP_TARGET:
                    caught.failures.append(f"{caught.detail}, more than {_CATCH_UP_TARGET:.0f}s")
            found.append(caught)
        found.append(await checks.replay(evidence))
        refusals: Counter[tuple[str, str]] = Counter()
        for result in results:
            refusals.update(result.refusals)
        return ChaosReport(
            config=config,
            results=results,
            faults=self.faults,
            checks=found,
            escalations=escalations,
            tasks=tasks,
            unexpected_worker_exits=self.stack.fleet.unexpected_exits,
            outbox=checks.outbox_facts(engine),
            seconds=time.monotonic() - self.began,
            histories=len(evidence.histories),
            refusals=refusals,
        )


async def _catch_up(client: Client, engine: Engine, lifecycles: list[Lifecycle]) -> tuple[float | None, list[str]]:
    """Seconds from the database's return until the read model held every timeline entry the records had then,
    and the entries it held last (``NC-... #seq``); None while still behind at the deadline.

    What each record held at the return is read from its workflow afterwards (its entries stamped no later than
    the return); the read model is sampled from the return on. So the figure is the read model's lag, not the
    time the workflows take to answer a query while their workers are being killed.
    """
    returned, returned_at = time.monotonic(), datetime.now(UTC)
    wanted: dict[str, int] = {}

    async def ask(rid: str) -> None:
        # A record whose workflow cannot answer fails the checks later, with the reason.
        with contextlib.suppress(RPCError, WorkflowQueryFailedError):
            events = (await checks.query_state(client, rid)).events
            wanted[rid] = max((e.seq for e in events if e.at <= returned_at), default=0)

    asking = asyncio.gather(*(ask(lc.result.record_id) for lc in lifecycles if lc.result.record_id is not None))
    samples: list[tuple[float, dict[str, int]]] = []
    # Sampled until every record has answered, however long the workflows take to, and the deadline has passed.
    while True:
        samples.append((time.monotonic() - returned, await asyncio.to_thread(_stored_seqs, engine)))
        if asking.done():
            # The stored sequences only grow, so the first sample holding every record's entries is the figure.
            behind: list[str] = []
            for seconds, stored in samples:
                if all(stored.get(rid, 0) >= seq for rid, seq in wanted.items()):
                    return seconds, behind
                behind = [f"{rid} #{seq}" for rid, seq in wanted.items() if stored.get(rid, 0) < seq]
            if time.monotonic() - returned >= _CATCH_UP_DEADLINE:
                return None, behind
        await asyncio.sleep(_POLL_SECONDS)


def _stored_seqs(engine: Engine) -> dict[str, int]:
    with Session(engine) as session:
        return dict(session.exec(select(col(Nonconformity.id), col(Nonconformity.last_seq))).all())
