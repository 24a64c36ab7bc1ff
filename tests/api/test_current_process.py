"""The current process through the HTTP API: quality's triage, plan approval and review, criteria set in advance,
the no-adverse-effect check, amendments of a closed record and links both ways; and what a careless or hostile
client gets back (the field named, the rule named)."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from models.policy import CURRENT_RULES
from models.rules import who_does_what_table
from tests.api.flow import Api, later
from tests.policies import uniform_policy
from tests.stack import PASSWORD, running_stack

# The current rules with the bundled default's process keys for major records, and an effectiveness window of
# seconds, so a record closes within a test.
POLICY = uniform_policy(
    "api-current", remind_before=["30m"], escalate_after=["0s", "1h"], effectiveness_after="3s", rules=CURRENT_RULES
).replace(
    'escalate_after = ["0s", "1h"]\n',
    'escalate_after = ["0s", "1h"]\nplan_approval = true\nmin_whys = 3\nescape_required = true\n'
    'latest_action_due = "60d"\n',
)

ROOT_CAUSE = {
    "method": "five-whys",
    "cause": "Deburring tool used beyond its change interval",
    "whys": ["Burr on edge", "Deburring tool worn", "No tool-life counter"],
    "category": "machine",
    "escape_point": "Final visual inspection",
    "non_detection_cause": "The mating edge is not in the inspection instruction",
    "similar_checked": "Searched burr and housing: none on lines 1 and 2",
}
CRITERION = {
    "measure": "burr rejects at final inspection",
    "baseline": "2.1 %",
    "threshold": "< 0.2 %",
    "data_source": "QC database, line 3",
    "window_lots": 3,
}


@pytest_asyncio.fixture(scope="module")
async def api(dev_server: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Api]:
    async with running_stack(dev_server, tmp_path_factory.mktemp("api-current"), policy=POLICY) as stack:
        transport = httpx.ASGITransport(app=stack.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield Api(http, stack)


def signed(body: dict[str, Any]) -> dict[str, Any]:
    return {**body, "password": PASSWORD}


async def _triaged(api: Api, **fields: Any) -> str:
    record_id = await api.raise_record(defect_code="SURF", **fields)
    await api.ok(
        "quinn",
        "POST",
        f"/records/{record_id}/triage",
        signed({"severity_level": 4, "occurrence_level": 2, "decision": "capa", "customer_notification": True}),
    )
    return record_id


async def test_a_record_runs_the_current_process_to_closed_and_is_amended_after(api: Api) -> None:
    record_id = await _triaged(api)
    await api.ok(
        "olivia",
        "POST",
        f"/records/{record_id}/containment",
        {"summary": "Lot quarantined", "disposition": "quarantine", "quantity": 120},
    )
    await api.ok("olivia", "POST", f"/records/{record_id}/root-cause", ROOT_CAUSE)
    plan = {
        "actions": [{"owner": "oscar", "due_at": later(days=10), "description": "Replace deburring tool"}],
        "criteria": [CRITERION],
    }
    await api.ok("olivia", "POST", f"/records/{record_id}/plan", plan)
    waiting = await api.record(record_id)
    assert waiting["pending_plan"]["what"] == "plan"
    await api.ok("quinn", "POST", f"/records/{record_id}/plan-decision", signed({"approve": True}))
    await api.ok("oscar", "POST", f"/records/{record_id}/actions/A1/completion", {"evidence": "Tool replaced, WO-5531"})
    verification = {
        "result": "pass",
        "evidence": "50 housings checked, no burr",
        "no_adverse_effect": True,
        "adverse_effect_evidence": "Cycle time and dimensions unchanged on 50 housings",
    }
    await api.ok("mike", "POST", f"/records/{record_id}/verification", signed(verification))
    await api.until(lambda: api.record(record_id), lambda state: state["clock"] is not None)
    review = {
        "result": "effective",
        "evidence": "3 lots without a burr",
        "criteria_results": [{"criterion": 1, "met": True, "data": "0 of 3,600 housings rejected in lots 4712-4714"}],
    }
    closed = await api.ok("quinn", "POST", f"/records/{record_id}/review", signed(review))
    assert closed["stage"] == "closed"

    amended = await api.ok(
        "quinn",
        "POST",
        f"/records/{record_id}/amendments",
        signed({"field": "lot", "value": "L-4712", "reason": "Lot mistyped at intake"}),
    )

    [entry] = amended["entries"]
    assert entry["kind"] == "amended"
    assert (entry["details"]["previous"], entry["details"]["value"]) == ("L-4711", "L-4712")
    assert entry["details"]["signature"]["meaning"] == "approved: record corrected"
    state = await api.record(record_id)
    assert state["lot"] == "L-4712"
    assert state["triage"]["risk_class"] == "major"
    assert state["triage"]["customer_notification"] is True
    kinds = [event["kind"] for event in state["events"]]
    assert kinds[-3:] == ["effectiveness_reviewed", "closed", "amended"]
    assert "password" not in str(state)


async def test_links_read_both_ways(api: Api) -> None:
    first = await api.raise_record()
    second = await api.raise_record(links=[{"kind": "recurrence-of", "record_id": first}])
    await api.ok("olivia", "POST", f"/records/{first}/links", {"kind": "related", "record_id": second})

    on_first = await api.get("otto", f"/records/{first}/links")
    on_second = await api.get("otto", f"/records/{second}/links")

    assert sorted((link["kind"], link["record_id"]) for link in on_first["links"]) == [
        ("recurred-as", second),
        ("related", second),
    ]
    assert sorted((link["kind"], link["record_id"]) for link in on_second["links"]) == [
        ("recurrence-of", first),
        ("related", first),
    ]
    missing = await api.call(
        "olivia", "POST", f"/records/{first}/links", {"kind": "related", "record_id": "NC-2026-9999999"}
    )
    assert missing.status_code == 422
    assert missing.json()["errors"] == [{"field": "record_id", "message": "there is no record NC-2026-9999999"}]


async def test_the_process_endpoint_gives_the_table_the_matrix_and_the_codes(api: Api) -> None:
    process = await api.get("otto", "/process")

    assert process["rules"] == CURRENT_RULES
    rows = [
        f"| {d['step']} | {d['who']} | {'yes' if d['signed'] else 'no'} | {d['independence']} |"
        for d in process["who_does_what"]
    ]
    assert "\n".join(rows) in who_does_what_table()
    assert process["matrix"][4][4] == "critical"
    assert process["severity_levels"]["5"].startswith("critical")
    assert "SURF" in process["defect_codes"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"severity_level": 6, "occurrence_level": 2, "decision": "capa"}, "severity_level"),
        ({"severity_level": 3, "occurrence_level": 2, "decision": "maybe"}, "decision"),
        ({"severity_level": 3, "occurrence_level": 2, "decision": "correction-only"}, "rationale"),
        ({"severity_level": 3, "occurrence_level": 2, "decision": "capa", "actor": "ada"}, "actor"),
    ],
)
async def test_a_bad_triage_is_refused_naming_the_field(api: Api, body: dict[str, Any], field: str) -> None:
    record_id = await api.raise_record()
    refused = await api.call("quinn", "POST", f"/records/{record_id}/triage", signed(body))
    assert refused.status_code == 422, refused.text
    assert field in [problem["field"] for problem in refused.json()["errors"]]
    assert (await api.record(record_id))["triage"] is None


async def test_a_manager_cannot_take_qualitys_steps_and_the_refusal_names_the_rule(api: Api) -> None:
    record_id = await api.raise_record()
    triage = await api.call(
        "mike",
        "POST",
        f"/records/{record_id}/triage",
        signed({"severity_level": 3, "occurrence_level": 2, "decision": "capa"}),
    )
    cancel = await api.call(
        "mike",
        "POST",
        f"/records/{record_id}/cancellation",
        signed({"reason": "Raised twice", "category": "duplicate"}),
    )

    assert triage.status_code == 403
    assert triage.json()["detail"] == f"mike may not triage on {record_id}: quality only"
    assert cancel.status_code == 403
    assert "quality only" in cancel.json()["detail"]


async def test_root_cause_before_triage_is_refused_and_a_careless_one_names_every_field(api: Api) -> None:
    waiting = await api.raise_record()
    await api.ok(
        "olivia", "POST", f"/records/{waiting}/containment", {"summary": "Quarantined", "disposition": "quarantine"}
    )
    early = await api.call("olivia", "POST", f"/records/{waiting}/root-cause", ROOT_CAUSE)
    assert early.status_code == 409
    assert "waits for quality's triage" in early.json()["detail"]

    record_id = await _triaged(api)
    await api.ok(
        "olivia", "POST", f"/records/{record_id}/containment", {"summary": "Quarantined", "disposition": "quarantine"}
    )
    careless = await api.call(
        "olivia",
        "POST",
        f"/records/{record_id}/root-cause",
        {"method": "8d", "cause": "Operator error", "whys": ["Operator error"]},
    )

    assert careless.status_code == 422
    assert {problem["field"] for problem in careless.json()["errors"]} == {
        "method",
        "category",
        "escape_point",
        "non_detection_cause",
        "similar_checked",
    }


async def test_a_wrong_password_signs_nothing(api: Api) -> None:
    record_id = await api.raise_record()
    refused = await api.call(
        "quinn",
        "POST",
        f"/records/{record_id}/triage",
        {"severity_level": 3, "occurrence_level": 2, "decision": "capa", "password": "not the password"},
    )
    assert refused.status_code == 403
    assert [problem["field"] for problem in refused.json()["errors"]] == ["password"]
    assert (await api.record(record_id))["triage"] is None


async def test_an_unknown_defect_code_is_refused_at_the_raise(api: Api) -> None:
    refused = await api.call(
        "otto",
        "POST",
        "/records",
        {
            "title": "Burr",
            "description": "Burr on the edge",
            "severity": "minor",
            "source": "supplier",
            "owner": "olivia",
            "defect_code": "BURRR",
        },
    )
    assert refused.status_code == 422
    assert {problem["field"] for problem in refused.json()["errors"]} == {"defect_code", "supplier"}
