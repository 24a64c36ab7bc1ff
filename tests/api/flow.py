"""Driving records through the HTTP API as the seeded people, for the API tests."""

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import httpx

from models.enums import Stage
from tests.policies import uniform_policy
from tests.stack import PASSWORD, Stack

T = TypeVar("T")

# The effectiveness window is seconds, so a record reaches its review (and closes) within a test.
POLICY = uniform_policy("api-tests", remind_before=["30m"], escalate_after=["0s", "1h"], effectiveness_after="3s")
BASE = "/api/v1"


def later(**delta: float) -> str:
    return (datetime.now(UTC) + timedelta(**delta)).isoformat()


# The steps signed with the caller's password (re-entered in the body), by their path under /records/{id}.
SIGNED = frozenset({"verification", "review", "extension-decision", "cancellation"})


# One valid body per step, keyed by the step's path under /records/{id}.
def step_body(step: str) -> dict[str, Any]:
    bodies: dict[str, dict[str, Any]] = {
        "containment": {"summary": "Lot L-4711 quarantined, 120 pcs", "disposition": "quarantine", "quantity": 120},
        "root-cause": {
            "method": "five-whys",
            "cause": "Deburring tool used beyond its change interval",
            "whys": ["Burr on edge", "Deburring tool worn", "No tool-life counter"],
            "category": "machine",
        },
        "plan": {"actions": [{"owner": "olivia", "due_at": later(days=10), "description": "Replace deburring tool"}]},
        "actions/A1/completion": {"evidence": "Tool replaced, WO-5531"},
        "verification": {"result": "pass", "evidence": "50 housings checked, no burr"},
        "review": {"result": "effective", "evidence": "No burr in 3 lots since"},
        "extension-requests": {"until": later(days=2), "reason": "Supplier delivers the new tool next week"},
        "extension-decision": {"approve": True},
        "reassignment": {"owner": "oscar", "reason": "Olivia moves to line 5"},
        "cancellation": {"reason": "Duplicate of an earlier record"},
    }
    return bodies[step]


class Api:
    """An HTTP client of the app that acts as whichever seeded person a call names."""

    def __init__(self, http: httpx.AsyncClient, stack: Stack) -> None:
        self.http = http
        self.stack = stack

    async def call(self, who: str | None, method: str, path: str, json: Any = None, **params: Any) -> httpx.Response:
        headers = self.stack.bearer(who) if who else {}
        return await self.http.request(method, BASE + path, headers=headers, json=json, params=params or None)

    async def get(self, who: str, path: str, **params: Any) -> Any:
        response = await self.call(who, "GET", path, **params)
        assert response.status_code == 200, response.text
        return response.json()

    async def ok(self, who: str, method: str, path: str, json: Any = None) -> Any:
        response = await self.call(who, method, path, json)
        assert response.is_success, f"{method} {path} as {who}: {response.status_code} {response.text}"
        return response.json() if response.content else None

    async def raise_record(self, who: str = "otto", owner: str = "olivia", **fields: Any) -> str:
        body = {
            "title": "Burr on housing edge",
            "description": "Line 3 housings show a burr",
            "severity": "major",
            "source": "inspection",
            "owner": owner,
            "product": "H-200",
            "lot": "L-4711",
            "quantity": 120,
            **fields,
        }
        created = await self.ok(who, "POST", "/records", body)
        return str(created["id"])

    async def step(self, who: str, record_id: str, step: str, body: dict[str, Any] | None = None) -> httpx.Response:
        """Take ``step`` as ``who``; a signed step is signed with their password unless ``body`` gives one."""
        body = body or step_body(step)
        if step in SIGNED and "password" not in body:
            body = {**body, "password": PASSWORD}
        return await self.call(who, "POST", f"/records/{record_id}/{step}", body)

    async def record(self, record_id: str) -> dict[str, Any]:
        state: dict[str, Any] = await self.get("ada", f"/records/{record_id}")
        return state

    async def record_at(self, stage: str, owner: str = "olivia") -> str:
        """A new record (raised by otto, owned by ``owner``) taken by olivia and mike to ``stage``.

        ``effectiveness`` waits until the review is due; ``extension`` leaves olivia's extension request pending
        on the containment step.
        """
        record_id = await self.raise_record(owner=owner)
        path = ["containment", "root-cause", "plan", "actions/A1/completion", "verification"]
        targets = {
            Stage.CONTAINMENT.value: 0,
            Stage.ROOT_CAUSE.value: 1,
            Stage.ACTION.value: 2,
            "action-planned": 3,
            Stage.VERIFICATION.value: 4,
            Stage.EFFECTIVENESS.value: 5,
            "extension": 0,
        }
        for step in path[: targets[stage]]:
            who = "mike" if step == "verification" else "olivia"
            response = await self.step(who, record_id, step)
            assert response.status_code == 200, f"{step}: {response.text}"
        if stage == Stage.EFFECTIVENESS.value:
            await self.until(lambda: self.record(record_id), lambda state: state["clock"] is not None)
        if stage == "extension":
            response = await self.step("olivia", record_id, "extension-requests")
            assert response.status_code == 200, response.text
        return record_id

    @staticmethod
    async def until(read: Callable[[], Awaitable[T]], done: Callable[[T], bool], within: float = 20.0) -> T:
        """Poll ``read`` until ``done`` holds for its answer, or fail after ``within`` seconds."""
        deadline = asyncio.get_running_loop().time() + within
        while True:
            value = await read()
            if done(value):
                return value
            assert asyncio.get_running_loop().time() < deadline, f"still not done after {within}s: {value!r}"
            await asyncio.sleep(0.2)
