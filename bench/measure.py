"""The measurements: lifecycles and their steps, many parked records, many deadlines due in one second."""

import asyncio
import itertools
import json
import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, text

from bench.drivers import Driver, lifecycle_steps, wait_review
from client.errors import CapaError, ErrorKind
from models.enums import EventKind

# Actions of a plan when nothing sets a due time: far beyond the run, so only the bench's own deadlines fire.
_FAR = timedelta(days=1)
_POLL = 0.5
# Lifecycles whose histories are measured, from the end of each run: describing every one would load the server.
_HISTORY_SAMPLE = 20
_RECORD_ID = re.compile(r"\b[A-Z]{2,}-\d{4}-\d+\b")


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), nearest rank; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass
class LifecycleRun:
    side: str
    concurrency: int
    lifecycles: int
    seconds: float
    step_seconds: list[float] = field(default_factory=list)
    # Lifecycles abandoned because the client layer gave up waiting (its 15 s / 20 s limits): the overload signal.
    failed: int = 0
    # Why they were given up: the client layer's message, its record id left out, and how often.
    reasons: dict[str, int] = field(default_factory=dict)
    # Steps answered "pending" (the workers busy beyond the client's patience), followed to their outcome.
    pending: int = 0
    # History per lifecycle (the record and its alarm workflows), over a sample of the run's records: bytes,
    # events and the server's state transitions.
    history_bytes: float | None = None
    history_events: float | None = None
    state_transitions: float | None = None
    # CPU seconds each process used during the run (server, workers, API, the users' own process).
    cpu_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def per_second(self) -> float:
        """Lifecycles that reached closed, per second."""
        return (self.lifecycles - self.failed) / self.seconds if self.seconds else math.nan


async def run_lifecycles(driver: Driver, *, concurrency: int, lifecycles: int, actions: int) -> LifecycleRun:
    """``concurrency`` users take records from raise to closed, back to back, until ``lifecycles`` are done."""
    tickets = itertools.count()
    steps = lifecycle_steps(actions)
    run = LifecycleRun(driver.name, concurrency, lifecycles, 0.0)

    closed: list[str] = []

    async def lifecycle() -> None:
        record_id = await driver.open()
        due: datetime | None = None
        for name, number in steps:
            if name == "review":
                await wait_review(driver, record_id, due)
            plan_due = datetime.now(UTC) + _FAR if name == "plan" else None
            started = time.perf_counter()
            due = await driver.step(record_id, name, actions=number, due_at=plan_due)
            run.step_seconds.append(time.perf_counter() - started)
        closed.append(record_id)

    async def user() -> None:
        while next(tickets) < lifecycles:
            try:
                await lifecycle()
            except CapaError as exc:
                if exc.kind is not ErrorKind.UNAVAILABLE:
                    raise
                run.failed += 1
                reason = _RECORD_ID.sub("<record>", exc.message)
                run.reasons[reason] = run.reasons.get(reason, 0) + 1

    pending_before = getattr(driver, "pending", 0)
    started = time.perf_counter()
    await asyncio.gather(*(user() for _ in range(concurrency)))
    run.seconds = time.perf_counter() - started
    run.pending = getattr(driver, "pending", 0) - pending_before
    measure_history = getattr(driver, "history", None)
    if measure_history is not None and closed:
        sample = closed[-_HISTORY_SAMPLE:]
        footprints = [await measure_history(record_id) for record_id in sample]
        run.history_bytes = sum(f.bytes for f in footprints) / len(sample)
        run.history_events = sum(f.events for f in footprints) / len(sample)
        run.state_transitions = sum(f.transitions for f in footprints) / len(sample)
    return run


async def open_many(
    driver: Driver, count: int, concurrency: int, checkpoint: Callable[[int], None] | None = None, every: int = 0
) -> tuple[list[str], float]:
    """Raise ``count`` records with ``concurrency`` users; call ``checkpoint(n)`` after every ``every`` records."""
    tickets = itertools.count()
    opened: list[str] = []

    async def user() -> None:
        while next(tickets) < count:
            try:
                opened.append(await driver.open())
            except CapaError as exc:
                if exc.kind is not ErrorKind.UNAVAILABLE:
                    raise
                continue
            if checkpoint is not None and every and len(opened) % every == 0:
                checkpoint(len(opened))

    started = time.perf_counter()
    await asyncio.gather(*(user() for _ in range(concurrency)))
    return opened, time.perf_counter() - started


