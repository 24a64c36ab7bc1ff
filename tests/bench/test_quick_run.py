"""``python -m bench --quick`` end to end, so the benchmark script keeps working as the product changes."""

import math
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# Each figure's rows, and for those with a ratio the column it is in (counted from the figure column).
FIGURES = {
    "Lifecycle throughput": 4,
    "Step latency": None,
    "CPU per lifecycle": None,
    "History per lifecycle": 4,
    "State transitions per lifecycle": 4,
    "Parked records: time to raise": 3,
    "Parked records: worker memory": None,
    "Parked records: server memory": None,
    "Overdue query": None,
    "Reports, all figures": None,
    "Timer lateness": None,
    "capa --help": None,
    "capa users list": None,
}


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("│").split("│")]


def test_quick_run_prints_every_figure_with_numeric_ratios() -> None:
    """A quick run exits 0 and prints every figure's rows (the HTTP API row too, and the CPU each side used), each
    ratio a number."""
    run = subprocess.run(
        [sys.executable, "-m", "bench", "--quick"], cwd=REPO, capture_output=True, text=True, timeout=180, check=False
    )
    assert run.returncode == 0, run.stdout + run.stderr
    rows = [_cells(line) for line in run.stdout.splitlines() if line.startswith("│")]
    for figure, ratio_column in FIGURES.items():
        found = [row for row in rows if row[0].startswith(figure)]
        assert found, f"no {figure} row in:\n{run.stdout}"
        if ratio_column is not None:
            assert all(math.isfinite(float(row[ratio_column])) for row in found), found
    for side in ("capaflow, client layer", "capaflow, through the HTTP API"):
        latency = [row for row in rows if row[0] == "Step latency" and row[2] == side]
        # One row per user count of the quick run (2 and 4), each with its percentiles in ms and its p99 ratio.
        assert len(latency) == 2, (side, rows)
        for row in latency:
            assert all(math.isfinite(float(cell.removesuffix(" ms"))) for cell in row[3:6]), row
            assert math.isfinite(float(row[6])), row
    cpu = [row for row in rows if row[0] == "CPU per lifecycle" and row[2] == "capaflow"]
    # Per concurrency, the server's and the worker's CPU per lifecycle and the total's ratio to the skeleton's.
    assert cpu
    for row in cpu:
        assert float(row[3]) > 0, row
        assert float(row[4]) > 0, row
        assert math.isfinite(float(row[8])), row
    timers = [row for row in rows if row[0] == "Timer lateness" and row[1] == "capaflow"]
    assert timers
    assert math.isfinite(float(timers[0][6])), timers


def test_read_model_write_bench_prints_a_row_per_database_and_thread_count() -> None:
    """``python -m bench.writes`` times record_state on SQLite (and PostgreSQL when reachable), each row in ms."""
    run = subprocess.run(
        [sys.executable, "-m", "bench.writes", "--calls", "40", "--threads", "1,4"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    rows = [_cells(line) for line in run.stdout.splitlines() if line.startswith("│")]
    assert [row[:2] for row in rows if row[0] == "sqlite"] == [["sqlite", "1"], ["sqlite", "4"]], run.stdout
    for row in rows:
        assert all(math.isfinite(float(cell.removesuffix(" ms"))) for cell in row[2:6]), row
