"""Every endpoint's success path against a real dev server and worker, and a record taken from raised to closed."""

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import Session

from core import accounts
from models.enums import OutboxStatus
from models.tables import OutboxMessage
from tests.api.flow import Api, later
from tests.stack import PASSWORD


async def test_full_lifecycle(api: Api) -> None:
    """Raised by an operator, worked by its owners, verified and reviewed by a manager: closed, every step on record
    under the person whose token sent it."""
    response = await api.call(
        "otto",
        "POST",
        "/records",
        {
            "title": "Burr on housing edge",
            "description": "Line 3 housings show a burr",
            "severity": "major",
            "source": "inspection",
            "owner": "olivia",
            "product": "H-200",
            "lot": "L-4711",
            "quantity": 120,
        },
    )
    assert response.status_code == 201, response.text
    record_id = response.json()["id"]
    assert response.headers["Location"] == f"/api/v1/records/{record_id}"

    steps: list[tuple[str, str, dict[str, Any], str]] = [
        ("olivia", "containment", {"summary": "Lot L-4711 quarantined", "disposition": "quarantine"}, "root_cause"),
        (
            "olivia",
            "root-cause",
            {"method": "fishbone", "cause": "Deburring tool used beyond its interval", "category": "machine"},
            "action",
        ),
        (
            "olivia",
            "plan",
            {
                "actions": [
                    {"owner": "olivia", "due_at": later(days=10), "description": "Replace deburring tool"},
                    {"owner": "oscar", "due_at": later(days=20), "description": "Add tool-life counter"},
                ]
            },
            "action",
        ),
        ("olivia", "actions/A1/completion", {"evidence": "Tool replaced, WO-5531"}, "action"),
        ("oscar", "actions/A2/completion", {"evidence": "Counter live, CR-88"}, "verification"),
        ("mike", "verification", {"result": "pass", "evidence": "50 housings checked"}, "effectiveness"),
    ]
    for who, step, body, stage in steps:
        response = await api.step(who, record_id, step, body)
        assert response.status_code == 200, f"{step}: {response.text}"
        result = response.json()
        assert (result["record_id"], result["stage"]) == (record_id, stage)
        # The answer shows what the step wrote on the timeline, with every field submitted, and nothing internal.
        entry = result["entries"][-1]
        assert (entry["seq"], entry["actor"]) == (result["seq"], who)
        assert all(entry["details"][key] == value for key, value in body.items() if key != "actions"), entry
        assert not {"snapshot", "change"} & result.keys()

    # The effectiveness window is 3s in this policy: the review falls due by itself.
    await api.until(lambda: api.record(record_id), lambda state: state["clock"] is not None)
    response = await api.step("mike", record_id, "review", {"result": "effective", "evidence": "No burr since"})
    assert response.status_code == 200, response.text
    assert response.json()["stage"] == "closed"
    assert [entry["kind"] for entry in response.json()["entries"]] == ["effectiveness_reviewed", "closed"]

    state = await api.record(record_id)
    assert state["stage"] == "closed"
    assert state["raised_by"] == "otto"
    assert [event["seq"] for event in state["events"]] == list(range(1, len(state["events"]) + 1))
    actors = {event["kind"]: event["actor"] for event in state["events"]}
    assert actors["raised"] == "otto"
    assert actors["containment_submitted"] == "olivia"
    assert actors["verified"] == "mike"
    assert actors["effectiveness_reviewed"] == "mike"
    assert "closed" in actors

    refused = await api.step("mike", record_id, "cancellation")
    assert refused.status_code == 409
    assert refused.json()["kind"] == "WrongStage"


async def test_show_record(api: Api) -> None:
    """Anyone signed in, an operator included, reads a record's state and timeline; an unknown id is 404."""
    record_id = await api.raise_record(title="Scratch on cover")
    state = await api.get("otto", f"/records/{record_id}")
    assert (state["id"], state["title"], state["stage"], state["owner"]) == (
        record_id,
        "Scratch on cover",
        "containment",
        "olivia",
    )
    assert state["events"][0]["kind"] == "raised"
    missing = await api.call("otto", "GET", "/records/NC-1999-9999")
    assert missing.status_code == 404
    assert missing.json() == {"kind": "NotFound", "detail": "NC-1999-9999 does not exist"}
    junk = await api.call("otto", "GET", "/records/not-a-record")
    assert junk.status_code == 422
    assert junk.json()["kind"] == "InvalidInput"


