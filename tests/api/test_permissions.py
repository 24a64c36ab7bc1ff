"""Who may take which step through the API: each step x each role, and the admin-only endpoints x each role.

The workflow decides; these tests prove the API hands it the token's user and maps its verdict to the status
code, and that a refused request leaves the record (or the directory) exactly as it was.
"""

import asyncio
from typing import Any

import pytest
import pytest_asyncio

from core.readmodel import email_enabled
from models.tables import User
from tests.api.flow import Api
from tests.stack import PASSWORD

# olivia owns every record below and action A1 of its plan; oscar is another owner, otto an operator.
ROLES = ("otto", "olivia", "oscar", "mike", "ada")
OWNER_STEP = {"otto": 403, "olivia": 200, "oscar": 403, "mike": 200, "ada": 200}
MANAGER_STEP = {"otto": 403, "olivia": 403, "oscar": 403, "mike": 200, "ada": 200}
HOLDER_STEP = {"otto": 403, "olivia": 200, "oscar": 403, "mike": 403, "ada": 403}

# The step (its path under /records/{id}), the stage a record must be at for it, and who may take it.
STEPS: list[tuple[str, str, dict[str, int]]] = [
    ("containment", "containment", OWNER_STEP),
    ("root-cause", "root_cause", OWNER_STEP),
    ("plan", "action", OWNER_STEP),
    ("actions/A1/completion", "action-planned", OWNER_STEP),
    ("verification", "verification", MANAGER_STEP),
    ("review", "effectiveness", MANAGER_STEP),
    ("extension-requests", "containment", HOLDER_STEP),
    ("extension-decision", "extension", MANAGER_STEP),
    ("reassignment", "containment", MANAGER_STEP),
    ("cancellation", "containment", MANAGER_STEP),
]
CASES = [(step, who, allowed[who]) for step, _, allowed in STEPS for who in ROLES]
REFUSED = "refused"

# Each step taken by someone allowed to take it, on a record in a stage where it is not accepted.
WRONG_STAGE: list[tuple[str, str, str]] = [
    ("containment", "mike", "root_cause"),
    ("root-cause", "mike", "containment"),
    ("plan", "mike", "containment"),
    ("actions/A1/completion", "mike", "containment"),
    ("verification", "mike", "containment"),
    ("review", "mike", "containment"),
    ("extension-requests", "olivia", "cancelled"),
    ("extension-decision", "mike", "containment"),
    ("reassignment", "mike", "cancelled"),
    ("cancellation", "mike", "cancelled"),
]


@pytest_asyncio.fixture(scope="module")
async def records(api: Api) -> dict[tuple[str, str], str]:
    """Records prepared at once: a fresh one for every accepted case, one per step for all its refusals."""
    wanted: dict[tuple[str, str], str] = {}
    for step, stage, allowed in STEPS:
        wanted[(step, REFUSED)] = stage
        wanted.update({(step, who): stage for who, status in allowed.items() if status == 200})
    for stage in ("containment", "root_cause", "cancelled"):
        wanted[("wrong-stage", stage)] = stage
    gate = asyncio.Semaphore(8)

    async def prepare(stage: str) -> str:
        async with gate:
            if stage != "cancelled":
                return await api.record_at(stage)
            record_id = await api.record_at("containment")
            assert (await api.step("mike", record_id, "cancellation")).status_code == 200
            return record_id

    ids = await asyncio.gather(*(prepare(stage) for stage in wanted.values()))
    return dict(zip(wanted, ids, strict=True))


def _trail(state: dict[str, Any]) -> dict[str, Any]:
    """What a refused step must not change: the timeline, the stage, who owns and holds what."""
    return {key: state[key] for key in ("events", "stage", "owner", "clock", "actions", "pending_extension")}


