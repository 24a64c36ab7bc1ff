"""The overdue board's query (``core.readmodel.overdue_items``) on a read model of 10,000 and 100,000 records.

Rows are written straight into the tables, shaped like the worker writes them: nine records in ten closed (two
completed actions each), one in ten open, spread over the open stages, with two open actions while in the action
stage; one open record in ten is past its due time. So 100,000 records hold 10,000 open ones, about 1,000 of
them overdue, and 200,000-odd action rows.
"""

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, insert, text
from sqlalchemy.engine import make_url

from core import readmodel
from core.database import make_engine, scratch_schema
from core.migrations import ensure_schema
from core.settings import Settings
from models.enums import Stage
from models.tables import ActionRow, Nonconformity

_OPEN = [Stage.CONTAINMENT, Stage.ROOT_CAUSE, Stage.ACTION, Stage.VERIFICATION, Stage.EFFECTIVENESS]
_BATCH = 5_000
# A record's state_json is about this long once it has a plan (the column the worker fills for `capa show`).
_STATE_JSON = '{"id": "x", "padding": "' + "x" * 1500 + '"}'


@dataclass
class QueryFigure:
    backend: str
    rows: int
    overdue: int
    samples: list[float]


@contextmanager
def scratch_database(backend: str, workdir: Path, postgres_url: str) -> Iterator[Engine]:
    """A new empty read model: a SQLite file in the run's directory, or a PostgreSQL schema dropped afterwards."""
    if backend == "sqlite":
        engine = make_engine(f"sqlite:///{workdir / f'overdue-{uuid.uuid4().hex[:8]}.db'}")
        try:
            yield engine
        finally:
            engine.dispose()
        return
    with scratch_schema(Settings(database_url=postgres_url).sqlalchemy_url, "bench") as engine:
        yield engine


def rows(first: int, count: int, now: datetime) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Records numbered from ``first`` and their actions, as the module's docstring describes them."""
    records: list[dict[str, Any]] = []
    actions: list[dict[str, Any]] = []
    for number in range(first, first + count):
        record_id = f"NC-2026-{number:06d}"
        is_open = number % 10 == 0
        stage = _OPEN[(number // 10) % len(_OPEN)] if is_open else Stage.CLOSED
        # One open record in ten is late (by up to 30 days); the others are due within 60 days.
        late = is_open and (number // 50) % 10 == 3
        due = now - timedelta(hours=1 + number % 720) if late else now + timedelta(hours=1 + number % 1440)
        holder = "olivia" if is_open and stage is not Stage.ACTION else None
        raised = now - timedelta(days=number % 900)
        records.append(
            {
                "id": record_id,
                "title": "Burr on housing edge",
                "description": "Line 3 housings show a burr on the left edge",
                "severity": ("critical", "major", "minor")[number % 3],
                "source": "inspection",
                "owner": "olivia",
                "raised_by": "otto",
                "raised_at": raised,
                "stage": stage.value,
                "cycle": 1,
                "due_at": due if is_open else None,
                "escalation_level": 1 if late else 0,
                "holder": holder,
                "closed_at": None if is_open else raised + timedelta(days=40),
                "policy_name": "default",
                "policy_digest": "0" * 64,
                "last_seq": 12,
                "updated_at": now,
                "state_json": _STATE_JSON,
            }
        )
        if stage in (Stage.CONTAINMENT, Stage.ROOT_CAUSE):
            continue
        action_open = stage is Stage.ACTION
        for action in (1, 2):
            actions.append(
                {
                    "record_id": record_id,
                    "action_id": f"A{action}",
                    "cycle": 1,
                    "round": 1,
                    "kind": "corrective",
                    "owner": ("olivia", "oscar")[action - 1],
                    "description": "Replace deburring tool",
                    "status": "open" if action_open else "completed",
                    "due_at": due if action_open else raised + timedelta(days=20),
                    "original_due_at": due if action_open else raised + timedelta(days=20),
                    "escalation_level": 1 if action_open and late else 0,
                    "evidence": None if action_open else "WO-5531",
                    "completed_by": None if action_open else "olivia",
                    "completed_at": None if action_open else raised + timedelta(days=19),
                }
            )
    return records, actions


def fill(engine: Engine, first: int, count: int, now: datetime) -> None:
    for start in range(first, first + count, _BATCH):
        records, actions = rows(start, min(_BATCH, first + count - start), now)
        with engine.begin() as connection:
            connection.execute(insert(Nonconformity), records)
            if actions:
                connection.execute(insert(ActionRow), actions)
        if engine.dialect.name == "postgresql":
            with engine.begin() as connection:
                connection.execute(text("ANALYZE"))


def time_query(engine: Engine, now: datetime, runs: int) -> tuple[int, list[float]]:
    """Run the overdue board's query ``runs`` times after two warm-up runs; its item count and the seconds."""
    items = readmodel.overdue_items(engine, now)
    readmodel.overdue_items(engine, now)
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        readmodel.overdue_items(engine, now)
        samples.append(time.perf_counter() - started)
    return len(items), samples


def measure(backend: str, sizes: list[int], workdir: Path, postgres_url: str, runs: int) -> list[QueryFigure]:
    """Grow one read model through ``sizes`` (ascending) and time the query at each size."""
    figures = []
    now = datetime.now(UTC)
    with scratch_database(backend, workdir, postgres_url) as engine:
        ensure_schema(engine)
        readmodel.seed_demo_users(engine)
        filled = 0
        for size in sizes:
            fill(engine, filled, size - filled, now)
            filled = size
            overdue, samples = time_query(engine, now, runs)
            figures.append(QueryFigure(backend, size, overdue, samples))
    return figures


def postgres_reachable(url: str) -> bool:
    try:
        engine = create_engine(make_url(Settings(database_url=url).sqlalchemy_url))
        with engine.connect():
            pass
        engine.dispose()
    except Exception:  # any failure to connect means: leave PostgreSQL out, and the table says so
        return False
    return True
