"""A record from raise to closed through ``capa``, and its evidence kept after Temporal forgets it."""

from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DeleteWorkflowExecutionRequest
from temporalio.service import RPCError, RPCStatusCode

from models.payloads import Event
from models.sentences import sentence
from tests.cli.conftest import Capa, eventually

# A date given without a time, a year ahead: due at the end of that day (UTC).
NEXT_YEAR = (datetime.now(UTC) + timedelta(days=365)).date().isoformat()

LIFECYCLE_KINDS = [
    "raised",
    "containment_submitted",
    "root_cause_submitted",
    "plan_submitted",
    "action_completed",
    "action_completed",
    "verified",
    "effectiveness_due",
    "effectiveness_reviewed",
    "closed",
]


async def walk_to_closed(capa: Capa) -> str:
    """Raise a record and take it through every stage; return its id."""
    record_id = await capa.raise_record(owner="olivia")
    await capa.ok(
        "contain", record_id, "--summary", "Lot L42 quarantined", "--disposition", "quarantine", user="olivia"
    )
    await capa.ok(
        "root-cause",
        record_id,
        "--method",
        "five-whys",
        "--cause",
        "Deburring tool worn beyond its limit",
        "--why",
        "Burr left on the edge",
        "--why",
        "Tool life not tracked",
        "--category",
        "machine",
        user="olivia",
    )
    await capa.ok(
        "plan",
        record_id,
        "--action",
        "olivia:10d:Replace the deburring tool",
        "--action",
        f"oscar:{NEXT_YEAR}:Track tool life in the MES",
        user="olivia",
    )
    await capa.ok("complete-action", record_id, "A1", "--evidence", "Work order WO-981", user="olivia")
    await capa.ok("complete-action", record_id, "A2", "--evidence", "MES change CR-77", user="oscar")
    verified = await capa.ok(
        "verify", record_id, "--result", "pass", "--evidence", "Audit of 50 parts", "--json", user="maria"
    )
    assert verified.json()["stage"] == "effectiveness"

    async def review_due() -> bool:
        kinds = [event["kind"] for event in (await capa.show(record_id))["events"]]
        return "effectiveness_due" in kinds

    await eventually(review_due)
    reviewed = await capa.ok(
        "review", record_id, "--result", "effective", "--evidence", "No burrs in 3 lots", user="maria"
    )
    # The answer names what the step wrote on the timeline: the review, and the closure it led to.
    assert "(timeline #9 effectiveness_reviewed, #10 closed); stage now closed" in reviewed.out
    return record_id


async def test_raise_to_closed(capa: Capa) -> None:
    """The CLI takes a record from raise to closed; show --json has the documented fields, events in order."""
    record_id = await walk_to_closed(capa)

    shown = await capa.show(record_id)
    assert shown["id"] == record_id
    assert shown["stage"] == "closed"
    assert shown["severity"] == "major"
    assert shown["owner"] == "olivia"
    assert shown["due_at"] is None
    assert shown["escalation_level"] == 0
    assert [(a["id"], a["owner"], a["status"]) for a in shown["actions"]] == [
        ("A1", "olivia", "completed"),
        ("A2", "oscar", "completed"),
    ]
    assert all(action["due_at"] for action in shown["actions"])
    assert shown["actions"][1]["due_at"] == f"{NEXT_YEAR}T23:59:59Z"
    events: list[dict[str, Any]] = shown["events"]
    assert [event["kind"] for event in events] == LIFECYCLE_KINDS
    assert [event["seq"] for event in events] == list(range(1, len(LIFECYCLE_KINDS) + 1))
    assert [event["actor"] for event in events] == [
        "otto", "olivia", "olivia", "olivia", "olivia", "oscar", "maria", "system", "maria", "maria",
    ]  # fmt: skip
    assert all({"seq", "at", "kind", "actor", "details"} <= event.keys() for event in events)
    assert events[2]["details"]["whys"] == ["Burr left on the edge", "Tool life not tracked"]

    human = (await capa.ok("show", record_id, user="maria")).out
    assert record_id in human
    assert "Effectiveness review by maria, effective: No burrs in 3 lots" in human


async def test_closed_record_readable_after_its_history_is_deleted(capa: Capa) -> None:
    """After Temporal deletes a closed record's workflow, show prints its whole timeline (ISO 9001 10.2.2)."""
    record_id = await walk_to_closed(capa)
    before = await capa.show(record_id)

    await capa.env.client.workflow_service.delete_workflow_execution(
        DeleteWorkflowExecutionRequest(
            namespace=capa.env.client.namespace, workflow_execution=WorkflowExecution(workflow_id=record_id)
        )
    )

    async def deleted() -> bool:
        try:
            await capa.env.client.get_workflow_handle(record_id).describe()
        except RPCError as exc:
            return exc.status is RPCStatusCode.NOT_FOUND
        return False

    # The server deletes in the background; on a busy machine that can take longer than a step.
    await eventually(deleted, within=90)
    assert await capa.show(record_id) == before
    human = (await capa.ok("show", record_id, user="maria")).out
    for event in before["events"]:
        # Each entry's sentence begins on its row (the rest may wrap).
        assert sentence(Event.model_validate(event))[:40] in human
    refused = await capa("cancel", record_id, "--reason", "late", user="maria")
    assert refused.code == 1
    assert f"{record_id} is closed" in refused.err