async def steps_for_all(
    driver: Driver, record_ids: list[str], name: str, concurrency: int, **kwargs: object
) -> tuple[list[str], float]:
    """Take one step on every record, ``concurrency`` at a time; the records it was taken on, and the seconds."""
    queue = iter(record_ids)
    done: list[str] = []

    async def user() -> None:
        for record_id in queue:
            try:
                await driver.step(record_id, name, **kwargs)  # type: ignore[arg-type]
            except CapaError as exc:
                if exc.kind is not ErrorKind.UNAVAILABLE:
                    raise
                continue
            done.append(record_id)

    started = time.perf_counter()
    await asyncio.gather(*(user() for _ in range(concurrency)))
    return done, time.perf_counter() - started


@dataclass
class TimerRun:
    side: str
    deadlines: int
    due_at: datetime
    lateness: list[float]
    drained_after: float  # seconds from the due time to the last escalation


async def deadlines_in_one_second(
    driver: Driver,
    count: int,
    concurrency: int,
    fired: Callable[[set[str]], list[tuple[datetime, datetime]]],
) -> TimerRun:
    """Bring ``count`` records to one action each, all due in the same second; wait for every escalation.

    ``fired(ids)`` returns (scheduled, event time) of the escalations that have happened so far.
    """
    ids, _ = await open_many(driver, count, concurrency)
    ids, _ = await steps_for_all(driver, ids, "contain", concurrency)
    ids, _ = await steps_for_all(driver, ids, "triage", concurrency)
    ids, took = await steps_for_all(driver, ids, "root_cause", concurrency)
    # Planning takes about as long as the root causes did; the due second must still lie ahead when the last
    # plan arrives, so leave twice that and a little more, and land on a whole second.
    due_at = datetime.now(UTC) + timedelta(seconds=2 * took + 3)
    due_at = due_at.replace(microsecond=0) + timedelta(seconds=1)
    ids, _ = await steps_for_all(driver, ids, "plan", concurrency, actions=1, due_at=due_at)
    # A record the client layer gave up on (overload) has no deadline to wait for; it is left out, and counted.
    count = len(ids)
    wanted = set(ids)
    await asyncio.sleep(max(0.0, (due_at - datetime.now(UTC)).total_seconds()))
    # The dev server fires timers at a few dozen a second; allow ten times the skeleton's expected drain.
    deadline = time.monotonic() + max(120.0, count / 3.0)
    while True:
        events = fired(wanted)
        if len(events) >= count:
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"{driver.name}: only {len(events)} of {count} escalations fired")
        await asyncio.sleep(_POLL)
    lateness = [(at - scheduled).total_seconds() for scheduled, at in events]
    last = max(at for _, at in events)
    return TimerRun(driver.name, count, due_at, lateness, (last - due_at).total_seconds())


def product_escalations(engine: Engine) -> Callable[[set[str]], list[tuple[datetime, datetime]]]:
    """Escalation events of the given records as the read model has them: (scheduled_at, event time)."""

    def read(ids: set[str]) -> list[tuple[datetime, datetime]]:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT record_id, at, details FROM events WHERE kind = :kind"),
                {"kind": EventKind.ESCALATED.value},
            ).all()
        found = []
        for record_id, at, details in rows:
            if record_id in ids:
                moment = at if isinstance(at, datetime) else datetime.fromisoformat(at)
                scheduled = datetime.fromisoformat(json.loads(details)["scheduled_at"])
                found.append((scheduled, moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment))
        return found

    return read


def skeleton_escalations(fired_log: Path) -> Callable[[set[str]], list[tuple[datetime, datetime]]]:
    """Escalations the skeleton's worker wrote to its fired log."""

    def read(ids: set[str]) -> list[tuple[datetime, datetime]]:
        if not fired_log.exists():
            return []
        found = []
        for line in fired_log.read_text().splitlines():
            entry = json.loads(line)
            if entry["record_id"] in ids:
                found.append((datetime.fromisoformat(entry["scheduled_at"]), datetime.fromisoformat(entry["event_at"])))
        return found

    return read
