"""Each record's timeline is a hash chain: it verifies, an edited or deleted row is named, a record in flight
seals its existing entries when its chain starts, and the database's chain is the workflow's."""

import json
import uuid

from sqlalchemy import Engine
from temporalio.testing import WorkflowEnvironment

from core import audit
from models import chain
from models.enums import EventKind
from models.payloads import ChainStartedEntry
from tests.audit.records import contain, edit, find_root_cause, stored, worker_before_the_chain
from tests.workflows.harness import raise_record, running_worker, running_worker_on


async def test_a_records_chain_verifies_and_is_its_workflows(env: WorkflowEnvironment, engine: Engine) -> None:
    """Every entry carries the hash of its content chained to the one before; the database recomputes the same
    chain, and it matches the one the workflow holds."""
    async with running_worker(env.client, engine) as queue:
        capa = await raise_record(env.client, queue)
        await contain(capa)
        await find_root_cause(capa)
        await stored(engine, capa)
        state = await capa.state()
        check = audit.verify_record(engine, state.id, live=state)

    assert [e.seq for e in state.events] == [1, 2, 3]
    previous = chain.GENESIS
    for event in state.events:
        assert event.hash == chain.event_hash(state.id, event, previous)
        previous = event.hash
    assert state.chain_head == state.events[-1].hash
    assert check.ok, check.line()
    assert check.compared_live
    assert check.head == state.chain_head
    assert check.line() == f"{state.id} OK: 3 entries, chain head {state.chain_head}, same as its workflow"


async def test_an_edited_entry_is_named(env: WorkflowEnvironment, engine: Engine) -> None:
    """Changing one entry's details in the database makes the check name that entry, and only it."""
    async with running_worker(env.client, engine) as queue:
        capa = await raise_record(env.client, queue)
        await contain(capa)
        await find_root_cause(capa)
        await stored(engine, capa)
    record_id = capa.handle.id
    details = {"disposition": "quarantine", "summary": "Nothing to contain"}
    sql = "UPDATE events SET details = :details WHERE record_id = :id AND seq = 2"
    edit(engine, sql, details=json.dumps(details), id=record_id)

    check = audit.verify_record(engine, record_id)

    assert not check.ok
    assert str(check.mismatch) == f"{record_id} entry 2 (containment_submitted): its hash does not match its content"


async def test_an_edit_that_recomputes_the_hash_breaks_the_next_link(env: WorkflowEnvironment, engine: Engine) -> None:
    """Whoever rewrites an entry and its hash is caught at the entry after it, and by the workflow."""
    async with running_worker(env.client, engine) as queue:
        capa = await raise_record(env.client, queue)
        await contain(capa)
        await find_root_cause(capa)
        await stored(engine, capa)
        state = await capa.state()
    forged = state.events[1].model_copy(update={"actor": "oscar"})
    sql = "UPDATE events SET actor = 'oscar', hash = :hash WHERE record_id = :id AND seq = 2"
    edit(engine, sql, hash=chain.event_hash(state.id, forged, state.events[0].hash or ""), id=state.id)

    assert str(audit.verify_record(engine, state.id).mismatch).startswith(f"{state.id} entry 3 (root_cause_submitted)")
    mismatch = audit.verify_record(engine, state.id, live=state).mismatch
    assert str(mismatch).startswith(f"{state.id} entry 3 ")


async def test_a_deleted_entry_is_caught(env: WorkflowEnvironment, engine: Engine) -> None:
    """A row taken out of the middle leaves a gap; the last row taken out falls short of what the record's row
    reflects."""
    async with running_worker(env.client, engine) as queue:
        first = await raise_record(env.client, queue)
        second = await raise_record(env.client, queue)
        for capa in (first, second):
            await contain(capa)
            await find_root_cause(capa)
            await stored(engine, capa)
    edit(engine, "DELETE FROM events WHERE record_id = :id AND seq = 2", id=first.handle.id)
    edit(engine, "DELETE FROM events WHERE record_id = :id AND seq = 3", id=second.handle.id)

    gap = audit.verify_record(engine, first.handle.id).mismatch
    short = audit.verify_record(engine, second.handle.id).mismatch

    assert str(gap) == f"{first.handle.id} entry 2: missing: the entry after 1 is 3"
    assert str(short).startswith(f"{second.handle.id} entry 3: missing: the record's row reflects 3 entries")


async def test_a_record_in_flight_seals_its_timeline_when_its_chain_starts(
    env: WorkflowEnvironment, engine: Engine
) -> None:
    """A record raised and contained before timelines were chained: its next step, on this release, first appends
    ``chain_started`` sealing entries 1 and 2, then its own entry chained to it. The whole timeline verifies, an
    edit of a sealed entry is named, and the chain is the workflow's."""
    queue = f"capa-audit-{uuid.uuid4()}"
    async with worker_before_the_chain(env.client, engine, queue):
        capa = await raise_record(env.client, queue)
        await contain(capa)
        await stored(engine, capa)
        before = await capa.state()
    assert before.chain_head is None
    assert all(e.hash is None for e in before.events)

    async with running_worker_on(env.client, engine, queue):
        await find_root_cause(capa)
        await stored(engine, capa)
        state = await capa.state()
        check = audit.verify_record(engine, state.id, live=state)

    kinds = [e.kind for e in state.events]
    assert kinds == [
        EventKind.RAISED,
        EventKind.CONTAINMENT_SUBMITTED,
        EventKind.CHAIN_STARTED,
        EventKind.ROOT_CAUSE_SUBMITTED,
    ]
    started = state.events[2]
    assert started.actor == "system"
    assert started.details == ChainStartedEntry(sealed=chain.seal(state.id, state.events[:2]))
    assert started.hash == chain.event_hash(state.id, started, started.details.sealed[-1])
    assert state.chain_head == state.events[3].hash
    assert check.ok, check.line()

    sql = "UPDATE events SET actor = 'mike' WHERE record_id = :id AND seq = 1"
    edit(engine, sql, id=state.id)
    mismatch = audit.verify_record(engine, state.id).mismatch
    assert str(mismatch) == f"{state.id} entry 1 (raised): its content does not match the hash its chain_started sealed"


async def test_a_record_never_chained_reads_as_such(env: WorkflowEnvironment, engine: Engine) -> None:
    """A record whose chain has not started yet verifies as unchained rather than failing."""
    queue = f"capa-audit-{uuid.uuid4()}"
    async with worker_before_the_chain(env.client, engine, queue):
        capa = await raise_record(env.client, queue)
        await contain(capa)
        await stored(engine, capa)

    check = audit.verify_record(engine, capa.handle.id)

    assert check.ok
    assert not check.chained
    assert "not chained" in check.line()
