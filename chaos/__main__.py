"""``python -m chaos`` (``make chaos ARGS="--records 100"``): run the fault injection and print its tables.

Exit code 0 when every check held, 1 when one did not, 2 when the stack could not start.
"""

import argparse
import asyncio
import signal
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console

from chaos.report import render
from chaos.run import QUICK_TIMINGS, ChaosConfig, run_chaos
from core.devstack import StackError
from core.logging import configure_logging


def parse(argv: list[str]) -> ChaosConfig:
    defaults = ChaosConfig()
    parser = argparse.ArgumentParser(prog="python -m chaos", description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=defaults.records, help="lifecycles to run (%(default)s)")
    parser.add_argument("--rate", type=float, default=defaults.rate, help="records raised per second (%(default)s)")
    parser.add_argument("--workers", type=int, default=defaults.workers, help="worker processes (%(default)s)")
    parser.add_argument(
        "--kill-every", type=float, default=defaults.kill_every, help="seconds between SIGKILLs (%(default)s)"
    )
    parser.add_argument(
        "--outage", type=float, default=defaults.outage_seconds, help="seconds the database is down (%(default)s)"
    )
    parser.add_argument("--db", choices=["sqlite", "postgres"], default=defaults.db)
    parser.add_argument(
        "--postgres-url",
        default=defaults.postgres_url,
        help="a server where the run may create and drop a database of its own (%(default)s)",
    )
    parser.add_argument("--no-server-restart", action="store_true", help="leave the dev server running throughout")
    parser.add_argument("--seed", type=int, default=defaults.seed, help="seed of the records' plans (%(default)s)")
    parser.add_argument(
        "--quick", action="store_true", help="30 records, 4 s windows, a 10 s outage: a run of about two minutes"
    )
    parser.add_argument("--workdir", type=Path, help="where the logs and databases go (default: .data/chaos-<time>)")
    args = parser.parse_args(argv)
    config = ChaosConfig(
        records=args.records,
        rate=args.rate,
        workers=args.workers,
        kill_every=args.kill_every,
        outage_seconds=args.outage,
        db=args.db,
        postgres_url=args.postgres_url,
        restart_server=not args.no_server_restart,
        seed=args.seed,
        workdir=args.workdir or Path(".data") / f"chaos-{datetime.now(UTC):%Y%m%dT%H%M%S}",
    )
    if args.quick:
        config = replace(config, records=min(config.records, 30), rate=3.0, outage_seconds=10, timings=QUICK_TIMINGS)
    return config


def main(argv: list[str]) -> int:
    config = parse(argv)
    # SIGTERM stops the run like Ctrl-C does, so the server and workers it started are stopped too.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    console = Console(highlight=False)
    if not console.is_terminal:
        console.width = 130  # a log file or CI: wide enough that the tables keep one line per row
    # The run's own client logs only what goes wrong; the workers' JSON logs are in the work directory.
    configure_logging("console", "error")
    console.print(
        f"Chaos run: {config.records} lifecycles at {config.rate:g}/s, one of {config.workers} worker(s) killed "
        f"every {config.kill_every:g}s, a dev-server restart, {config.db} down for {config.outage_seconds:g}s; "
        f"logs in {config.workdir}"
    )
    try:
        report = asyncio.run(run_chaos(config))
    except StackError as exc:
        console.print(f"[red]error:[/] {exc}")
        return 2
    except KeyboardInterrupt:
        console.print(f"Interrupted; the server and workers it started are stopped. Logs in {config.workdir}.")
        return 130
    render(report, console)
    if report.passed:
        # Nothing to look into: keep only the logs' directory small.
        for name in ("temporal.db", "capaflow.db"):
            (config.workdir / name).unlink(missing_ok=True)
    else:
        console.print(f"Logs, policy and databases kept in {config.workdir}.")
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