@pytest.mark.parametrize(("step", "who", "expected"), CASES, ids=[f"{s}-{w}" for s, w, _ in CASES])
async def test_step_permission(
    api: Api, records: dict[tuple[str, str], str], step: str, who: str, expected: int
) -> None:
    """Each role gets the status the lifecycle rules give it; an accepted step is recorded under the token's user,
    a refused one (403, naming the person) leaves the record untouched."""
    record_id = records[(step, who if expected == 200 else REFUSED)]
    before = await api.record(record_id)
    response = await api.step(who, record_id, step)
    assert response.status_code == expected, response.text
    after = await api.record(record_id)
    if expected == 200:
        seq = response.json()["seq"]
        assert len(after["events"]) >= seq > len(before["events"])
        assert after["events"][seq - 1]["actor"] == who
    else:
        assert response.json() == {"kind": "NotAllowed", "detail": response.json()["detail"]}
        assert who in response.json()["detail"]
        assert _trail(after) == _trail(before)


@pytest.mark.parametrize(("step", "who", "stage"), WRONG_STAGE, ids=[s for s, _, _ in WRONG_STAGE])
async def test_step_in_wrong_stage(
    api: Api, records: dict[tuple[str, str], str], step: str, who: str, stage: str
) -> None:
    """A step sent while the record is in another stage (or ended) is 409, saying why, and changes nothing."""
    record_id = records[("wrong-stage", stage)]
    before = await api.record(record_id)
    response = await api.step(who, record_id, step)
    assert response.status_code == 409, response.text
    assert response.json()["kind"] == "WrongStage"
    assert record_id in response.json()["detail"]
    assert _trail(await api.record(record_id)) == _trail(before)


# Admin-only endpoints, each with a body an admin's call would succeed with.
ADMIN_ONLY: list[tuple[str, str, Any]] = [
    ("POST", "/users", {"name": "intruder", "full_name": "Ivo Intruder", "role": "admin"}),
    ("PATCH", "/users/oscar", {"role": "admin"}),
    ("POST", "/users/olivia/deactivate", None),
    ("POST", "/users/olivia/activate", None),
    ("PUT", "/users/oscar/password", {"password": "a-brand-new-passphrase"}),
    ("PUT", "/users/oscar/notifications/escalated", {"email": False}),
    ("GET", "/tokens", None),
    ("POST", "/tokens", {"user": "ada", "label": "a way in"}),
    ("DELETE", "/tokens/1", None),
    ("POST", "/notifications/1/retry", None),
    ("POST", "/digest", None),
    ("POST", "/sites", {"name": "Lyon", "time_zone": "Europe/Paris"}),
]
NON_ADMINS = ("otto", "olivia", "mike")


async def _directory(api: Api) -> tuple[Any, Any]:
    users = await api.get("ada", "/users", limit=200)
    tokens = await api.get("ada", "/tokens", limit=200)
    for token in tokens["items"]:
        token.pop("last_used_at")
    return users, tokens


@pytest.mark.parametrize("who", NON_ADMINS)
@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ONLY, ids=[f"{m} {p}" for m, p, _ in ADMIN_ONLY])
async def test_admin_only(api: Api, who: str, method: str, path: str, body: Any) -> None:
    """Operators, owners and managers are refused (403) what only admins may do, and nothing changes."""
    before = await _directory(api)
    response = await api.call(who, method, path, body)
    assert response.status_code == 403, response.text
    assert response.json()["kind"] == "NotAllowed"
    assert await _directory(api) == before
    assert isinstance(await api.stack.client.sign_in("oscar", PASSWORD), User)
    assert email_enabled(api.stack.engine, "oscar", "escalated")


@pytest.mark.parametrize(("who", "expected"), [("otto", 403), ("olivia", 403), ("mike", 200), ("ada", 200)])
async def test_notifications_for_managers_and_admins(api: Api, who: str, expected: int) -> None:
    """The outbox names people and what they were told: managers and admins read it, no one else."""
    response = await api.call(who, "GET", "/notifications")
    assert response.status_code == expected, response.text
