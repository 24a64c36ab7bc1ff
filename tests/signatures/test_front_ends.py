"""Signing a step through the HTTP API and the web forms (21 CFR 11.200): the signer re-enters their password,
which is checked and goes no further; a wrong one records nothing, and several lock signing."""

import logging
from typing import Any

import pytest
from sqlalchemy import select
from sqlmodel import SQLModel
from structlog.testing import capture_logs
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment

from core import accounts
from tests.api.flow import Api
from tests.stack import PASSWORD
from tests.web.pages import browser

WRONG = "Not-My-Password-7731"


def _history_bytes(stack_history: Any) -> bytes:
    """Every event of a workflow history as its raw protobuf bytes: payloads as they are stored, not base64."""
    return b"".join(event.SerializeToString() for event in stack_history.events)


def _steps_in(history: Any) -> list[str]:
    """The names of the updates a workflow history accepted (its steps and alarm rings), in order."""
    accepted = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
    return [
        e.workflow_execution_update_accepted_event_attributes.accepted_request.input.name
        for e in history.events
        if e.event_type == accepted
    ]


def _read_model_text(api: Api) -> str:
    """Every row of every table of the read model, as text."""
    with api.stack.engine.connect() as connection:
        return "".join(repr(connection.execute(select(table)).all()) for table in SQLModel.metadata.sorted_tables)


async def test_a_signed_verification_shows_its_manifestation_and_keeps_no_password(
    api: Api, dev_server: WorkflowEnvironment, caplog: pytest.LogCaptureFixture
) -> None:
    """mike signs the verification with his password: the record shows "Signed by ..."; the password is in no
    workflow history, no read-model row and no log line."""
    record_id = await api.record_at("verification")
    caplog.set_level(logging.DEBUG)
    with capture_logs() as entries:
        response = await api.step(
            "mike", record_id, "verification", {"result": "pass", "evidence": "50 checked", "password": PASSWORD}
        )
    assert response.status_code == 200, response.text
    state = await api.record(record_id)
    [verification] = state["verifications"]
    signature = verification["signature"]
    assert signature["signer"] == "mike"
    assert signature["meaning"] == "verified: actions implemented"
    assert signature["printed"].startswith("Signed by mike (mike), verified: actions implemented, 20")
    assert signature["printed"].endswith(" UTC")
    [entry] = [e for e in state["events"] if e["kind"] == "verified"]
    assert entry["details"]["signature"] == signature
    assert [e["details"]["signature"] for e in response.json()["entries"]] == [signature]

    history = await dev_server.client.get_workflow_handle(record_id).fetch_history()
    stored = _history_bytes(history)
    assert signature["content_sha256"].encode() in stored  # the search sees the step's payloads
    assert PASSWORD.encode() not in stored
    assert PASSWORD not in _read_model_text(api)
    assert PASSWORD not in repr(entries) + caplog.text


async def test_a_wrong_password_records_nothing_and_is_logged(
    api: Api, dev_server: WorkflowEnvironment, caplog: pytest.LogCaptureFixture
) -> None:
    """403 naming ``password``; the record and its history unchanged; one log line with the signer and the
    record, without the password typed."""
    record_id = await api.record_at("extension")
    before = await api.record(record_id)
    handle = dev_server.client.get_workflow_handle(record_id)
    steps_before = _steps_in(await handle.fetch_history())
    caplog.set_level(logging.DEBUG)
    with capture_logs() as entries:
        response = await api.step("maria", record_id, "extension-decision", {"approve": True, "password": WRONG})
    assert response.status_code == 403, response.text
    problem = response.json()
    assert problem["kind"] == "NotAllowed"
    assert [error["field"] for error in problem["errors"]] == ["password"]
    after = await api.record(record_id)
    assert after["events"] == before["events"]
    assert after["pending_extension"] == before["pending_extension"]
    history = await handle.fetch_history()
    assert _steps_in(history) == steps_before
    assert WRONG.encode() not in _history_bytes(history)
    [refused] = [e for e in entries if e["event"] == "signature refused"]
    assert (refused["user"], refused["record_id"], refused["step"]) == ("maria", record_id, "decide-extension")
    assert WRONG not in repr(entries) + caplog.text
    decided = await api.step("maria", record_id, "extension-decision", {"approve": True, "password": PASSWORD})
    assert decided.status_code == 200, decided.text


