"""The directory through the API: full names when people are added, and an admin's changes to a person."""

from typing import Any

import pytest

from tests.api.flow import Api
from tests.web.pages import browser


async def test_a_person_is_added_with_a_full_name(api: Api) -> None:
    """Adding someone needs their full name; the directory and /me then show it."""
    missing = await api.call("ada", "POST", "/users", {"name": "rosa", "role": "owner", "manager": "mike"})
    assert missing.status_code == 422
    assert missing.json()["errors"] == [{"field": "full_name", "message": "required"}]
    added = await api.ok("ada", "POST", "/users", {"name": "rosa", "full_name": "Rosa Baker", "role": "owner"})
    assert added["full_name"] == "Rosa Baker"
    assert (await api.get("maria", "/me"))["full_name"] == "Maria Keller"
    listed = await api.get("otto", "/users", limit=200)
    assert {u["name"]: u["full_name"] for u in listed["items"]}["rosa"] == "Rosa Baker"


@pytest.mark.parametrize(
    ("full_name", "message"),
    [
        ("", "required"),
        ("x" * 121, "at most 120 characters"),
        ("Rita\r\nBcc: all@example.com", "contains a control character (U+000D); one line of plain text"),
    ],
)
async def test_a_bad_full_name_is_refused_naming_the_field(api: Api, full_name: str, message: str) -> None:
    """An empty, over-long or control-character full name: 422 on ``full_name``, and no one is added."""
    body = {"name": "rita", "full_name": full_name, "role": "owner"}
    response = await api.call("ada", "POST", "/users", body)
    assert response.status_code == 422, response.text
    assert response.json()["errors"] == [{"field": "full_name", "message": message}]
    assert "rita" not in {u["name"] for u in (await api.get("ada", "/users", limit=200))["items"]}


async def test_an_admin_changes_a_person(api: Api) -> None:
    """PATCH changes only the fields given: full name, role, manager, e-mail (null clears it)."""
    await api.ok("ada", "POST", "/users", {"name": "sam", "full_name": "Sam Hill", "role": "owner", "email": "s@x"})
    changed = await api.ok("ada", "PATCH", "/users/sam", {"full_name": "Samuel Hill", "manager": "nina"})
    assert (changed["full_name"], changed["role"], changed["manager"], changed["email"]) == (
        "Samuel Hill",
        "owner",
        "nina",
        "s@x",
    )
    changed = await api.ok("ada", "PATCH", "/users/sam", {"role": "manager", "email": None})
    assert (changed["full_name"], changed["role"], changed["manager"], changed["email"]) == (
        "Samuel Hill",
        "manager",
        "nina",
        None,
    )


async def test_a_bad_change_names_each_field_and_changes_nothing(api: Api) -> None:
    """Every field at fault is named (422), and the person stays as they were."""
    await api.ok("ada", "POST", "/users", {"name": "tess", "full_name": "Tess Ng", "role": "owner"})
    before = await api.get("ada", "/users", limit=200)
    body: dict[str, Any] = {"full_name": "Tess\x00", "role": "chief", "manager": "otto"}
    response = await api.call("ada", "PATCH", "/users/tess", body)
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["role"]
    response = await api.call("ada", "PATCH", "/users/tess", {"full_name": "Tess\x00", "manager": "otto"})
    assert response.status_code == 422, response.text
    assert response.json()["errors"] == [
        {"field": "full_name", "message": "contains a control character (U+0000); one line of plain text"},
        {"field": "manager", "message": "'otto' is an operator, not a manager or admin"},
    ]
    assert await api.get("ada", "/users", limit=200) == before


async def test_only_admins_change_people_and_not_their_own_admin_role(api: Api) -> None:
    """A manager's PATCH is 403; an admin cannot demote themself (another admin can); an unknown name is 404."""
    refused = await api.call("maria", "PATCH", "/users/olivia", {"full_name": "Someone Else"})
    assert refused.status_code == 403
    demoted = await api.call("ada", "PATCH", "/users/ada", {"role": "owner"})
    assert demoted.status_code == 422
    assert [e["field"] for e in demoted.json()["errors"]] == ["role"]
    assert (await api.call("ada", "PATCH", "/users/ghost", {"full_name": "No One"})).status_code == 404
    assert (await api.get("olivia", "/me"))["full_name"] == "Olivia Novak"


async def test_pages_name_people_by_their_full_names(api: Api) -> None:
    """The record page names its owner and raiser "Olivia Novak (olivia)"; the list, where space is tight, by
    the full name alone; the header names who is signed in."""
    async with browser(api.stack, "otto") as otto:
        raised = await otto.raise_record()
        assert raised.status_code == 303, raised.text
        page = await otto.get(raised.headers["location"])
        assert "<dd>Olivia Novak (olivia)</dd>" in page.text
        assert "by Otto Weber (otto)</dd>" in page.text
        assert "<strong>Otto Weber (otto)</strong>" in page.text
        listing = await otto.get("/records", owner="olivia")
        assert '<td data-label="Owner">Olivia Novak</td>' in listing.text
