"""Who gets in: only a live token of an active user; no body field names the actor; no secret leaves the server;
deactivated people hold nothing; stored text has no control characters; sign-in floods and guessers neither
starve the API nor lock anyone out."""

import asyncio
import logging
import threading
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, select
from structlog.testing import capture_logs

from core import accounts, readmodel
from models.tables import AdminLogEntry
from tests.api.flow import Api, later
from tests.stack import PASSWORD
from tests.web.pages import Browser, browser

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
    """Deactivating someone revokes their tokens for good: 401 while they are inactive and still after they are
    reactivated (a leaver's token never comes back); each revocation is in the admin log, and they sign in anew."""
    await api.ok("ada", "POST", "/users", {"name": "gus", "full_name": "Gus Meyer", "role": "owner", "manager": "mike"})
    made = await api.ok("ada", "POST", "/tokens", {"user": "gus", "label": "gus's script"})
    headers = {"Authorization": f"Bearer {made['secret']}"}
    await api.ok("ada", "POST", "/users/gus/deactivate")
    await _assert_unauthenticated(api, headers)
    await api.ok("ada", "POST", "/users/gus/activate")
    await _assert_unauthenticated(api, headers)
    [token] = [t for t in (await api.get("ada", "/tokens", limit=200))["items"] if t["id"] == made["id"]]
    assert token["revoked_at"] is not None
    with Session(api.stack.engine) as session:
        logged = session.exec(
            select(AdminLogEntry).where(col(AdminLogEntry.target) == "gus").order_by(col(AdminLogEntry.seq))
        ).all()
    assert [(entry.actor, entry.action) for entry in logged][-3:] == [
        ("ada", "deactivated"),
        ("ada", "token_revoked"),
        ("ada", "activated"),
    ]


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


# --- deactivated people -------------------------------------------------------------------------------------


async def _deactivated(api: Api, name: str, role: str = "owner") -> str:
    """A person who was in the directory and has been deactivated (with a password, so sign-in is tried)."""
    await api.ok("ada", "POST", "/users", {"name": name, "full_name": name.title(), "role": role, "manager": "mike"})
    assert (await api.call("ada", "PUT", f"/users/{name}/password", {"password": PASSWORD})).status_code == 204
    await api.ok("ada", "POST", f"/users/{name}/deactivate")
    return name


async def test_a_deactivated_person_is_not_given_a_record(api: Api) -> None:
    """Raising a record owned by a deactivated person: 422 naming ``owner``, and nothing is raised."""
    gone = await _deactivated(api, "ivy")
    before = (await api.get("ada", "/records"))["total"]
    body = {"title": "Burr", "description": "Burr on edge", "severity": "minor", "source": "process", "owner": gone}
    response = await api.call("otto", "POST", "/records", body)
    assert response.status_code == 422, response.text
    assert response.json()["errors"] == [
        {"field": "owner", "message": "ivy is deactivated; choose someone who can act"}
    ]
    assert (await api.get("ada", "/records"))["total"] == before


async def test_a_deactivated_person_is_not_given_an_action_or_a_reassigned_record(api: Api) -> None:
    """A plan naming a deactivated action owner is refused on ``actions.1.owner``; a reassignment to them on
    the new owner; the record's timeline is unchanged."""
    gone = await _deactivated(api, "jon")
    record_id = await api.record_at("action")
    before = await api.record(record_id)
    actions = [
        {"owner": "olivia", "due_at": later(days=10), "description": "Replace deburring tool"},
        {"owner": gone, "due_at": later(days=10), "description": "Train the line"},
    ]
    planned = await api.step("olivia", record_id, "plan", {"actions": actions})
    assert planned.status_code == 422, planned.text
    assert planned.json()["errors"] == [
        {"field": "actions.1.owner", "message": "jon is deactivated; choose someone who can act"}
    ]
    moved = await api.step("mike", record_id, "reassignment", {"owner": gone, "reason": "Olivia moves to line 5"})
    assert moved.status_code == 422, moved.text
    assert [(e["field"], e["message"]) for e in moved.json()["errors"]] == [
        ("owner", "jon is deactivated; choose someone who can act")
    ]
    assert (await api.record(record_id))["events"] == before["events"]


async def test_a_deactivated_person_cannot_sign_in_or_keep_a_session(api: Api) -> None:
    """Once deactivated, the right password no longer signs in, and a browser signed in before is signed out."""
    await api.ok("ada", "POST", "/users", {"name": "kim", "full_name": "Kim Lee", "role": "owner", "manager": "mike"})
    assert (await api.call("ada", "PUT", "/users/kim/password", {"password": PASSWORD})).status_code == 204
    async with browser(api.stack, "kim") as kim:
        assert (await kim.get("/")).status_code == 200
        await api.ok("ada", "POST", "/users/kim/deactivate")
        assert (await kim.get("/")).status_code == 401
    async with browser(api.stack) as anonymous:
        assert (await anonymous.sign_in("kim")).status_code == 401


# --- control characters in stored text ------------------------------------------------------------------------


async def test_control_characters_in_a_raise_are_refused_naming_each_field(api: Api) -> None:
    """A CR/LF in a title, an escape in a description: 422 naming each; line breaks and tabs in the description
    are kept."""
    before = (await api.get("ada", "/records"))["total"]
    body = {
        "title": "Burr\r\nBcc: everyone@example.com",
        "description": "Line 3\x1b[2J housings",
        "severity": "minor",
        "source": "process",
        "owner": "olivia",
    }
    response = await api.call("otto", "POST", "/records", body)
    assert response.status_code == 422, response.text
    assert response.json()["errors"] == [
        {"field": "title", "message": "contains a control character (U+000D); one line of plain text"},
        {
            "field": "description",
            "message": "contains a control character (U+001B); only line breaks and tabs may be typed",
        },
    ]
    assert (await api.get("ada", "/records"))["total"] == before
    record_id = await api.raise_record(description="Line 3 housings:\r\n\tburr on the top edge")
    assert (await api.record(record_id))["description"] == "Line 3 housings:\r\n\tburr on the top edge"