async def test_repeated_wrong_passwords_lock_signing_but_not_sign_in(api: Api) -> None:
    """After the free failures, nina's signing waits (429 with Retry-After), even with her right password; her
    sign-in is counted apart and still works."""
    record_id = await api.raise_record()
    for _ in range(accounts.FREE_FAILURES):
        wrong = await api.step("nina", record_id, "cancellation", {"reason": "Duplicate", "password": WRONG})
        assert wrong.status_code == 403, wrong.text
    locked = await api.step("nina", record_id, "cancellation", {"reason": "Duplicate", "password": PASSWORD})
    assert locked.status_code == 429, locked.text
    assert int(locked.headers["Retry-After"]) >= 1
    assert [error["field"] for error in locked.json()["errors"]] == ["password"]
    assert [e["kind"] for e in (await api.record(record_id))["events"]] == ["raised"]
    signed_in = await api.stack.client.sign_in("nina", PASSWORD)
    assert not isinstance(signed_in, accounts.SignInRefused)


async def test_a_token_alone_never_signs(api: Api) -> None:
    """Each signed step's body without ``password`` is refused (422 naming it) before the record is asked."""
    record_id = await api.raise_record()
    bodies = {
        "verification": {"result": "pass", "evidence": "x"},
        "review": {"result": "effective", "evidence": "x"},
        "extension-decision": {"approve": True},
        "cancellation": {"reason": "Duplicate"},
    }
    for step, body in bodies.items():
        response = await api.call("mike", "POST", f"/records/{record_id}/{step}", body)
        assert response.status_code == 422, f"{step}: {response.text}"
        assert [error["field"] for error in response.json()["errors"]] == ["password"], step
    assert [e["kind"] for e in (await api.record(record_id))["events"]] == ["raised"]


async def test_the_openapi_document_asks_for_the_signers_password(api: Api) -> None:
    """The four signed bodies require ``password``, described as the signer's re-entered password."""
    schemas = (await api.http.get("/openapi.json")).json()["components"]["schemas"]
    for body in ("VerificationRequest", "ReviewRequest", "ExtensionDecisionRequest", "CancellationRequest"):
        assert "password" in schemas[body]["required"], body
        assert "re-entered to sign this step" in schemas[body]["properties"]["password"]["description"]
    assert "password" not in schemas["ContainmentRequest"]["properties"]


async def test_a_wrong_password_in_the_web_form_marks_its_field_and_keeps_the_rest(api: Api) -> None:
    """The cancel form sent with a wrong password comes back with that field marked, the reason as typed and
    the password not filled in again; the form says what signing means."""
    record_id = await api.raise_record()
    reason = "Raised twice: the record kept is the earlier one"
    async with browser(api.stack, "mike") as mike:
        page = await mike.get(f"/records/{record_id}")
        assert "Your password (signs this step)" in page.text
        assert "“approved: record cancelled”" in page.text
        refused = await mike.step(record_id, "cancel", reason=reason, password=WRONG)
        assert refused.status_code == 403
        assert 'id="cancel-password-error"' in refused.text
        assert 'aria-invalid="true" aria-describedby="cancel-password-error"' in refused.text
        assert reason in refused.text
        assert WRONG not in refused.text
        assert [e["kind"] for e in (await api.record(record_id))["events"]] == ["raised"]
        accepted = await mike.step(record_id, "cancel", reason=reason)
        assert accepted.status_code == 303
        shown = await mike.get(f"/records/{record_id}")
    assert "Signed by mike (mike), approved: record cancelled, " in shown.text