async def test_list_pages_and_filters(api: Api) -> None:
    """Lists page with limit and offset and say the total; stage, owner and overdue filters narrow them."""
    ids = [await api.raise_record(owner="paul", title=f"Paged {n}") for n in range(5)]
    first = await api.get("otto", "/records", owner="paul", limit=2)
    assert (first["total"], first["limit"], first["offset"]) == (5, 2, 0)
    second = await api.get("otto", "/records", owner="paul", limit=2, offset=2)
    last = await api.get("otto", "/records", owner="paul", limit=2, offset=4)
    listed = [item["id"] for page in (first, second, last) for item in page["items"]]
    assert sorted(listed) == sorted(ids)
    assert len(last["items"]) == 1
    assert "description" not in first["items"][0]

    assert await api.step("paul", ids[0], "containment") is not None
    in_root_cause = await api.get("otto", "/records", owner="paul", stage="root_cause")
    assert [item["id"] for item in in_root_cause["items"]] == [ids[0]]
    assert in_root_cause["total"] == 1
    assert (await api.get("otto", "/records", owner="paul", overdue=True))["total"] == 0

    for bad in ({"limit": 0}, {"limit": 201}, {"offset": -1}, {"stage": "nowhere"}, {"owner": "pual"}):
        response = await api.call("otto", "GET", "/records", **bad)
        assert response.status_code == 422, bad
        assert response.json()["detail"].startswith(next(iter(bad))), response.json()


async def test_similar_records(api: Api) -> None:
    """Anyone signed in finds earlier records sharing words with a query, closest first, the record under
    investigation left out; any text is taken as words, and a bad parameter is a 422 naming it."""
    wall = await api.raise_record(title="Porosity in casting wall", description="Pores seen on X-ray", lot="Q-77")
    gate = await api.raise_record(title="Porosity near the gate", description="Shrinkage near the gate")
    current = await api.raise_record(title="Porosity in casting wall again", description="Pores on X-ray, lot Q-78")

    found = await api.get("otto", "/records/similar", q="porosity in the casting wall", exclude=current)

    assert [hit["record_id"] for hit in found["items"]] == [wall, gate]
    assert found["items"][0]["title"] == "Porosity in casting wall"
    assert found["items"][0]["stage"] == "containment"
    assert "[porosity]" in found["items"][0]["snippet"].lower()
    hostile = await api.get("otto", "/records/similar", q='"pores* -OR NOT( NEAR')
    assert {hit["record_id"] for hit in hostile["items"]} == {wall, gate, current}
    for params, field in (({}, "q"), ({"q": "pores", "exclude": "nc-1"}, "exclude"), ({"q": "x", "limit": 0}, "limit")):
        refused = await api.call("otto", "GET", "/records/similar", **params)
        assert refused.status_code == 422, refused.text
        assert [error["field"] for error in refused.json()["errors"]] == [field]
    assert (await api.call(None, "GET", "/records/similar", q="pores")).status_code == 401


async def test_overdue_and_my_items(api: Api) -> None:
    """An action due in a second shows in /overdue once late, and in its owner's /me/items."""
    record_id = await api.record_at("action")
    due = datetime.now(UTC) + timedelta(seconds=1)
    plan = {"actions": [{"owner": "oscar", "due_at": due.isoformat(), "description": "Check fixture"}]}
    assert (await api.step("olivia", record_id, "plan", plan)).status_code == 200

    def late_here(page: dict[str, Any]) -> bool:
        return any(item["record_id"] == record_id and item["target"] == "A1" for item in page["items"])

    overdue = await api.until(lambda: api.get("mike", "/overdue", limit=200), late_here)
    item = next(item for item in overdue["items"] if item["record_id"] == record_id)
    assert item["holder"] == "oscar"
    assert item["late_by_seconds"] >= 0
    assert overdue["total"] >= 1

    mine = await api.get("oscar", "/me/items", limit=200)
    assert any(item["record_id"] == record_id and item["target"] == "A1" for item in mine["items"])
    olivias = await api.get("olivia", "/me/items", limit=200)
    assert not any(item["record_id"] == record_id for item in olivias["items"])
    listed = await api.get("mike", "/records", overdue=True, limit=200)
    assert record_id in [row["id"] for row in listed["items"]]


