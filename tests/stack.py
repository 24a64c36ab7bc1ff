"""The whole product for front-end tests: a real dev server's client, a worker, a read model, the API app.

Every person of ``tests.conftest.seed_directory`` can sign in with ``PASSWORD`` and holds one API token
(``Stack.tokens``), so tests act as any role through the API or the web app.
"""

import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine
from starlette.types import ASGIApp
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from client.records import CapaClient
from core import accounts
from core.database import make_engine
from core.migrations import ensure_schema
from core.settings import Settings
from models.policy import load_policy
from tests.conftest import number_records_apart, seed_directory
from tests.policies import EARLIER_TOML
from worker import build_worker

PASSWORD = "shop-floor-passphrase"
PEOPLE = ("ada", "maria", "mike", "nina", "olivia", "oscar", "otto", "paul", "quinn", "greta")


@dataclass
class Stack:
    settings: Settings
    engine: Engine
    client: CapaClient
    app: ASGIApp
    tokens: dict[str, str] = field(default_factory=dict)

    def bearer(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[name]}"}


@asynccontextmanager
async def running_stack(
    dev_server: WorkflowEnvironment, workdir: Path, policy: str | None = None, **settings: object
) -> AsyncIterator[Stack]:
    """A worker on its own task queue and SQLite read model, and the app serving them; ``policy`` is TOML."""
    # The bundled default policy under the earlier rules unless the test brings its own.
    policy_file = workdir / "policy.toml"
    policy_file.write_text(EARLIER_TOML if policy is None else policy)
    config = Settings(
        task_queue=f"api-{uuid.uuid4()}",
        database_url=f"sqlite:///{workdir / 'capaflow.db'}",
        policy_file=policy_file,
        secret_key="k" * 64,
        temporal_address=dev_server.client.service_client.config.target_host,
        files_dir=settings.pop("files_dir", workdir / "files"),
        **settings,  # type: ignore[arg-type]
    )
    engine = make_engine(config.sqlalchemy_url)
    ensure_schema(engine)
    seed_directory(engine)
    number_records_apart(engine)
    client = CapaClient(dev_server.client, engine, config)
    stack = Stack(config, engine, client, create_app(config, client))
    for name in PEOPLE:
        accounts.set_password(engine, name, PASSWORD)
        stack.tokens[name] = accounts.create_token(engine, name, "tests", created_by="ada")[1]
    with ThreadPoolExecutor(max_workers=8) as executor:
        worker = build_worker(
            dev_server.client,
            task_queue=config.task_queue,
            engine=engine,
            policy=load_policy(config.policy_file),
            executor=executor,
            settings=config,
        )
        async with worker:
            yield stack
