"""A cookie-keeping HTTP client of the web app that fills forms the way a browser does, for the page tests."""

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from tests.policies import uniform_policy
from tests.stack import PASSWORD, Stack

# The effectiveness window is seconds, so a record reaches its review (and closes) within a test.
POLICY = uniform_policy("web-tests", remind_before=["30m"], escalate_after=["0s", "1h"], effectiveness_after="3s")
# The forms of signed steps: each carries the signer's password.
SIGNED_FORMS = frozenset(
    {"verify", "review", "decide-extension", "cancel", "triage", "decide-plan", "concede", "amend"}
)
_CSRF_FIELD = re.compile(r'name="csrftoken" value="([^"]+)"')
RECORD_PATH = re.compile(r"^/records/(NC-\d{4}-\d{4,})$")


class Browser:
    """One person's browser: its cookies, and the CSRF token of the last form it was shown."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.responses: list[httpx.Response] = []

    async def get(self, path: str, **params: Any) -> httpx.Response:
        response = await self.http.get(path, params=params or None)
        self.responses.append(response)
        return response

    def csrftoken(self) -> str:
        for response in reversed(self.responses):
            match = _CSRF_FIELD.search(response.text)
            if match:
                return match[1]
        raise AssertionError("no page with a form was shown yet")

    async def post(self, path: str, data: dict[str, str], *, token: str | None = None) -> httpx.Response:
        """Submit a form as a browser would: with the token the page carried (unless ``token`` overrides it)."""
        response = await self.http.post(path, data={"csrftoken": token or self.csrftoken(), **data})
        self.responses.append(response)
        return response

    async def sign_in(self, name: str, password: str = PASSWORD) -> httpx.Response:
        await self.get("/login")
        return await self.post("/login", {"name": name, "password": password})

    async def raise_record(self, **fields: str) -> httpx.Response:
        await self.get("/raise")
        form = {
            "title": "Burr on housing edge",
            "description": "Line 3 housings show a burr on the top edge",
            "severity": "major",
            "source": "process",
            "owner": "olivia",
            "product": "Housing H-200",
            "lot": "L-4711",
            "quantity": "120",
            **fields,
        }
        return await self.post("/raise", form)

    async def step(self, record_id: str, step: str, **fields: str) -> httpx.Response:
        """Fill in and send ``step``'s form on the record page; a signed step's with the person's password unless
        ``fields`` gives one."""
        await self.get(f"/records/{record_id}")
        if step in SIGNED_FORMS:
            fields = {"password": PASSWORD, **fields}
        return await self.post(f"/records/{record_id}/{step}", fields)


@asynccontextmanager
async def browser(stack: Stack, name: str | None = None) -> AsyncIterator[Browser]:
    """A fresh browser, signed in as ``name`` when one is given."""
    transport = httpx.ASGITransport(app=stack.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        person = Browser(http)
        if name is not None:
            response = await person.sign_in(name)
            assert response.status_code == 303, response.text
        yield person


def record_id_of(response: httpx.Response) -> str:
    """The id of the record a raise redirected to."""
    assert response.status_code == 303, response.text
    match = RECORD_PATH.match(response.headers["location"])
    assert match, response.headers["location"]
    return match[1]


async def eventually(probe: Callable[[], Awaitable[bool]], what: str, within: float = 30.0) -> None:
    """Poll ``probe`` until it holds; fail the test, naming ``what``, when the deadline passes first."""
    try:
        async with asyncio.timeout(within):
            while True:
                if await probe():
                    return
                await asyncio.sleep(0.2)
    except TimeoutError:
        pytest.fail(f"{what}: not within {within:.0f}s")
