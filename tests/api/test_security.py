"""Who gets in: only a live token of an active user; no body field names the actor; no secret leaves the server."""

import logging

import pytest
from structlog.testing import capture_logs

from core import accounts
from tests.api.flow import Api
from tests.stack import PASSWORD

READS = ["/records", "/records/NC-2026-0001", "/overdue", "/me", "/me/items", "/users", "/tokens", "/notifications"]


async def _assert_unauthenticated(api: Api, headers: dict[str, str]) -> None:
    for path in READS:
        response = await api.http.get(f"/api/v1{path}", headers=headers)
        assert response.status_code == 401, path
        assert set(response.json()) == {"kind", "detail"}
        assert response.json()["kind"] == "Unauthenticated"
        assert response.headers["WWW-Authenticate"] == "Bearer"
    # A write, even with a body the API would refuse, is answered 401 before the body is looked at.
    for body in (b"{not json", b'{"title": 1}'):
        response = await api.http.post(
            "/api/v1/records", headers={**headers, "Content-Type": "application/json"}, content=body
        )
        assert response.status_code == 401
        assert set(response.json()) == {"kind", "detail"}


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer ", "Basic YWRhOnNob3AtZmxvb3I=", "Bearer not-a-token", "Bearer capa_unknownsecret"],
    ids=["none", "empty", "scheme-only", "blank", "basic", "junk", "unknown"],
)
async def test_missing_or_bad_token(api: Api, authorization: str | None) -> None:
    """No token, a malformed header or an unknown token gets 401 with {kind, detail} and nothing else."""
    await _assert_unauthenticated(api, {} if authorization is None else {"Authorization": authorization})


async def test_password_is_not_a_token(api: Api) -> None:
    """A user's password sent as a bearer token signs no one in."""
    await _assert_unauthenticated(api, {"Authorization": f"Bearer {PASSWORD}"})


async def test_revoked_token(api: Api) -> None:
    """A token works until an admin revokes it, then gets 401."""
    made = await api.ok("ada", "POST", "/tokens", {"user": "olivia", "label": "olivia's script"})
    headers = {"Authorization": f"Bearer {made['secret']}"}
    assert (await api.http.get("/api/v1/me", headers=headers)).json()["name"] == "olivia"
    await api.ok("ada", "DELETE", f"/tokens/{made['id']}")
    await _assert_unauthenticated(api, headers)


async def test_deactivated_users_token(api: Api) -> None:
    """A deactivated user's token gets 401 while they are inactive, and works again once reactivated."""
    await api.ok("ada", "POST", "/users", {"name": "gus", "full_name": "Gus Meyer", "role": "owner", "manager": "mike"})
    made = await api.ok("ada", "POST", "/tokens", {"user": "gus", "label": "gus's script"})
    headers = {"Authorization": f"Bearer {made['secret']}"}
    await api.ok("ada", "POST", "/users/gus/deactivate")
    await _assert_unauthenticated(api, headers)
    await api.ok("ada", "POST", "/users/gus/activate")
    assert (await api.http.get("/api/v1/me", headers=headers)).json()["name"] == "gus"


async def test_non_admin_token_on_admin_endpoint(api: Api) -> None:
    """A manager's valid token does not open an admin-only endpoint: 403, and no token is made."""
    before = await api.get("ada", "/tokens", limit=200)
    response = await api.call("mike", "POST", "/tokens", {"user": "mike", "label": "more power"})
    assert response.status_code == 403
    assert response.json() == {"kind": "NotAllowed", "detail": "mike is manager; this needs admin"}
    assert (await api.get("ada", "/tokens", limit=200))["total"] == before["total"]


@pytest.mark.parametrize("field", ["raised_by", "actor", "user"])
async def test_body_cannot_name_the_raiser(api: Api, field: str) -> None:
    """A raise naming someone else as its author is refused (422) and raises nothing."""
    before = await api.get("ada", "/records")
    body = {
        "title": "Wrong label",
        "description": "Label misprinted",
        "severity": "minor",
        "source": "process",
        "owner": "olivia",
        field: "maria",
    }
    response = await api.call("otto", "POST", "/records", body)
    assert response.status_code == 422
    assert response.json() == {
        "kind": "InvalidInput",
        "detail": f"{field}: not a field of this request",
        "errors": [{"field": field, "message": "not a field of this request"}],
    }
    assert (await api.get("ada", "/records"))["total"] == before["total"]


async def test_step_body_cannot_name_the_actor(api: Api) -> None:
    """An operator cannot contain a record by claiming to be its manager in the body; nothing is written."""
    record_id = await api.raise_record()
    before = await api.record(record_id)
    body = {"summary": "Quarantined", "disposition": "quarantine", "actor": {"name": "maria", "roles": ["manager"]}}
    response = await api.step("otto", record_id, "containment", body)
    assert response.status_code == 422
    assert response.json()["detail"].startswith("actor:")
    assert await api.record(record_id) == before
    refused = await api.step("otto", record_id, "containment", {"summary": "Quarantined", "disposition": "scrap"})
    assert refused.status_code == 403
    assert (await api.record(record_id))["events"] == before["events"]


async def test_raiser_is_the_token_user(api: Api) -> None:
    """The record's author and its first timeline entry are the token's user."""
    record_id = await api.raise_record(who="otto")
    state = await api.record(record_id)
    assert state["raised_by"] == "otto"
    assert (state["events"][0]["kind"], state["events"][0]["actor"]) == ("raised", "otto")


async def test_no_secret_in_responses(api: Api) -> None:
    """The directory, /me and the token list carry no password, password hash, token secret or its hash."""
    bodies = [
        (await api.call(who, "GET", path, limit=200)).text
        for who in ("ada", "mike", "otto")
        for path in ("/users", "/me")
    ]
    bodies.append((await api.call("ada", "GET", "/tokens", limit=200)).text)
    secrets = [PASSWORD, "$argon2", "password_hash", "secret_hash", *api.stack.tokens.values()]
    for body in bodies:
        for secret in secrets:
            assert secret not in body


async def test_no_password_in_logs(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    """Setting, changing and checking passwords, right or wrong, never writes a password to a log."""
    first, second, wrong = "Harbour-Crane-4471", "Lighthouse-Keeper-9120", "Wrong-Guess-000111"
    caplog.set_level(logging.DEBUG)
    with capture_logs() as entries:
        await api.ok(
            "ada", "POST", "/users", {"name": "hal", "full_name": "Hal Jensen", "role": "operator", "manager": "mike"}
        )
        assert (await api.call("ada", "PUT", "/users/hal/password", {"password": first})).status_code == 204
        _, secret = await api.stack.client.create_token("hal", "hal's script", created_by="ada")
        hal = {"Authorization": f"Bearer {secret}"}
        for current in (wrong, first):
            await api.http.put(
                "/api/v1/users/hal/password", headers=hal, json={"password": second, "current_password": current}
            )
        assert not isinstance(await api.stack.client.sign_in("hal", second), accounts.SignInRefused)
        assert isinstance(await api.stack.client.sign_in("hal", wrong), accounts.SignInRefused)
        assert (await api.call("ada", "PUT", "/users/hal/password", {"password": "hal"})).status_code == 422
    events = {entry["event"] for entry in entries}
    assert {"password set", "signed in", "sign-in failed"} <= events
    logged = repr(entries) + caplog.text
    for word in (first, second, wrong, secret):
        assert word not in logged
