"""`capa audit verify`, `capa audit head` and `capa audit log`, run as the site's operator runs them: an OK line for
each chain that matches, an ``error:`` line naming the first entry that does not for each one that does not and
then exit 1; the admin log as a table or JSON."""

import asyncio
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import col, select
from temporalio.testing import WorkflowEnvironment

from core import accounts, audit
from core.adminlog import log_user_changes
from core.database import session_scope
from models.tables import AdminLogEntry, User
from tests.audit.records import contain, edit, find_root_cause, stored
from tests.workflows.harness import raise_record, running_worker

CAPA = Path(sys.executable).with_name("capa")


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str


def audit_entries(engine: Engine) -> list[AdminLogEntry]:
    with session_scope(engine) as session:
        return list(session.exec(select(AdminLogEntry).order_by(col(AdminLogEntry.seq))))


async def _capa(env: WorkflowEnvironment, engine: Engine, *args: str, temporal: str | None = None) -> Run:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("CAPA_")}
    environment |= {
        "TEMPORAL_ADDRESS": temporal or env.client.service_client.config.target_host,
        "TEMPORAL_NAMESPACE": env.client.namespace,
        "CAPA_DATABASE_URL": engine.url.render_as_string(hide_password=False),
    }
    process = await asyncio.create_subprocess_exec(
        str(CAPA), *args, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return Run(process.returncode, out.decode(), err.decode())


async def test_verify_says_ok_per_chain_and_names_the_first_edited_entry(
    env: WorkflowEnvironment, engine: Engine
) -> None:
    """All chains match: one OK line each (the open record compared with its workflow), exit 0. One entry edited
    in the database: exit 1 and one ``error:`` line naming the record, the entry and what differs."""
    async with running_worker(env.client, engine) as queue:
        capa = await raise_record(env.client, queue)
        await contain(capa)
        await find_root_cause(capa)
        await stored(engine, capa)
        record_id = capa.handle.id
        state = await capa.state()

        every = await _capa(env, engine, "audit", "verify", "--all")
        one = await _capa(env, engine, "audit", "verify", record_id)
        edit(engine, "UPDATE events SET actor = 'mike' WHERE record_id = :id AND seq = 3", id=record_id)
        edited = await _capa(env, engine, "audit", "verify", "--all")
        alone = await _capa(env, engine, "audit", "verify", record_id)

    assert every.code == 0, every.err
    assert every.out.splitlines() == [
        f"{record_id} OK: 3 entries, chain head {state.chain_head}, same as its workflow",
        f"admin log OK: 10 entries, chain head {audit.verify_admin_log(engine).head}; "
        "a removed tail shows only against a published head",
    ]
    assert one.code == 0, one.err
    assert one.out.splitlines() == every.out.splitlines()[:1]
    for run in (edited, alone):
        assert run.code == 1
        assert run.err.strip().splitlines() == [
            f"error: {record_id} entry 3 (root_cause_submitted): its hash does not match its content"
        ]


async def test_without_temporal_verify_checks_the_database_alone(env: WorkflowEnvironment, engine: Engine) -> None:
    """Temporal unreachable: a note says so, the database's chains are checked all the same."""
    async with running_worker(env.client, engine) as queue:
        capa = await raise_record(env.client, queue)
        await stored(engine, capa)
        state = await capa.state()

    run = await _capa(env, engine, "audit", "verify", capa.handle.id, temporal="127.0.0.1:9")

    assert run.code == 0, run.err
    assert run.out.splitlines() == [f"{state.id} OK: 1 entry, chain head {state.chain_head}"]
    assert run.err.startswith("note: Temporal at 127.0.0.1:9 did not answer")


async def test_verify_all_names_every_broken_chain(env: WorkflowEnvironment, engine: Engine) -> None:
    """Two of three records edited: --all still checks every chain, an OK line for each that matches (the admin
    log's too), one ``error:`` line for each edited one naming its first edited entry, then exit 1."""
    async with running_worker(env.client, engine) as queue:
        first, second, third = [await raise_record(env.client, queue) for _ in range(3)]
        for capa in (first, second, third):
            await stored(engine, capa)
        kept = await second.state()
        for capa in (first, third):
            edit(engine, "UPDATE events SET actor = 'mike' WHERE record_id = :id AND seq = 1", id=capa.handle.id)
        run = await _capa(env, engine, "audit", "verify", "--all")

    assert run.code == 1
    assert run.out.splitlines() == [
        f"{kept.id} OK: 1 entry, chain head {kept.chain_head}, same as its workflow",
        audit.verify_admin_log(engine).line(),
    ]
    assert run.err.strip().splitlines() == [
        f"error: {capa.handle.id} entry 1 (raised): its hash does not match its content" for capa in (first, third)
    ]


async def test_verify_needs_one_record_or_all(env: WorkflowEnvironment, engine: Engine) -> None:
    """Neither an ID nor --all, or an ID that is not one: a usage error, exit 2. A record that does not exist:
    one line saying so, exit 1."""
    neither = await _capa(env, engine, "audit", "verify")
    malformed = await _capa(env, engine, "audit", "verify", "NC-26-1")
    unknown = await _capa(env, engine, "audit", "verify", "NC-2099-9999")

    assert neither.code == 2
    assert "give one record ID or --all" in neither.err
    assert malformed.code == 2
    assert "'NC-26-1' is not a record id" in malformed.err
    assert unknown.code == 1
    assert unknown.err.splitlines() == ["error: no record NC-2099-9999"]


async def test_log_prints_a_role_change_with_its_before_and_after(env: WorkflowEnvironment, engine: Engine) -> None:
    """`capa audit log` shows the newest entries last, each change's fields before and after; --json gives each
    entry with its hash."""
    with session_scope(engine) as session:
        user = session.get(User, "olivia")
        assert user is not None
        before = user.model_copy()
        user.role = "manager"
        session.add(user)
        log_user_changes(session, "ada", before, user)
    accounts.set_password(engine, "otto", "a long enough password", actor="ada")
    entries = audit_entries(engine)

    table = await _capa(env, engine, "audit", "log", "--limit", "2")
    olivia = await _capa(env, engine, "audit", "log", "--target", "olivia", "--json")

    assert table.code == 0, table.err
    rows = [line.split() for line in table.out.splitlines() if line.split()[:1] in (["11"], ["12"])]
    assert [row[0] for row in rows] == ["11", "12"]
    assert rows[0][3:] == ["ada", "role_changed", "olivia", "role:", "owner", "→", "manager"]
    assert rows[1][3:] == ["ada", "password_set", "otto", "-"]
    assert olivia.code == 0, olivia.err
    assert [(e["seq"], e["action"], e["before"], e["after"], e["hash"]) for e in json.loads(olivia.out)] == [
        (
            5,
            "user_added",
            {},
            {"full_name": "Olivia Novak", "role": "owner", "manager": "mike", "email": None},
            entries[4].hash,
        ),
        (11, "role_changed", {"role": "owner"}, {"role": "manager"}, entries[10].hash),
    ]


async def test_head_prints_the_hash_over_every_chain_head(env: WorkflowEnvironment, engine: Engine) -> None:
    """`capa audit head` prints the one hash over all chains; any edit of a chain's last entry changes it."""
    async with running_worker(env.client, engine) as queue:
        capa = await raise_record(env.client, queue)
        await stored(engine, capa)
    first = await _capa(env, engine, "audit", "head")
    edit(engine, "UPDATE events SET hash = :h WHERE record_id = :id AND seq = 1", h="f" * 64, id=capa.handle.id)
    second = await _capa(env, engine, "audit", "head")

    assert first.code == 0, first.err
    assert second.code == 0, second.err
    assert second.out.strip() == audit.chain_head(engine)
    assert len(first.out.strip()) == 64
    assert first.out != second.out
