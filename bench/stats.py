"""Every management-review figure (``core.stats.compute``) on a read model of 10,000 and 100,000 records.

The records and actions are the overdue figure's (``bench.overdue.rows``: nine in ten closed, spread over 900
days); each also gets what the read-model writer keeps for the figures: its stays in each stage it reached
(containment to effectiveness for a closed one; a tenth of them extended, an eighth done late), its cause
category and escape point once past root cause, a recurrence link for one in twenty, and the first review of a
closed one (effective nine times in ten). So 100,000 records hold about 460,000 stays. The figures are asked for
the last twelve months, without filters: the widest a person asks for on the page.
"""

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, text

from bench import overdue
from core import readmodel
from core.migrations import ensure_schema
from core.stats import StatsFilter, compute
from models.enums import CauseCategory, Stage
from models.tables import ActionRow, Nonconformity, StageSpan

_STAGES = [Stage.CONTAINMENT, Stage.ROOT_CAUSE, Stage.ACTION, Stage.VERIFICATION, Stage.EFFECTIVENESS]
_CATEGORIES = [c.value for c in CauseCategory]
_ESCAPES = ["final inspection", "incoming inspection", "in-process check", "design review", "supplier audit"]
_BATCH = 5_000


@dataclass
class StatsFigure:
    backend: str
    rows: int
    spans: int
    samples: list[float]


def _with_figures(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The stays of each record, and its row's facts filled in place."""
    spans: list[dict[str, Any]] = []
    for record in records:
        number = int(record["id"].rsplit("-", 1)[1])
        stage = Stage(record["stage"])
        reached = _STAGES if stage is Stage.CLOSED else _STAGES[: _STAGES.index(stage) + 1]
        at: datetime = record["raised_at"]
        for place, step in enumerate(reached):
            length = timedelta(hours=6 + (number * (place + 3)) % (24 * 12))
            due = at + timedelta(days=7)
            is_open = stage is not Stage.CLOSED and place == len(reached) - 1
            done = None if is_open else at + length
            extended = number % 10 == place
            spans.append(
                {
                    "record_id": record["id"],
                    "cycle": 1,
                    "round": 1,
                    "stage": step.value,
                    "started_at": at,
                    "ended_at": done,
                    "seconds": None if is_open else length.total_seconds(),
                    "original_due_at": due,
                    "due_at": due + timedelta(days=7) if extended else due,
                    "extensions": 1 if extended else 0,
                    "done_at": done,
                    "on_time": None if done is None else number % 8 != place,
                }
            )
            at += length
        past_root_cause = len(reached) > 2
        closed = stage is Stage.CLOSED
        record |= {
            "cause_category": _CATEGORIES[number % len(_CATEGORIES)] if past_root_cause else None,
            "escape_point": _ESCAPES[number % len(_ESCAPES)] if past_root_cause else None,
            "recurrence_of": f"NC-2026-{number - 1:06d}" if number % 20 == 7 else None,
            "product": f"H-{number % 40:03d}",
            "first_review_at": record["closed_at"] if closed else None,
            "first_review_effective": number % 10 != 4 if closed else None,
        }
    return spans


def fill(engine: Engine, first: int, count: int, now: datetime) -> int:
    """Add ``count`` records from number ``first``, with their actions and stays; how many stays it wrote."""
    written = 0
    for start in range(first, first + count, _BATCH):
        records, actions = overdue.rows(start, min(_BATCH, first + count - start), now)
        spans = _with_figures(records)
        with engine.begin() as connection:
            connection.execute(insert(Nonconformity), records)
            if actions:
                connection.execute(insert(ActionRow), actions)
            connection.execute(insert(StageSpan), spans)
        written += len(spans)
    if engine.dialect.name == "postgresql":
        # What autovacuum does to a database in use: fresh statistics, and the visibility map that lets the
        # figures' queries read their covering indexes alone (rows just bulk-inserted are not yet marked visible).
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))
    return written


def time_figures(engine: Engine, now: datetime, runs: int) -> list[float]:
    """Compute every figure ``runs`` times after a warm-up run; the seconds each took."""
    flt = StatsFilter(since=(now - timedelta(days=364)).date(), until=now.date())
    compute(engine, flt, now=now)
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        compute(engine, flt, now=now)
        samples.append(time.perf_counter() - started)
    return samples


def measure(backend: str, sizes: list[int], workdir: Path, postgres_url: str, runs: int) -> list[StatsFigure]:
    """Grow one read model through ``sizes`` (ascending) and time the figures at each size."""
    figures = []
    now = datetime.now(UTC)
    with overdue.scratch_database(backend, workdir, postgres_url) as engine:
        ensure_schema(engine)
        readmodel.seed_demo_users(engine)
        filled = spans = 0
        for size in sizes:
            spans += fill(engine, filled, size - filled, now)
            filled = size
            figures.append(StatsFigure(backend, size, spans, time_figures(engine, now, runs)))
    return figures