async def test_my_items_list_the_work_waiting_for_the_caller(api: Api) -> None:
    """/me/items lists what the caller may do now, not only what they hold: a verification waits for the managers,
    not for the owner who holds its deadline; an extension request for a manager's decision."""
    verifying = await api.record_at("verification")
    asking = await api.record_at("extension")

    def on(page: dict[str, Any], record_id: str) -> list[dict[str, Any]]:
        return [item for item in page["items"] if item["record_id"] == record_id]

    mikes = await api.get("mike", "/me/items", limit=200)
    (verify,) = on(mikes, verifying)
    assert (verify["step"], verify["label"], verify["target"]) == ("verify", "Verify", "stage")
    assert verify["title"] == "Burr on housing edge"
    assert verify["holder"] == "olivia"
    assert verify["late_by_seconds"] < 0
    (decide,) = on(mikes, asking)
    assert (decide["step"], decide["action_id"]) == ("decide-extension", None)
    assert decide["label"] == "Decide the extension of the containment step"
    olivias = await api.get("olivia", "/me/items", limit=200)
    assert on(olivias, verifying) == []
    assert [item["step"] for item in on(olivias, asking)] == ["contain"]


async def test_extension_requested_and_approved(api: Api) -> None:
    """The holder asks for more time, a manager approves: the step's due moves, the original stays on record."""
    record_id = await api.raise_record()
    before = (await api.record(record_id))["clock"]
    until = later(days=3)
    asked = await api.step("olivia", record_id, "extension-requests", {"until": until, "reason": "Tool on order"})
    assert asked.status_code == 200, asked.text
    assert (await api.record(record_id))["pending_extension"]["requested_by"] == "olivia"
    decided = await api.step("mike", record_id, "extension-decision", {"approve": True})
    assert decided.status_code == 200, decided.text
    clock = (await api.record(record_id))["clock"]
    assert datetime.fromisoformat(clock["due_at"]) == datetime.fromisoformat(until)
    assert clock["original_due_at"] == before["original_due_at"]
    assert clock["extensions"] == 1


async def test_reassign_and_cancel(api: Api) -> None:
    """A manager gives the record to another owner, then cancels it with a reason."""
    record_id = await api.raise_record()
    moved = await api.step("mike", record_id, "reassignment", {"owner": "oscar", "reason": "Olivia on leave"})
    assert moved.status_code == 200, moved.text
    assert (await api.record(record_id))["owner"] == "oscar"
    cancelled = await api.step("mike", record_id, "cancellation", {"reason": "Duplicate of NC-2026-0001"})
    assert cancelled.status_code == 200
    assert cancelled.json()["stage"] == "cancelled"
    state = await api.record(record_id)
    assert (state["stage"], state["cancel_reason"]) == ("cancelled", "Duplicate of NC-2026-0001")


async def test_bad_payload_names_the_field(api: Api) -> None:
    """A payload the workflow refuses is 422 naming the field, and nothing is written."""
    record_id = await api.record_at("root_cause")
    before = await api.record(record_id)
    response = await api.step("olivia", record_id, "root-cause", {"method": "five-whys", "cause": "Worn tool"})
    assert response.status_code == 422
    assert response.json()["detail"] == "whys: the five-whys method needs the why-chain: at least one why"
    assert response.json()["errors"] == [
        {"field": "whys", "message": "the five-whys method needs the why-chain: at least one why"}
    ]
    response = await api.step("olivia", record_id, "containment", {"summary": "x", "disposition": "melt"})
    assert response.status_code == 422
    assert response.json()["detail"].startswith("disposition:")
    unknown_owner = await api.call("otto", "POST", "/records", {**_raise_body(), "owner": "nobody"})
    assert unknown_owner.status_code == 422
    assert unknown_owner.json()["detail"].startswith("owner: no user named nobody")
    assert (await api.record(record_id))["events"] == before["events"]


