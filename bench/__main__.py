"""``python -m bench``: run the benchmarks and print their tables (``make bench ARGS="--quick"``)."""

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import httpx
from rich.console import Console
from sqlalchemy import Engine

from bench import measure, overdue, report, stats
from bench.cli import command_times
from bench.drivers import USERS, ApiDriver, Driver, ProductDriver, SkeletonDriver
from bench.stack import Stack, machine_facts, rss_bytes
from client.records import CapaClient
from core import readmodel
from core.accounts import create_token
from core.database import make_engine
from core.devstack import Process
from core.logging import configure_logging
from core.settings import Settings

FIGURES = ("throughput", "latency", "scale", "reports", "timers", "cli")
POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
# How long the bench's HTTP users wait for an answer: well beyond the client layer's own limits (15 s, 20 s),
# so an overloaded API answers 503 (counted as given up) before the bench itself gives up.
HTTP_TIMEOUT = 60.0

# Every stage's window is a day, so nothing but the bench's own deadlines fires during a run; the effectiveness
# window is the shortest a policy allows, so a lifecycle can close; no reminders, one escalation at the due time.
# Its process rules are those the default policy sets a major record (the bench raises major ones): quality
# approves each plan, and the root cause gives three whys, the escape point and why it did not detect the defect.
BENCH_POLICY = """[policy]
name = "bench"
""" + "".join(
    f"""
[severity.{severity}]
containment = "1d"
root_cause = "1d"
action_plan = "1d"
verification = "1d"
effectiveness_after = "1s"
effectiveness_review = "1d"
remind_before = []
escalate_after = ["0s"]
plan_approval = true
min_whys = 3
escape_required = true
"""
    for severity in ("critical", "major", "minor")
)


@dataclass(frozen=True)
class Sizes:
    concurrency: tuple[int, ...]
    lifecycles: tuple[int, ...]
    latency_users: tuple[int, ...]
    actions: int
    scale_records: int
    scale_concurrency: int
    query_rows: tuple[int, ...]
    query_runs: int
    deadlines: int
    cli_runs: int
    # How often the reports figure computes every management-review figure, at each of ``query_rows``.
    stats_runs: int


FULL = Sizes(
    concurrency=(10, 50, 200),
    lifecycles=(60, 150, 400),
    latency_users=(10, 50),
    actions=5,
    scale_records=20_000,
    scale_concurrency=50,
    query_rows=(10_000, 100_000),
    query_runs=40,
    deadlines=2_000,
    cli_runs=10,
    stats_runs=10,
)
QUICK = Sizes(
    concurrency=(2, 4, 8),
    lifecycles=(2, 4, 8),
    latency_users=(2, 4),
    actions=1,
    scale_records=20,
    scale_concurrency=10,
    query_rows=(500, 2_000),
    query_runs=10,
    deadlines=20,
    cli_runs=2,
    stats_runs=3,
)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--only",
        default=",".join(FIGURES),
        help=f"comma-separated figures to run, of {', '.join(FIGURES)} (default: all)",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run of every figure")
    parser.add_argument("--scale-records", type=int, help="records parked for the scale figure (default 20000)")
    parser.add_argument("--deadlines", type=int, help="deadlines falling due in one second (default 2000)")
    parser.add_argument("--actions", type=int, help="actions per lifecycle's plan (default 5: 12 updates)")
    parser.add_argument("--postgres-url", default=os.environ.get("CAPA_BENCH_POSTGRES_URL", POSTGRES_URL))
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument(
        "--profile-worker", type=Path, help="run the product's worker under cProfile and write its stats here"
    )
    parser.add_argument("--keep", action="store_true", help="keep the run's directory (logs, databases)")
    parser.add_argument(
        "--concurrency", help="comma-separated user counts of the lifecycle figures (default 10,50,200)"
    )
    args = parser.parse_args(argv)
    if args.concurrency is not None:
        try:
            args.concurrency = tuple(int(n) for n in args.concurrency.split(","))
        except ValueError:
            parser.error(f"--concurrency: not a list of whole numbers: {args.concurrency}")
        if any(n < 1 for n in args.concurrency):
            parser.error("--concurrency: every user count must be at least 1")
    unknown = set(args.only.split(",")) - set(FIGURES)
    if unknown:
        parser.error(f"--only: unknown figure(s) {', '.join(sorted(unknown))}; choose from {', '.join(FIGURES)}")
    return args