async def test_control_characters_in_a_step_are_refused_naming_the_field(api: Api) -> None:
    """A reason, an action's description, evidence: each refused on its own field, and the record is unchanged."""
    record_id = await api.record_at("action")
    before = await api.record(record_id)
    actions = [{"owner": "olivia", "due_at": later(days=10), "description": "Replace\x00 tool"}]
    planned = await api.step("olivia", record_id, "plan", {"actions": actions})
    assert planned.status_code == 422, planned.text
    assert [e["field"] for e in planned.json()["errors"]] == ["actions.0.description"]
    cancelled = await api.step("maria", record_id, "cancellation", {"reason": "Duplicate\x07"})
    assert cancelled.status_code == 422, cancelled.text
    assert [e["field"] for e in cancelled.json()["errors"]] == ["reason"]
    assert (await api.record(record_id))["events"] == before["events"]


async def test_control_characters_in_a_web_form_are_shown_beside_the_field(api: Api) -> None:
    """The raise form with a control character in its title comes back 422 with the message beside the title."""
    async with browser(api.stack, "otto") as otto:
        page = await otto.raise_record(title="Burr\x1b]0;owned\x07")
        assert page.status_code == 422
        assert "contains a control character (U+001B); one line of plain text" in page.text


# --- sign-in floods and guessers -------------------------------------------------------------------------------


async def test_a_flood_of_sign_ins_does_not_hold_up_the_api(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fifty sign-ins with random names at once, their hashing held up: GET /me still answers, before any of
    them finishes, because hashing has threads of its own and database calls are not queued behind it."""
    loop = asyncio.get_running_loop()
    hashing, release = asyncio.Event(), threading.Event()
    verify = accounts._hasher.verify_and_update

    def slow(password: str, hashed: str) -> Any:
        loop.call_soon_threadsafe(hashing.set)
        release.wait(timeout=60)
        return verify(password, hashed)

    monkeypatch.setattr(accounts._hasher, "verify_and_update", slow)
    # Only lets a starved run finish (and fail) rather than hang; a sound one releases the hashing itself.
    safety = threading.Timer(30, release.set)
    safety.start()
    finished: list[str] = []
    try:
        async with browser(api.stack) as anonymous:
            await anonymous.get("/login")
            token = anonymous.csrftoken()

            async def sign_in() -> None:
                name = f"flood-{uuid.uuid4().hex[:12]}"
                response = await anonymous.post(
                    "/login", {"name": name, "password": "a-guessed-passphrase"}, token=token
                )
                assert response.status_code in (401, 429)
                finished.append("sign-in")

            flood = [asyncio.create_task(sign_in()) for _ in range(50)]
            await hashing.wait()
            me = await api.call("olivia", "GET", "/me")
            finished.append("me")
            release.set()
            await asyncio.gather(*flood)
    finally:
        release.set()
        safety.cancel()
    assert me.status_code == 200
    assert finished[0] == "me"
    assert len(finished) == 51


async def test_a_guessers_address_does_not_lock_the_person_out(api: Api) -> None:
    """An address hammering lou's name is made to wait (429); lou signs in from another address meanwhile, and
    the guesser's address still waits."""
    await api.ok("ada", "POST", "/users", {"name": "lou", "full_name": "Lou Ortiz", "role": "owner", "manager": "mike"})
    assert (await api.call("ada", "PUT", "/users/lou/password", {"password": PASSWORD})).status_code == 204
    async with _browser_at(api, "203.0.113.9") as guesser, _browser_at(api, "198.51.100.7") as lou:
        statuses = [(await guesser.sign_in("lou", f"guess-{n}-passphrase")).status_code for n in range(6)]
        assert statuses == [401] * accounts.FREE_FAILURES + [429] * (6 - accounts.FREE_FAILURES)
        assert (await lou.sign_in("lou")).status_code == 303
        assert (await lou.get("/")).status_code == 200
        assert (await guesser.sign_in("lou")).status_code == 429


@asynccontextmanager
async def _browser_at(api: Api, address: str) -> AsyncIterator[Browser]:
    """A browser whose requests come from ``address``."""
    transport = httpx.ASGITransport(app=api.stack.app, client=(address, 50123))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield Browser(http)


# --- what anyone may ask ----------------------------------------------------------------------------------------


async def test_readiness_names_no_address_to_anyone_asking(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """A database that does not answer makes /readyz 503 saying only "unreachable": neither the database's URL
    nor the driver's message (with its host) is shown to a caller who needs no sign-in."""

    def down(_engine: object) -> None:
        raise OperationalError("SELECT 1", {}, Exception('could not connect to server "db.internal" port 5432'))

    monkeypatch.setattr(readmodel, "ping", down)
    response = await api.http.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "temporal": None, "database": "unreachable"}
    for leak in ("db.internal", "sqlite", str(api.stack.settings.database_url)):
        assert leak not in response.text


async def test_a_token_label_with_a_control_character_is_refused(api: Api) -> None:
    """A token's label is stored and listed like any text: a CR/LF in it is refused on ``label``, no token made."""
    before = (await api.get("ada", "/tokens", limit=200))["total"]
    response = await api.call("ada", "POST", "/tokens", {"user": "otto", "label": "script\r\nforged: line"})
    assert response.status_code == 422, response.text
    assert response.json()["errors"] == [
        {"field": "label", "message": "contains a control character (U+000D); one line of plain text"}
    ]
    assert (await api.get("ada", "/tokens", limit=200))["total"] == before