async def test_every_bad_field_of_a_body_is_named_by_its_json_name(api: Api) -> None:
    """A body with several bad fields is refused naming each, by the name this API gives it: a reassignment's new
    owner is ``owner``, a plan's second action ``actions.1``."""
    record_id = await api.record_at("action")
    before = await api.record(record_id)
    late = "2020-01-01T00:00:00Z"
    plan = {
        "actions": [
            {"owner": "oscar", "due_at": "2099-01-01T00:00:00Z", "description": "Replace the tool"},
            {"owner": "nobody", "due_at": late, "description": ""},
        ]
    }
    response = await api.step("olivia", record_id, "plan", plan)
    assert response.status_code == 422
    assert {error["field"] for error in response.json()["errors"]} == {"actions.1.description"}
    plan["actions"][1]["description"] = "Sort the lot"
    response = await api.step("olivia", record_id, "plan", plan)
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "actions.1.owner", "message": "no user named nobody; an administrator adds people"}
    ]
    reassigned = await api.step("maria", record_id, "reassignment", {"owner": "olivia", "reason": "Back to her"})
    assert reassigned.status_code == 422
    assert reassigned.json()["errors"] == [{"field": "owner", "message": "olivia already holds it"}]
    assert (await api.record(record_id))["events"] == before["events"]


def _raise_body() -> dict[str, Any]:
    return {"title": "t", "description": "d", "severity": "minor", "source": "other", "owner": "olivia"}


async def test_me_and_users(api: Api) -> None:
    """/me is the token's user; the directory lists everyone, e-mail addresses only for managers and admins."""
    me = await api.get("olivia", "/me")
    assert (me["name"], me["role"], me["manager"], me["active"], me["can_sign_in"]) == (
        "olivia",
        "owner",
        "mike",
        True,
        True,
    )
    added = await api.ok(
        "ada",
        "POST",
        "/users",
        {"name": "erin", "full_name": "Erin Walsh", "role": "owner", "manager": "mike", "email": "e@x"},
    )
    assert (added["name"], added["full_name"], added["role"], added["can_sign_in"]) == (
        "erin",
        "Erin Walsh",
        "owner",
        False,
    )
    as_admin = await api.get("ada", "/users", limit=200)
    erin = next(u for u in as_admin["items"] if u["name"] == "erin")
    assert erin["email"] == "e@x"
    as_operator = await api.get("otto", "/users", limit=200)
    assert next(u for u in as_operator["items"] if u["name"] == "erin")["email"] is None
    assert as_operator["total"] == as_admin["total"]
    paged = await api.get("otto", "/users", limit=3, offset=1)
    assert [u["name"] for u in paged["items"]] == [u["name"] for u in as_admin["items"][1:4]]
    duplicate = await api.call("ada", "POST", "/users", {"name": "erin", "full_name": "Erin Walsh", "role": "owner"})
    assert duplicate.status_code == 422
    assert duplicate.json()["detail"].startswith("name:")


async def test_passwords_and_activation(api: Api) -> None:
    """An admin sets a password; a user changes their own with the current one; deactivation refuses the user and
    revokes their token, which stays revoked once they are reactivated: they sign in anew."""
    await api.ok(
        "ada", "POST", "/users", {"name": "fay", "full_name": "Fay Moreau", "role": "operator", "manager": "mike"}
    )
    response = await api.call("ada", "PUT", "/users/fay/password", {"password": "first-long-passphrase"})
    assert response.status_code == 204
    assert not isinstance(await api.stack.client.sign_in("fay", "first-long-passphrase"), accounts.SignInRefused)
    _, secret = await api.stack.client.create_token("fay", "fay's script", created_by="ada")
    fay = {"Authorization": f"Bearer {secret}"}

    wrong = await api.http.put(
        "/api/v1/users/fay/password", headers=fay, json={"password": "next-long-passphrase", "current_password": "no"}
    )
    assert wrong.status_code == 403
    changed = await api.http.put(
        "/api/v1/users/fay/password",
        headers=fay,
        json={"password": "next-long-passphrase", "current_password": "first-long-passphrase"},
    )
    assert changed.status_code == 204, changed.text
    assert not isinstance(await api.stack.client.sign_in("fay", "next-long-passphrase"), accounts.SignInRefused)

    off = await api.ok("ada", "POST", "/users/fay/deactivate")
    assert off["active"] is False
    assert (await api.http.get("/api/v1/me", headers=fay)).status_code == 401
    on = await api.ok("ada", "POST", "/users/fay/activate")
    assert on["active"] is True
    assert (await api.http.get("/api/v1/me", headers=fay)).status_code == 401
    assert not isinstance(await api.stack.client.sign_in("fay", "next-long-passphrase"), accounts.SignInRefused)
    assert (await api.call("ada", "POST", "/users/nobody/deactivate")).status_code == 404
    assert (await api.call("ada", "POST", "/users/ada/deactivate")).status_code == 422


