"""The search attributes the Temporal UI and CLI filter records by: right after every step, written only on change."""

from datetime import timedelta

from sqlalchemy import Engine
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment

from models import search_attributes
from models.enums import CauseCategory, Disposition, RootCauseMethod
from models.payloads import (
    CompleteActionInput,
    ContainmentInput,
    PlanInput,
    PlannedAction,
    RootCauseInput,
)
from tests.workflows.harness import Capa, actor, raise_record, running_worker
from workflows.record import RecordWorkflow


async def _indexed(capa: Capa) -> tuple[object, ...]:
    """What a filter in the Temporal UI sees of the record."""
    found = (await capa.handle.describe()).typed_search_attributes
    return tuple(found.get(key) for key in search_attributes.KEYS)


async def _expected(capa: Capa) -> tuple[object, ...]:
    state = await capa.state()
    return state.stage.value, state.severity.value, state.owner, state.due_at


async def _upserts(capa: Capa) -> int:
    history = await capa.handle.fetch_history()
    return sum(e.event_type == EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES for e in history.events)


async def test_search_attributes_follow_every_step_and_are_written_only_when_they_change(
    env: WorkflowEnvironment, engine: Engine
) -> None:
    async with running_worker(env.client, engine) as queue:
        capa = await raise_record(env.client, queue)
        h = capa.handle
        assert await _indexed(capa) == await _expected(capa)

        await h.execute_update(
            RecordWorkflow.contain,
            ContainmentInput(actor=actor("olivia"), summary="Lot quarantined", disposition=Disposition.QUARANTINE),
        )
        assert await _indexed(capa) == await _expected(capa)
        await h.execute_update(
            RecordWorkflow.root_cause,
            RootCauseInput(
                actor=actor("olivia"),
                method=RootCauseMethod.FIVE_WHYS,
                cause="Deburring tool worn beyond its change interval",
                whys=["Burr on edge", "Tool worn", "No tool-life counter"],
                category=CauseCategory.MACHINE,
            ),
        )
        due = await env.get_current_time() + timedelta(days=10)
        await h.execute_update(
            RecordWorkflow.plan,
            PlanInput(
                actor=actor("olivia"),
                actions=[
                    PlannedAction(owner="olivia", due_at=due, description="Replace tool"),
                    PlannedAction(owner="oscar", due_at=due, description="Add tool-life counter"),
                ],
            ),
        )
        assert await _indexed(capa) == await _expected(capa)
        before = await _upserts(capa)

        # Both actions are due together: completing one changes neither the stage, the owner nor the due date.
        await h.execute_update(
            RecordWorkflow.complete_action,
            CompleteActionInput(actor=actor("olivia"), action_id="A1", evidence="A1 done, see WO-1"),
        )
        assert await _indexed(capa) == await _expected(capa)
        assert await _upserts(capa) == before

        # The last one moves the record on to verification, with a new due date.
        await h.execute_update(
            RecordWorkflow.complete_action,
            CompleteActionInput(actor=actor("oscar"), action_id="A2", evidence="A2 done, see WO-2"),
        )
        assert await _indexed(capa) == await _expected(capa)
        assert await _upserts(capa) == before + 1
        assert await capa.failed_workflow_tasks() == 0
