"""Schemathesis over the OpenAPI document, against the real stack: no 5xx, no answer outside the document.

Every operation is called with generated requests as an admin (so every route is reached past its role check),
with record ids that sometimes name a real record, so steps are accepted as well as refused.
"""

import asyncio
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import checks
from schemathesis.core.result import Ok
from schemathesis.generation.case import Case

from core import accounts
from tests.api.flow import Api
from tests.stack import Stack

CHECKS = [
    checks.not_a_server_error,
    checks.response_schema_conformance,
    checks.status_code_conformance,
    checks.content_type_conformance,
]
EXAMPLES = 20


class AdminAuth:
    """An admin's bearer header for every request, remade if a generated request revoked the token in use."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.secret = stack.tokens["ada"]

    def headers(self) -> dict[str, str]:
        if accounts.token_user(self.stack.engine, self.secret) is None:
            accounts.set_active(self.stack.engine, "ada", active=True)
            self.secret = accounts.create_token(self.stack.engine, "ada", "schemathesis", created_by="ada")[1]
        return {"Authorization": f"Bearer {self.secret}"}


def _fuzz(stack: Stack, record_id: str) -> list[str]:
    """Run every operation's examples; returns the operations that ran, for the caller to check coverage."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", stack.app)
    auth = AdminAuth(stack)
    ran: list[str] = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operation = result.ok()
        strategy: st.SearchStrategy[Case[Any]] = operation.as_strategy()
        if "{record_id}" in operation.path:
            strategy = st.one_of(strategy, operation.as_strategy(path_parameters={"record_id": record_id}))

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=strategy)
        def call(case: Case[Any]) -> None:
            case.call_and_validate(headers=auth.headers(), checks=CHECKS)

        call()
        ran.append(f"{operation.method.upper()} {operation.path}")
    return ran


async def test_openapi_document_holds(api: Api) -> None:
    """Generated requests to every operation get no server error and answers the document describes."""
    record_id = await api.raise_record()
    document: dict[str, Any] = (await api.http.get("/openapi.json")).json()
    # Schemathesis calls the app synchronously; in a thread, this loop keeps running the worker meanwhile.
    ran = await asyncio.to_thread(_fuzz, api.stack, record_id)
    expected = {f"{method.upper()} {path}" for path, item in document["paths"].items() for method in item}
    assert set(ran) == expected