async def test_notification_preferences(api: Api) -> None:
    """A user turns e-mail of one kind off for themself; an admin may do it for anyone; an unknown kind is 422."""
    mine = await api.ok("olivia", "PUT", "/users/olivia/notifications/reminder_sent", {"email": False})
    assert mine == {"user": "olivia", "kind": "reminder_sent", "email": False}
    theirs = await api.ok("ada", "PUT", "/users/oscar/notifications/digest", {"email": False})
    assert theirs["email"] is False
    unknown = await api.call("olivia", "PUT", "/users/olivia/notifications/gossip", {"email": True})
    assert unknown.status_code == 422
    assert unknown.json()["detail"].startswith("kind:")


async def test_tokens(api: Api) -> None:
    """An admin makes a token (its secret shown once), lists tokens without secrets, and revokes one."""
    created = await api.call("ada", "POST", "/tokens", {"user": "otto", "label": "MES line 3"})
    assert created.status_code == 201, created.text
    token = created.json()
    assert token["secret"].startswith(token["prefix"])
    assert (token["user_name"], token["created_by"], token["revoked_at"]) == ("otto", "ada", None)
    mes = {"Authorization": f"Bearer {token['secret']}"}
    assert (await api.http.get("/api/v1/me", headers=mes)).json()["name"] == "otto"

    listed = await api.get("ada", "/tokens", owner="otto")
    assert token["id"] in [t["id"] for t in listed["items"]]
    assert token["secret"] not in str(listed)
    assert all("secret" not in t and "secret_hash" not in t for t in listed["items"])

    revoked = await api.ok("ada", "DELETE", f"/tokens/{token['id']}")
    assert revoked["revoked_at"] is not None
    assert (await api.http.get("/api/v1/me", headers=mes)).status_code == 401
    assert (await api.call("ada", "DELETE", "/tokens/999999")).status_code == 404


async def test_notifications_and_retry(api: Api) -> None:
    """Managers read the outbox; an admin hands a failed notification to delivery again and it is sent."""
    with Session(api.stack.engine) as session:
        row = OutboxMessage(
            record_id="NC-2026-0001",
            seq=99,
            recipient="mike",
            channel="log",
            kind="escalated",
            subject="Overdue",
            body="NC-2026-0001 is overdue",
            attempts=3,
            last_error="connection refused",
            status=OutboxStatus.FAILED.value,
        )
        session.add(row)
        session.commit()
        row_id = row.id
    failed = await api.get("mike", "/notifications", failed=True, limit=200)
    assert row_id in [item["id"] for item in failed["items"]]
    assert failed["total"] == len(failed["items"])

    retried = await api.ok("ada", "POST", f"/notifications/{row_id}/retry")
    assert retried == {"id": row_id, "retried": True}

    def sent(page: dict[str, Any]) -> bool:
        return any(item["id"] == row_id and item["status"] == "sent" for item in page["items"])

    await api.until(lambda: api.get("ada", "/notifications", limit=200), sent)
    assert (await api.call("ada", "POST", "/notifications/999999/retry")).status_code == 404


async def test_digest(api: Api) -> None:
    """An admin sends the overdue digest on demand; the answer says who got how many items."""
    sent = await api.ok("ada", "POST", "/digest")
    assert sent["workflow_id"].startswith("capaflow-overdue-digest-manual-")
    assert isinstance(sent["recipients"], dict)
    assert sent["day"]


async def test_health_and_documents(api: Api) -> None:
    """Liveness and readiness answer without a token; the OpenAPI document and the interactive docs are served."""
    assert (await api.http.get("/healthz")).json() == {"status": "ok"}
    ready = await api.http.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "temporal": None, "database": None}
    document = (await api.http.get("/openapi.json")).json()
    assert "/api/v1/records/{record_id}/containment" in document["paths"]
    assert "bearer" in str(document["components"]["securitySchemes"]).lower()
    assert (await api.http.get("/docs")).status_code == 200


async def test_passwords_are_not_echoed(api: Api) -> None:
    """Setting a password too short is refused naming the field, without repeating what was sent."""
    response = await api.call("ada", "PUT", "/users/otto/password", {"password": "Zq9!x"})
    assert response.status_code == 422
    assert response.json()["detail"].startswith("password:")
    assert "Zq9!x" not in response.text
    assert PASSWORD not in response.text