def _backends(postgres_url: str, console: Console) -> list[str]:
    """SQLite, and PostgreSQL when it answers (the tables say when it did not)."""
    if overdue.postgres_reachable(postgres_url):
        return ["sqlite", "postgresql"]
    console.print(f"[yellow]PostgreSQL at {postgres_url} is not reachable: SQLite only.[/yellow]")
    return ["sqlite"]


async def run(args: argparse.Namespace, console: Console) -> dict[str, object]:
    sizes = QUICK if args.quick else FULL
    if args.concurrency:
        counts = dict(zip(sizes.concurrency, sizes.lifecycles, strict=True))
        sizes = replace(
            sizes,
            concurrency=args.concurrency,
            lifecycles=tuple(counts.get(n, 2 * n) for n in args.concurrency),
            latency_users=tuple(n for n in sizes.latency_users if n in args.concurrency),
        )
    actions = args.actions or sizes.actions
    records = args.scale_records or sizes.scale_records
    deadlines = args.deadlines or sizes.deadlines
    only = set(args.only.split(","))
    results: dict[str, object] = {"machine": machine_facts(), "quick": args.quick, "actions": actions}
    workdir = Path(tempfile.mkdtemp(prefix="capaflow-bench-"))
    policy = workdir / "policy.toml"
    policy.write_text(BENCH_POLICY)
    stack = Stack(workdir, policy, args.profile_worker.resolve() if args.profile_worker else None)
    try:
        with console.status("Starting the dev server and the workers..."):
            client = await stack.start()
        settings = Settings(
            temporal_address=stack.address,
            task_queue=stack.product_queue,
            database_url=stack.database_url,
            policy_file=policy,
        )
        engine = make_engine(settings.sqlalchemy_url)
        readmodel.seed_demo_users(engine)
        product = ProductDriver(CapaClient(client, engine, settings), client)
        skeleton = SkeletonDriver(client, stack.skeleton_queue)
        sides: tuple[Driver, Driver] = (product, skeleton)

        if only & {"throughput", "latency"}:
            runs = await lifecycles(stack, engine, sides, only=only, sizes=sizes, actions=actions, console=console)
            results["lifecycles"] = [
                {**asdict(r), "per_second": r.per_second, "latency_users": r.concurrency in sizes.latency_users}
                for r in runs
            ]

        if "timers" in only:
            timer_runs = []
            for driver, fired in (
                (product, measure.product_escalations(engine)),
                (skeleton, measure.skeleton_escalations(stack.fired_log)),
            ):
                with console.status(f"{driver.name}: {deadlines} deadlines due in the same second..."):
                    timer_runs.append(
                        await measure.deadlines_in_one_second(driver, deadlines, sizes.scale_concurrency, fired)
                    )
            results["timers"] = [asdict(r) for r in timer_runs]

        if "cli" in only:
            results["cli"] = await _command_line(stack, engine, settings.database_url, sizes.cli_runs, console)

        if "scale" in only:
            results["scale"] = await scale(stack, sides, records, sizes, console)
            query_figures = []
            for backend in _backends(args.postgres_url, console):
                with console.status(f"overdue query on {backend}: {', '.join(map(str, sizes.query_rows))} rows..."):
                    query_figures += await asyncio.to_thread(
                        overdue.measure, backend, list(sizes.query_rows), workdir, args.postgres_url, sizes.query_runs
                    )
            results["overdue_query"] = [asdict(f) for f in query_figures]

        if "reports" in only:
            stats_figures = []
            for backend in _backends(args.postgres_url, console):
                with console.status(f"reports on {backend}: {', '.join(map(str, sizes.query_rows))} records..."):
                    stats_figures += await asyncio.to_thread(
                        stats.measure, backend, list(sizes.query_rows), workdir, args.postgres_url, sizes.stats_runs
                    )
            results["stats_query"] = [asdict(f) for f in stats_figures]
    finally:
        stack.stop()
        if args.keep:
            console.print(f"The run's logs and databases are in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return results


async def _command_line(
    stack: Stack, engine: Engine, database_url: str, runs: int, console: Console
) -> list[dict[str, object]]:
    """The command line's figure: `capa users list` goes through the HTTP API, as an admin's API token."""
    api_url = stack.api_url or await stack.start_api()
    token = create_token(engine, "ada", "bench command line", created_by="bench")[1]
    with console.status("capa --help and capa users list, each a new process..."):
        times = await asyncio.to_thread(command_times, database_url, runs, api_url, token)
    return [{**asdict(t), "median": t.median} for t in times]


async def lifecycles(
    stack: Stack,
    engine: Engine,
    sides: tuple[Driver, Driver],
    *,
    only: set[str],
    sizes: Sizes,
    actions: int,
    console: Console,
) -> list[measure.LifecycleRun]:
    """Lifecycles on each side at each concurrency; with the latency figure, also through the HTTP API.

    The HTTP side is served by ``capa api`` on the stack, each person the bench acts as with an API token of
    their own, and runs at the latency figure's user counts only.
    """
    async with contextlib.AsyncExitStack() as cleanup:
        api: ApiDriver | None = None
        if "latency" in only:
            with console.status("Starting the HTTP API..."):
                base_url = await stack.start_api()
            # Each user keeps its connection open between its requests, as a browser or a script would.
            http = await cleanup.enter_async_context(
                httpx.AsyncClient(
                    base_url=base_url,
                    timeout=HTTP_TIMEOUT,
                    limits=httpx.Limits(max_connections=None, max_keepalive_connections=None),
                )
            )
            tokens = {name: create_token(engine, name, "bench", created_by="bench")[1] for name in USERS}
            api = ApiDriver(http, tokens)
        runs = []
        for concurrency, count in zip(sizes.concurrency, sizes.lifecycles, strict=True):
            if "throughput" not in only and concurrency not in sizes.latency_users:
                continue
            drivers: tuple[Driver, ...] = sides
            if api is not None and concurrency in sizes.latency_users:
                drivers = (*sides, api)
            for driver in drivers:
                with console.status(f"{driver.name}: {count} lifecycles, {concurrency} at a time..."):
                    before = stack.cpu_seconds()
                    run = await measure.run_lifecycles(
                        driver, concurrency=concurrency, lifecycles=count, actions=actions
                    )
                    after = stack.cpu_seconds()
                    run.cpu_seconds = {name: after[name] - before.get(name, 0.0) for name in after}
                    runs.append(run)
        return runs


async def scale(
    stack: Stack, sides: tuple[Driver, Driver], records: int, sizes: Sizes, console: Console
) -> dict[str, object]:
    """Raise ``records`` records on each side; memory of its worker and of the server as they park."""
    figures: dict[str, object] = {"records": records}
    every = max(1, records // 4)
    for driver, worker in zip(sides, (stack.product, stack.skeleton), strict=True):
        assert worker is not None
        assert stack.server is not None
        memory: list[dict[str, int]] = [
            {"records": 0, "worker": rss_bytes(worker.pid), "server": rss_bytes(stack.server.pid)}
        ]

        def checkpoint(count: int, worker: Process = worker, memory: list[dict[str, int]] = memory) -> None:
            assert stack.server is not None
            memory.append({"records": count, "worker": rss_bytes(worker.pid), "server": rss_bytes(stack.server.pid)})

        with console.status(f"{driver.name}: raising {records} records that park on their deadlines..."):
            _, seconds = await measure.open_many(driver, records, sizes.scale_concurrency, checkpoint, every)
        figures[driver.name] = {"seconds": seconds, "memory": memory}
    return figures


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    configure_logging("console", "warning")
    # Piped or captured (the test reads it), rich would wrap at 80 columns: keep each table row on one line.
    console = Console(highlight=False, width=None if Console().is_terminal else 160)
    results = asyncio.run(run(args, console))
    # The raw figures first: a long run must not be lost to a table that fails to render.
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2, default=str))
    report.print_tables(results, console)


if __name__ == "__main__":
    main()
