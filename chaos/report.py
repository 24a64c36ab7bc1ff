"""The tables a chaos run prints: what was done to the system, what the lifecycles went through, what held."""

import statistics
from collections import Counter

from rich.console import Console
from rich.table import Table

from chaos.run import ChaosReport


def render(report: ChaosReport, console: Console) -> None:
    console.print(_faults(report))
    console.print(_lifecycles(report))
    console.print(_notifications(report))
    console.print(_checks(report))
    verdict = "[bold green]PASS[/]" if report.passed else "[bold red]FAIL[/]"
    failed = sum(not check.passed for check in report.checks)
    console.print(f"{verdict}: {len(report.checks) - failed} of {len(report.checks)} checks held.")
    for check in report.checks:
        for known in check.known[:5]:
            console.print(f"  [yellow]{check.name}[/]: {known}")
        for failure in check.failures[:10]:
            console.print(f"  [red]{check.name}[/]: {failure}")
        if len(check.failures) > 10:
            console.print(f"  [red]{check.name}[/]: ... and {len(check.failures) - 10} more")


def _faults(report: ChaosReport) -> Table:
    table = Table(title="Faults injected", title_justify="left")
    table.add_column("fault")
    table.add_column("count", justify="right")
    table.add_column("detail")
    kinds = Counter(fault.what for fault in report.faults)
    for what, count in kinds.items():
        instances = [f for f in report.faults if f.what == what]
        if what == "worker killed":
            detail = (
                f"one of {report.config.workers} worker(s) every {report.config.kill_every:g}s, each replaced at once"
            )
        else:
            detail = "; ".join(f"at {f.at:.0f}s: {f.detail}" for f in instances)
        table.add_row(what, str(count), detail)
    exits = len(report.unexpected_worker_exits)
    table.add_row("worker exits not injected", str(exits), "; ".join(report.unexpected_worker_exits[:3]))
    table.add_row("workflow tasks timed out", str(report.tasks.timed_out), "lost with a killed worker, retried")
    table.add_row("activities retried", str(report.tasks.activities_retried), "killed worker or database down")
    for (step, kind), count in sorted(report.refusals.items()):
        table.add_row(f"refused: {step}", str(count), f"{kind}; looked at the record, then sent again or not")
    return table


def _lifecycles(report: ChaosReport) -> Table:
    results = report.results
    table = Table(title="Lifecycles", title_justify="left")
    table.add_column("what")
    table.add_column("value", justify="right")
    durations = sorted(r.seconds for r in results)
    steps = [s for r in results for s in r.steps]
    table.add_row("records", str(len(results)))
    table.add_row(
        "planned to close / to be cancelled",
        f"{sum(not r.plan.cancel for r in results)} / {sum(r.plan.cancel for r in results)}",
    )
    table.add_row("steps sent", str(len(steps)))
    table.add_row("clocks left to run late", str(sum(s.late for s in steps)))
    if durations:
        table.add_row("lifecycle seconds (median / max)", f"{statistics.median(durations):.1f} / {durations[-1]:.1f}")
    table.add_row("workflow histories", str(report.histories))
    table.add_row("run seconds", f"{report.seconds:.0f}")
    return table


def _notifications(report: ChaosReport) -> Table:
    tally = report.escalations
    table = Table(title="Escalations and outbox", title_justify="left")
    table.add_column("what")
    table.add_column("count", justify="right")
    table.add_row("escalations due before their step was sent", str(tally.due))
    table.add_row("escalations in the timelines", str(tally.fired))
    table.add_row("  of which due as the step landed (either way is right)", str(tally.optional))
    table.add_row("outbox log rows for escalations", str(tally.outbox_rows))
    for status, count in sorted(report.outbox.items()):
        table.add_row(f"outbox rows {status}", str(count))
    return table


def _checks(report: ChaosReport) -> Table:
    table = Table(title="Checks", title_justify="left")
    table.add_column("check")
    table.add_column("checked", justify="right")
    table.add_column("result")
    table.add_column("detail")
    for check in report.checks:
        result = "[green]pass[/]" if check.passed else f"[red]FAIL ({len(check.failures)})[/]"
        if check.passed and check.known:
            result = f"[yellow]pass, {len(check.known)} known[/]"
        table.add_row(check.name, str(check.checked), result, check.detail)
    return table
