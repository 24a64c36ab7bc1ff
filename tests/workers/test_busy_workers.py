"""A step the workers do not answer within the client's patience is pending, not failed.

An overloaded site queues work and answers late: the caller is told the step was sent and will show on the record,
the step applies once a worker takes it, and the caller can follow it to its outcome (the client layer's
``step_outcome``, the HTTP API's 202 and its ``Location``). Sending it again is never needed.
"""

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import Engine
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from api.app import create_app
from client.errors import CapaError, ErrorKind, StepPending
from client.records import CapaClient
from core import accounts
from core.database import make_engine
from core.migrations import ensure_schema
from core.settings import Settings
from models.enums import Disposition, EventKind, Stage
from models.payloads import ContainmentStep
from tests.builders import raise_burr
from tests.cli.conftest import serving
from tests.conftest import number_records_apart, seed_directory, start_dev_server
from tests.policies import EARLIER, EARLIER_TOML
from tests.workers.harness import eventually
from worker import WORKFLOWS, build_activities

PASSWORD = "correct horse battery staple"
CAPA = Path(sys.executable).with_name("capa")


async def run_capa(api_url: str, token: str, *args: str) -> subprocess.CompletedProcess[bytes]:
    """``capa ARGS`` through the API at ``api_url``, acting with the API token ``token``."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("CAPA_")}
    environment |= {"CAPA_API_URL": api_url, "CAPA_TOKEN": token}
    process = await asyncio.create_subprocess_exec(
        str(CAPA), *args, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return subprocess.CompletedProcess([str(CAPA), *args], process.returncode, out, err)


@asynccontextmanager
async def worker_on(client: Client, settings: Settings) -> AsyncIterator[None]:
    """A worker that keeps no record cached, so a step sent after it stopped waits on the shared queue."""
    engine = make_engine(settings.sqlalchemy_url)
    with ThreadPoolExecutor(max_workers=4) as executor:
        async with Worker(
            client,
            task_queue=settings.task_queue,
            workflows=WORKFLOWS,
            activities=build_activities(client, engine=engine, policy=EARLIER, settings=settings),
            activity_executor=executor,
            max_cached_workflows=0,
        ):
            yield


async def at_rest(client: Client, record_id: str) -> bool:
    """Whether the record has no activity running and its last workflow task is done. A worker stopped before
    that may take the task the last activity's result schedules and never answer it; Temporal then drops the
    steps it admitted meanwhile when that task times out, and reports them lost (a worker that dies mid-task
    loses them the same way; the caller is told to look at the record and send the step again)."""
    raw = (await client.get_workflow_handle(record_id).describe()).raw_description
    return not raw.pending_activities and not raw.HasField("pending_workflow_task")


@pytest_asyncio.fixture(scope="module")
async def dev_server() -> AsyncIterator[WorkflowEnvironment]:
    """A dev server of this module's own. Until a worker takes a step, Temporal holds it in the server's memory
    only (an admitted update); the session's server, busy with thousands of other tests' workflows, may drop it
    from its cache, and the step is then reported lost (``step_outcome``'s NOT_FOUND). These tests follow steps
    that must be kept, so they run where nothing else competes for that cache."""
    async with await start_dev_server() as environment:
        yield environment


def _site(dev_server: WorkflowEnvironment, tmp_path: Path, queue: str) -> tuple[Settings, Engine, CapaClient]:
    """A read model with the test directory, and a client whose patience with the workers is two seconds."""
    policy = tmp_path / "policy.toml"
    policy.write_text(EARLIER_TOML)
    settings = Settings(
        policy_file=policy,
        step_wait=2,
        task_queue=f"{queue}-{uuid.uuid4()}",
        database_url=f"sqlite:///{tmp_path / 'capaflow.db'}",
        secret_key="k" * 64,
        temporal_address=dev_server.client.service_client.config.target_host,
    )
    engine = make_engine(settings.sqlalchemy_url)
    ensure_schema(engine)
    seed_directory(engine)
    number_records_apart(engine)
    return settings, engine, CapaClient(dev_server.client, engine, settings)


async def test_a_step_nobody_answers_in_time_is_pending_and_applies_when_a_worker_takes_it(
    dev_server: WorkflowEnvironment, tmp_path: Path
) -> None:
    # The workers polled the queue a moment ago and none answers now: the front ends' patience runs out first.
    settings, engine, capa = _site(dev_server, tmp_path, "busy")
    accounts.set_password(engine, "maria", PASSWORD)
    token = accounts.create_token(engine, "maria", "tests", created_by="ada")[1]
    mikes = accounts.create_token(engine, "mike", "tests", created_by="ada")[1]
    async with worker_on(dev_server.client, settings):
        record_id = await raise_burr(capa)
        await eventually(lambda: at_rest(dev_server.client, record_id), 30, f"{record_id} at rest")

    with pytest.raises(StepPending) as pending:
        await capa.take_step(
            record_id, "olivia", ContainmentStep(summary="Lot quarantined", disposition=Disposition.QUARANTINE)
        )
    assert pending.value.kind is ErrorKind.PENDING
    assert pending.value.message.startswith(f"{record_id}: containment is sent but not applied yet")
    assert "do not send it again" in pending.value.message

    app = create_app(settings, capa)
    transport = httpx.ASGITransport(app=app)
    bearer = {"Authorization": f"Bearer {token}"}
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://testserver", headers=bearer) as http,
        serving(app) as api_url,
    ):
        # Through the HTTP API the same answer is a 202 whose Location is where the outcome will be.
        sent = await http.post(
            f"/api/v1/records/{record_id}/reassignment", json={"owner": "oscar", "reason": "olivia is on leave"}
        )
        assert sent.status_code == 202, sent.text
        assert sent.json()["kind"] == "Pending"
        outcome_at = sent.headers["Location"]
        assert outcome_at.startswith(f"/api/v1/records/{record_id}/steps/")
        still = await http.get(outcome_at)
        assert still.status_code == 202, still.text

        # capa says the same in one line on stderr, and exits 3: sent, not refused.
        why = ["--why", "Burr on edge", "--why", "Tool worn"]
        cli = await run_capa(
            api_url,
            mikes,
            *("root-cause", record_id, "--method", "five-whys", "--cause", "Worn tool", *why),
            *("--category", "machine"),
        )
        assert cli.returncode == 3, cli
        [line] = cli.stderr.decode().splitlines()
        assert line.startswith(f"pending: {record_id}: root cause is sent but not applied yet"), cli
        cli_step = line.rsplit("`capa outcome ", 1)[1].split("`")[0].split()[1]

        async with worker_on(dev_server.client, settings):
            contained = await capa.step_outcome(record_id, pending.value.update_id, wait=timedelta(seconds=30))
            assert contained.stage is Stage.ROOT_CAUSE
            answered = await http.get(outcome_at)
            assert answered.status_code == 200, answered.text
            # capa outcome follows the step capa was told about, and says what it did.
            followed = await run_capa(api_url, mikes, "outcome", record_id, cli_step, "--json")
            assert followed.returncode == 0, followed
            assert json.loads(followed.stdout)["record_id"] == record_id
            state = await capa.show(record_id)
        unknown = await http.get(f"/api/v1/records/{record_id}/steps/{uuid.uuid4()}")
        assert unknown.status_code == 404, unknown.text
        assert "send the step again" in unknown.json()["detail"]

    # Each step once, in the order sent, and nothing had to be sent twice.
    kinds = [e.kind for e in state.events]
    assert kinds.count(EventKind.CONTAINMENT_SUBMITTED) == 1
    assert kinds.count(EventKind.REASSIGNED) == 1
    assert kinds.count(EventKind.ROOT_CAUSE_SUBMITTED) == 1
    assert state.owner == "oscar"
    with pytest.raises(CapaError) as refused:
        await capa.step_outcome(record_id, "not-a-step", wait=timedelta(seconds=2))
    assert refused.value.kind is ErrorKind.NOT_FOUND


async def test_a_step_sent_while_no_worker_runs_is_pending_and_says_to_start_one(
    dev_server: WorkflowEnvironment, tmp_path: Path
) -> None:
    # No worker has ever polled this queue: the step is held by Temporal, not lost, and applies once one starts.
    settings, _, capa = _site(dev_server, tmp_path, "idle")
    with pytest.raises(CapaError) as unconfirmed:
        await raise_burr(capa)
    record_id = unconfirmed.value.message.split()[0]
    assert unconfirmed.value.message.startswith(f"{record_id} was raised, but no worker opened it")

    with pytest.raises(StepPending) as pending:
        await capa.take_step(
            record_id, "olivia", ContainmentStep(summary="Lot quarantined", disposition=Disposition.QUARANTINE)
        )
    assert f"no worker is running on task queue {settings.task_queue}" in pending.value.message
    assert "do not send it again" in pending.value.message

    async with worker_on(dev_server.client, settings):
        contained = await capa.step_outcome(record_id, pending.value.update_id, wait=timedelta(seconds=30))
    assert contained.stage is Stage.ROOT_CAUSE
    with pytest.raises(CapaError) as nobody:
        await capa.step_outcome("NC-2099-9999", pending.value.update_id, wait=timedelta(seconds=2))
    assert nobody.value.kind is ErrorKind.NOT_FOUND
    assert nobody.value.message == "NC-2099-9999 does not exist"
