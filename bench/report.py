"""The tables ``python -m bench`` prints, one per figure, each beside its skeleton and its target."""

import math
from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.drivers import lifecycle_steps
from bench.measure import percentile

THROUGHPUT_TARGET = 0.9  # capaflow's lifecycles/s at least this share of the skeleton's
LATENCY_TARGET = 1.3  # capaflow's step p99 at most this multiple of the skeleton's update p99
TIMER_TARGET = 1.1  # capaflow's escalation lateness p99 at most this multiple of the skeleton's
CPU_TARGET = 1.15  # capaflow's CPU per lifecycle, all processes, at most this multiple of the skeleton's
HISTORY_TARGET = 1.5  # capaflow's history bytes per lifecycle at most this multiple of the skeleton's
QUERY_TARGET_MS = 50.0  # overdue board p95 at 100,000 rows
STATS_TARGET_MS = 1000.0  # every figure of the reports page at 100,000 records
MEMORY_GROWTH_LIMIT = 0.10  # worker memory from half the parked records to all of them


def ratio(value: float, base: float) -> float:
    return value / base if base and not math.isnan(base) else math.nan


def _ms(seconds: float) -> str:
    return "-" if math.isnan(seconds) else f"{seconds * 1000:.0f} ms"


def _mib(size: int) -> str:
    return f"{size / 2**20:.0f} MiB"


def _met(ok: bool) -> str:
    return "[green]met[/green]" if ok else "[red]not met[/red]"


def machine(facts: Mapping[str, str]) -> Table:
    table = Table(title="Machine", show_header=False)
    for key, value in facts.items():
        table.add_row(key, value)
    return table


def throughput(runs: Sequence[Mapping[str, Any]], actions: int) -> Table:
    table = Table(title=f"1. Lifecycle throughput (raise -> closed, {len(lifecycle_steps(actions))} updates each)")
    columns = (
        "figure",
        "concurrency",
        "capaflow /s",
        "skeleton /s",
        "ratio",
        f"target >= {THROUGHPUT_TARGET}",
        "gave up",
    )
    for column in columns:
        table.add_column(column)
    for concurrency in sorted({r["concurrency"] for r in runs}):
        product, skeleton = (
            next(r for r in runs if r["concurrency"] == concurrency and r["side"] == s) for s in _SIDES
        )
        share = ratio(product["per_second"], skeleton["per_second"])
        table.add_row(
            "Lifecycle throughput",
            str(concurrency),
            f"{product['per_second']:.2f}",
            f"{skeleton['per_second']:.2f}",
            f"{share:.2f}",
            _met(share >= THROUGHPUT_TARGET),
            f"{product['failed']} of {product['lifecycles']}" if product["failed"] else "none",
        )
    return table


def given_up(runs: Sequence[Mapping[str, Any]]) -> list[str]:
    """Steps answered pending, and why lifecycles were given up (the client layer's words, how often)."""
    lines = []
    for run in runs:
        if run.get("pending"):
            lines.append(f"  {run['side']} at {run['concurrency']}: {run['pending']} steps pending, then applied")
        for reason, count in sorted(run.get("reasons", {}).items(), key=lambda item: -item[1]):
            lines.append(f"  {run['side']} at {run['concurrency']}: {count} x {reason}")
    return lines


def latency(runs: Sequence[Mapping[str, Any]]) -> Table:
    table = Table(title="2. Step latency (one update's round trip; capaflow through its client layer and its HTTP API)")
    for column in ("figure", "users", "side", "p50", "p95", "p99", "p99 ratio", f"target <= {LATENCY_TARGET}"):
        table.add_column(column)
    for users in sorted({r["concurrency"] for r in runs if r["latency_users"]}):
        product, skeleton = (next(r for r in runs if r["concurrency"] == users and r["side"] == s) for s in _SIDES)
        api = next((r for r in runs if r["concurrency"] == users and r["side"] == API_SIDE), None)
        base = percentile(skeleton["step_seconds"], 99)
        table.add_row("Step latency", str(users), "skeleton", *_percentiles(skeleton["step_seconds"]), "", "")
        for run, label in ((product, "capaflow, client layer"), (api, "capaflow, through the HTTP API")):
            if run is None:
                table.add_row("Step latency", str(users), label, "-", "-", "-", "-", "not measured")
                continue
            p99 = ratio(percentile(run["step_seconds"], 99), base)
            table.add_row(
                "Step latency",
                str(users),
                label,
                *_percentiles(run["step_seconds"]),
                f"{p99:.2f}",
                _met(p99 <= LATENCY_TARGET),
            )
    return table


