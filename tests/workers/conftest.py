"""Worker processes on the shared dev server: each test module names its policy and any extra variables."""

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import Engine
from temporalio.testing import WorkflowEnvironment

from core.database import make_engine
from core.migrations import ensure_schema
from core.settings import Settings
from tests.conftest import number_records_apart, seed_directory
from tests.workers.harness import Workers, workers_for


@pytest.fixture
def worker_variables() -> dict[str, str]:
    """Environment variables a module adds for its worker processes."""
    return {}


@pytest.fixture
def settings(tmp_path: Path, policy_text: str) -> Settings:
    policy = tmp_path / "policy.toml"
    policy.write_text(policy_text)
    return Settings(
        task_queue=f"workers-{uuid.uuid4()}",
        database_url=f"sqlite:///{tmp_path / 'capaflow.db'}",
        policy_file=policy,
    )


@pytest.fixture
def engine(settings: Settings) -> Engine:
    db = make_engine(settings.sqlalchemy_url)
    ensure_schema(db)
    seed_directory(db)
    number_records_apart(db)
    return db


@pytest_asyncio.fixture
async def workers(
    dev_server: WorkflowEnvironment, settings: Settings, tmp_path: Path, worker_variables: dict[str, str]
) -> AsyncIterator[Workers]:
    async for started in workers_for(
        dev_server,
        tmp_path,
        CAPA_TASK_QUEUE=settings.task_queue,
        CAPA_DATABASE_URL=settings.database_url,
        CAPA_POLICY_FILE=str(settings.policy_file),
        **worker_variables,
    ):
        yield started
