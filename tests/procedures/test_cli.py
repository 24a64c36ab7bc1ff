"""Procedure-version pinning from the command line: `capa procedure show` and `capa procedure move ID... --reason`
(one signature per record), and `capa show` saying what the record was raised under."""

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from core.readmodel import publish_policy
from models.policy import parse_policy
from tests.cli.conftest import Capa, serving
from tests.procedures.conftest import POLICY_C, POLICY_D
from tests.stack import PASSWORD, running_stack


@pytest_asyncio.fixture(scope="module")
async def capa(dev_server: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Capa]:
    workdir = tmp_path_factory.mktemp("capa-procedure")
    async with running_stack(dev_server, workdir, policy=POLICY_C) as stack, serving(stack.app) as url:
        yield Capa(dev_server, stack.settings, stack.engine, url, workdir / "config")


async def test_quality_moves_two_records_with_one_command(capa: Capa) -> None:
    """Two records raised under rev C: `capa show` says so; with rev D in force `capa procedure show` lists both;
    a manager's move is refused for each (exit 1); quinn moves both (two signed entries) and none is behind."""
    first = await capa.raise_record()
    second = await capa.raise_record()
    shown = await capa.show(first)
    assert shown["raised_under"] == "raised under SOP-QA-014 rev C, policy 2026-11"
    text = (await capa.ok("show", first, user="maria")).out
    assert "raised under SOP-QA-014 rev C, policy 2026-11" in text

    publish_policy(capa.engine, parse_policy(POLICY_D))
    listed = (await capa.ok("procedure", "show", "--json", user="quinn")).json()
    assert listed["in_force"] == "SOP-QA-014 rev D, policy 2026-12"
    assert {first, second} <= {r["id"] for r in listed["behind"]}

    move = ("procedure", "move", first, second, "--reason", "SOP-QA-014 rev D issued", "--password-stdin")
    refused = await capa(*move, user="mike", stdin=f"{PASSWORD}\n")
    assert refused.code == 1, refused
    assert refused.err.count("not moved") == 2, refused.err
    assert "quality only" in refused.err

    moved = await capa(*move, "--json", user="quinn", stdin=f"{PASSWORD}\n")
    assert moved.code == 0, moved
    assert [m["record_id"] for m in moved.json()] == [first, second]
    for record_id in (first, second):
        state = await capa.query(record_id)
        assert state.policy is not None
        assert state.policy.raised_under() == "raised under SOP-QA-014 rev D, policy 2026-12"
        [entry] = [e for e in state.events if e.kind.value == "procedure_moved"]
        assert entry.actor == "quinn"
    after = (await capa.ok("procedure", "show", "--json", user="quinn")).json()
    assert not {first, second} & {r["id"] for r in after["behind"]}