def cpu(runs: Sequence[Mapping[str, Any]], actions: int) -> Table:
    """CPU time per lifecycle, by process: on a machine whose cores the server and workers share, what a ratio costs."""
    table = Table(title=f"CPU per lifecycle ({len(lifecycle_steps(actions))} updates; ms of CPU, user and system)")
    columns = ("figure", "concurrency", "side", "server", "worker", "API", "users", "total", "total ratio")
    for column in (*columns, f"target <= {CPU_TARGET}"):
        table.add_column(column)
    for concurrency in sorted({r["concurrency"] for r in runs}):
        base = math.nan
        for side in (*_SIDES[::-1], API_SIDE):
            run = next((r for r in runs if r["concurrency"] == concurrency and r["side"] == side), None)
            if run is None or not run.get("cpu_seconds"):
                continue
            used = run["cpu_seconds"]
            worker = used.get("skeleton worker" if side == "skeleton" else "capaflow worker", 0.0)
            api = used.get("api", 0.0) if side == API_SIDE else 0.0
            parts = [used.get("server", 0.0), worker, api, used.get("users", 0.0)]
            per = [1000 * part / run["lifecycles"] for part in parts]
            total = sum(per)
            if side == "skeleton":
                base = total
            table.add_row(
                "CPU per lifecycle",
                str(concurrency),
                side,
                *(f"{value:.0f}" for value in per),
                f"{total:.0f}",
                "" if side == "skeleton" else f"{ratio(total, base):.2f}",
                "" if side == "skeleton" else _met(ratio(total, base) <= CPU_TARGET),
            )
    return table


def history(runs: Sequence[Mapping[str, Any]]) -> Table:
    """History bytes per lifecycle as the server counts them: the record and its alarm workflows."""
    table = Table(title="History per lifecycle (the record and its alarm workflows, 20 lifecycles sampled)")
    for column in ("figure", "concurrency", "capaflow", "skeleton", "ratio", f"target <= {HISTORY_TARGET}"):
        table.add_column(column)
    for concurrency in sorted({r["concurrency"] for r in runs}):
        product, skeleton = (
            next((r for r in runs if r["concurrency"] == concurrency and r["side"] == s), None) for s in _SIDES
        )
        if product is None or skeleton is None or not product.get("history_bytes") or not skeleton.get("history_bytes"):
            continue
        share = ratio(product["history_bytes"], skeleton["history_bytes"])
        table.add_row(
            "History per lifecycle",
            str(concurrency),
            f"{product['history_bytes']:,.0f}",
            f"{skeleton['history_bytes']:,.0f}",
            f"{share:.2f}",
            _met(share <= HISTORY_TARGET),
        )
        for key, label in (("history_events", "History events"), ("state_transitions", "State transitions")):
            if product.get(key) and skeleton.get(key):
                table.add_row(
                    f"{label} per lifecycle",
                    str(concurrency),
                    f"{product[key]:,.0f}",
                    f"{skeleton[key]:,.0f}",
                    f"{ratio(product[key], skeleton[key]):.2f}",
                    "",
                )
    return table


def _percentiles(samples: Sequence[float]) -> list[str]:
    return [_ms(percentile(samples, q)) for q in (50, 95, 99)]


def scale(figures: Mapping[str, Any]) -> Table:
    records = figures["records"]
    table = Table(title=f"3. Scale: {records} records parked on their deadlines")
    for column in ("figure", "capaflow", "skeleton", "ratio"):
        table.add_column(column)
    product, skeleton = figures["capaflow"], figures["skeleton"]
    rate = ratio(records / product["seconds"], records / skeleton["seconds"])
    table.add_row(
        "Parked records: time to raise",
        f"{product['seconds']:.1f} s ({records / product['seconds']:.0f}/s)",
        f"{skeleton['seconds']:.1f} s ({records / skeleton['seconds']:.0f}/s)",
        f"{rate:.2f}",
    )
    # Checkpoints fall every quarter of the records raised; a side whose client gave up on some has fewer.
    for index in range(max(len(product["memory"]), len(skeleton["memory"]))):
        mine = product["memory"][index] if index < len(product["memory"]) else None
        theirs = skeleton["memory"][index] if index < len(skeleton["memory"]) else None
        table.add_row(
            f"Parked records: worker memory at {(mine or theirs or {}).get('records', '-')}",
            _mib(mine["worker"]) if mine else "-",
            _mib(theirs["worker"]) if theirs else "-",
            f"{ratio(mine['worker'], theirs['worker']):.2f}" if index and mine and theirs else "",
        )
    last = product["memory"][-1]
    table.add_row("Parked records: server memory at the end", _mib(last["server"]), "(same server)", "")
    growth = worker_growth(product["memory"])
    table.add_row(
        "Parked records: worker memory growth, half to all",
        f"{growth:+.1%} (limit {MEMORY_GROWTH_LIMIT:.0%}: {_met(growth <= MEMORY_GROWTH_LIMIT)})",
        f"{worker_growth(skeleton['memory']):+.1%}",
        "",
    )
    return table


