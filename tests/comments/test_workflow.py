"""Comments through the record's workflow (time-skipping server): a timeline entry in the record's chain, a notice
to the people it mentions and to the record's watchers, in their notification lists; refused once the record has
ended."""

import pytest
from sqlalchemy import Engine
from temporalio.testing import WorkflowEnvironment

from client.errors import CapaError, ErrorKind
from client.records import CapaClient
from core import audit, notification_list
from core.readmodel import load_record_state
from core.settings import Settings
from models.enums import Disposition, EventKind, Stage
from models.payloads import (
    CancelInput,
    CommentEntry,
    CommentInput,
    CommentStep,
    ContainmentInput,
    ReassignInput,
)
from tests.workers.harness import eventually
from tests.workflows.harness import Capa, actor, raise_record, running_worker
from workflows.record import RecordWorkflow


async def _in_read_model(engine: Engine, capa: Capa) -> None:
    seq = len((await capa.state()).events)
    await eventually(
        lambda: (s := load_record_state(engine, capa.handle.id)) is not None and len(s.events) == seq,
        10,
        "the read model to hold every entry",
    )


def _subjects(engine: Engine, name: str) -> list[str]:
    return [row.subject for row in notification_list.list_mine(engine, name)]


async def test_a_comment_is_a_chained_entry_and_tells_the_people_it_mentions(
    env: WorkflowEnvironment, engine: Engine
) -> None:
    """Otto (an operator) comments mentioning olivia and quinn: the entry holds the text and the mentions, is in
    the record's verified chain, changes no stage; olivia and quinn each get an unread notification, otto none."""
    async with running_worker(env.client, engine) as queue:
        capa = await raise_record(env.client, queue)
        client = CapaClient(env.client, engine, Settings(task_queue=queue))
        text = "@olivia @quinn the burr shows on lot L-4712 as well"
        outcome = await client.take_step(capa.handle.id, "otto", CommentStep(text=text))
        state = await capa.state()
        await capa.activities_done()
        await _in_read_model(engine, capa)
        quinns = await eventually(lambda: notification_list.list_mine(engine, "quinn"), 10, "quinn's notification")

    entry = state.events[-1]
    assert (entry.kind, entry.actor, entry.seq) == (EventKind.COMMENTED, "otto", outcome.seq)
    assert entry.details == CommentEntry(text=text, mentions=["olivia", "quinn"])
    assert entry.hash is not None
    assert audit.verify_record(engine, capa.handle.id).ok
    assert state.stage is Stage.CONTAINMENT
    [quinn] = quinns
    assert quinn.kind == EventKind.COMMENTED.value
    assert quinn.read_at is None
    assert quinn.subject.startswith(f"[{capa.handle.id}] otto commented: @olivia @quinn the burr")
    assert text in quinn.body
    assert [s for s in _subjects(engine, "olivia") if "commented" in s] == [quinn.subject]
    assert _subjects(engine, "otto") == []
    assert notification_list.count_mine(engine, "quinn", unread_only=True) == 1


async def test_a_watcher_hears_the_records_notices_but_not_of_their_own_steps(
    env: WorkflowEnvironment, engine: Engine
) -> None:
    """Paul and mike watch the record: a comment mentioning nobody reaches paul but not mike, its author; mike's
    reassignment of the record to oscar reaches oscar and paul (a watcher), not mike."""
    async with running_worker(env.client, engine) as queue:
        capa = await raise_record(env.client, queue)
        await _in_read_model(engine, capa)
        client = CapaClient(env.client, engine, Settings(task_queue=queue))
        assert await client.watch(capa.handle.id, "paul")
        assert await client.watch(capa.handle.id, "mike")
        assert not await client.watch(capa.handle.id, "paul")  # already watching: nothing changes
        await capa.step(RecordWorkflow.comment, CommentInput(actor=actor("mike"), text="Containment by Friday"))
        reassign = ReassignInput(actor=actor("mike"), new_owner="oscar", reason="Olivia is on leave")
        await capa.step(RecordWorkflow.reassign, reassign)
        await capa.activities_done()
        pauls = await eventually(
            lambda: len(rows := notification_list.list_mine(engine, "paul")) == 2 and rows, 10, "paul's two notices"
        )

    assert [row.kind for row in pauls] == [EventKind.REASSIGNED.value, EventKind.COMMENTED.value]
    assert "mike commented: Containment by Friday" in pauls[1].subject
    assert EventKind.REASSIGNED.value in [row.kind for row in notification_list.list_mine(engine, "oscar")]
    assert notification_list.list_mine(engine, "mike") == []
    assert await client.watchers(capa.handle.id) == ["mike", "paul"]


async def test_a_watcher_hears_of_steps_that_tell_nobody_else(env: WorkflowEnvironment, engine: Engine) -> None:
    """Olivia's containment tells nobody at once; paul, who watches the record, still hears of it (the entry's
    sentence), and maria, who does not watch it, does not."""
    async with running_worker(env.client, engine) as queue:
        capa = await raise_record(env.client, queue)
        await _in_read_model(engine, capa)
        client = CapaClient(env.client, engine, Settings(task_queue=queue))
        assert await client.watch(capa.handle.id, "paul")
        contained = ContainmentInput(
            actor=actor("olivia"), summary="Lot quarantined", disposition=Disposition.QUARANTINE
        )
        await capa.step(RecordWorkflow.contain, contained)
        await capa.activities_done()
        pauls = await eventually(
            lambda: (rows := notification_list.list_mine(engine, "paul")) and rows, 10, "paul's notice"
        )

    [containment] = pauls
    assert containment.kind == EventKind.CONTAINMENT_SUBMITTED.value
    assert "Lot quarantined" in containment.subject
    assert notification_list.list_mine(engine, "maria") == []
    olivias = [row.kind for row in notification_list.list_mine(engine, "olivia")]
    assert EventKind.CONTAINMENT_SUBMITTED.value not in olivias, "nobody is told of their own step"


async def test_a_comment_naming_an_unknown_person_or_on_an_ended_record_is_refused(
    env: WorkflowEnvironment, engine: Engine
) -> None:
    """``@nobody`` is refused naming ``text`` (nothing recorded); once mike has cancelled the record a comment is
    refused as the wrong stage: it takes only quality's signed amendments."""
    async with running_worker(env.client, engine) as queue:
        capa = await raise_record(env.client, queue)
        client = CapaClient(env.client, engine, Settings(task_queue=queue))
        with pytest.raises(CapaError) as unknown:
            await client.take_step(capa.handle.id, "otto", CommentStep(text="@nobody look"))
        assert unknown.value.kind is ErrorKind.INVALID
        assert [p.field for p in unknown.value.problems] == ["text"]
        assert "@nobody" in unknown.value.message

        await capa.step(RecordWorkflow.cancel, CancelInput(actor=actor("mike"), reason="Raised twice"))
        await capa.activities_done()
        await _in_read_model(engine, capa)
        with pytest.raises(CapaError) as ended:
            await client.take_step(capa.handle.id, "otto", CommentStep(text="one more thing"))
        state = load_record_state(engine, capa.handle.id)

    assert ended.value.kind is ErrorKind.WRONG_STAGE
    assert "only quality's signed amendments" in ended.value.message
    assert state is not None
    assert [e.kind for e in state.events] == [EventKind.RAISED, EventKind.CANCELLED]
