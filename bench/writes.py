"""The read-model write of one step (the ``record_state`` activity), timed alone.

One thread, then many at once as the worker's activity threads make them, on a SQLite file and, when it is
reachable, a PostgreSQL schema of its own. Each call writes what a step in the action stage writes: the record's
row, its five actions and one new timeline entry. ``make bench`` does not run it: it times one activity, not the
product; ``python -m bench.writes`` prints its table.
"""

import argparse
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import structlog
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine
from temporalio.testing import ActivityEnvironment

from activities.records import RecordActivities
from bench.measure import percentile
from bench.overdue import postgres_reachable, scratch_database
from core.migrations import ensure_schema
from models.enums import ActionKind, EventKind, Severity, Source, Stage
from models.payloads import Action, CapaState, Clock, CompletionEntry, Event, RecordSnapshot
from models.policy import load_policy

RECORDS = 200
_T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
_DONE = CompletionEntry(action_id="A1", evidence="torque checked on 20 parts", on_time=True)
_POLICY = load_policy(None).for_severity(Severity.MAJOR)


def _snapshot(record: int, seq: int) -> RecordSnapshot:
    due = _T0 + timedelta(days=10)
    actions = [
        Action(
            id=f"A{n}",
            cycle=1,
            round=1,
            kind=ActionKind.CORRECTIVE,
            owner="oscar",
            description=f"Corrective action {n}",
            clock=Clock(holder="oscar", due_at=due, original_due_at=due, armed_at=_T0),
        )
        for n in range(1, 6)
    ]
    state = CapaState(
        id=f"NC-2026-{record:04d}",
        title="Burr on housing edge",
        description="Line 3 housings show a burr on the left edge",
        severity=Severity.MAJOR,
        source=Source.INSPECTION,
        product="H-200",
        lot="L-4711",
        quantity=120,
        raised_by="otto",
        raised_at=_T0,
        owner="olivia",
        policy=_POLICY,
        stage=Stage.ACTION,
        actions=actions,
    )
    event = Event(seq=seq, at=_T0, kind=EventKind.ACTION_COMPLETED, actor="oscar", details=_DONE)
    return RecordSnapshot(state=state, new_events=[event])


def _timed_calls(engine: Engine, threads: int, calls: int) -> tuple[list[float], float]:
    """``calls`` writes from ``threads`` threads, each to one of RECORDS records with a new timeline entry."""
    activity = RecordActivities(engine).record_state

    def one(number: int) -> float:
        snapshot = _snapshot(number % RECORDS + 1, number // RECORDS + 1)
        started = time.perf_counter()
        ActivityEnvironment().run(activity, snapshot)
        return time.perf_counter() - started

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        samples = list(pool.map(one, range(calls)))
    return samples, time.perf_counter() - started


@contextmanager
def _quiet() -> Iterator[None]:
    """The activity logs every write; a run of thousands is timed without printing them."""
    structlog.configure(logger_factory=structlog.ReturnLoggerFactory())
    try:
        yield
    finally:
        structlog.reset_defaults()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.writes", description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000, help="writes per row of the table (default 1000)")
    parser.add_argument("--threads", default="1,4,16", help="thread counts (default 1,4,16: the worker runs 16)")
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args(argv)
    console = Console()
    table = Table(title=f"record_state alone: one step's read-model write ({args.calls} per row)")
    for column in ("database", "threads", "p50", "p95", "p99", "writes/s"):
        table.add_column(column)
    backends = ["sqlite"] + (["postgresql"] if postgres_reachable(args.postgres_url) else [])
    with tempfile.TemporaryDirectory(prefix="capaflow-writes-") as workdir, _quiet():
        for backend in backends:
            for threads in (int(t) for t in args.threads.split(",")):
                with scratch_database(backend, Path(workdir), args.postgres_url) as engine:
                    ensure_schema(engine)
                    _timed_calls(engine, threads, min(args.calls, RECORDS))  # warm up: every row exists
                    samples, seconds = _timed_calls(engine, threads, args.calls)
                table.add_row(
                    backend,
                    str(threads),
                    *(f"{percentile(samples, q) * 1000:.1f} ms" for q in (50, 95, 99)),
                    f"{len(samples) / seconds:.0f}",
                )
    console.print(table)


if __name__ == "__main__":
    main()