def worker_growth(memory: Sequence[Mapping[str, int]]) -> float:
    """How much the worker grew from the middle checkpoint to the last one."""
    middle = memory[len(memory) // 2]["worker"]
    return ratio(memory[-1]["worker"] - middle, middle)


def query(figures: Sequence[Mapping[str, Any]]) -> Table:
    table = Table(title="3. Scale: the overdue board's query from the read model")
    for column in (
        "figure",
        "backend",
        "records",
        "overdue items",
        "p50",
        "p95",
        f"target p95 < {QUERY_TARGET_MS:.0f} ms",
    ):
        table.add_column(column)
    largest = max(f["rows"] for f in figures)
    for figure in figures:
        p95 = percentile(figure["samples"], 95)
        table.add_row(
            "Overdue query",
            figure["backend"],
            f"{figure['rows']:,}",
            f"{figure['overdue']:,}",
            _ms(percentile(figure["samples"], 50)),
            _ms(p95),
            _met(p95 * 1000 < QUERY_TARGET_MS) if figure["rows"] == largest else "",
        )
    return table


def stats(figures: Sequence[Mapping[str, Any]]) -> Table:
    table = Table(title="3. Scale: every management-review figure (the reports page) from the read model")
    for column in (
        "figure",
        "backend",
        "records",
        "stage stays",
        "p50",
        "p95",
        f"target p95 < {STATS_TARGET_MS:,.0f} ms",
    ):
        table.add_column(column)
    largest = max(f["rows"] for f in figures)
    for figure in figures:
        p95 = percentile(figure["samples"], 95)
        table.add_row(
            "Reports, all figures",
            figure["backend"],
            f"{figure['rows']:,}",
            f"{figure['spans']:,}",
            _ms(percentile(figure["samples"], 50)),
            _ms(p95),
            _met(p95 * 1000 < STATS_TARGET_MS) if figure["rows"] == largest else "",
        )
    return table


def timers(runs: Sequence[Mapping[str, Any]]) -> Table:
    product, skeleton = (next(r for r in runs if r["side"] == s) for s in _SIDES)
    table = Table(title=f"4. Timer precision: {product['deadlines']} deadlines due in the same second")
    for column in ("figure", "side", "p50", "p99", "max", "last one after", "p99 ratio", f"target <= {TIMER_TARGET}"):
        table.add_column(column)
    p99 = ratio(percentile(product["lateness"], 99), percentile(skeleton["lateness"], 99))
    for run, share, verdict in ((skeleton, "", ""), (product, f"{p99:.2f}", _met(p99 <= TIMER_TARGET))):
        late = run["lateness"]
        table.add_row(
            "Timer lateness",
            run["side"],
            *(f"{percentile(late, q):.1f} s" for q in (50, 99)),
            f"{max(late):.1f} s",
            f"{run['drained_after']:.1f} s",
            share,
            verdict,
        )
    return table


def cli(figures: Sequence[Mapping[str, Any]]) -> Table:
    table = Table(title="5. The command line: a new process from start to exit")
    for column in ("command", "median", "slowest", "target", ""):
        table.add_column(column)
    for figure in figures:
        table.add_row(
            figure["command"],
            f"{figure['median']:.2f} s",
            f"{max(figure['seconds']):.2f} s",
            f"<= {figure['target']} s",
            _met(figure["median"] <= figure["target"]),
        )
    return table


_SIDES = ("capaflow", "skeleton")
API_SIDE = "capaflow-http"  # the product through its HTTP API (step latency only)


def print_tables(results: Mapping[str, Any], console: Console) -> None:
    console.print(machine(results["machine"]))
    runs = results.get("lifecycles")
    if runs:
        if any(r["concurrency"] for r in runs):
            console.print(throughput(runs, results["actions"]))
            for line in given_up(runs):
                console.print(line, markup=False, highlight=False)
        if any(r["latency_users"] for r in runs):
            console.print(latency(runs))
        console.print(cpu(runs, results["actions"]))
        console.print(history(runs))
    if "scale" in results:
        console.print(scale(results["scale"]))
    if results.get("overdue_query"):
        console.print(query(results["overdue_query"]))
    if results.get("stats_query"):
        console.print(stats(results["stats_query"]))
    if "timers" in results:
        console.print(timers(results["timers"]))
    if "cli" in results:
        console.print(cli(results["cli"]))
