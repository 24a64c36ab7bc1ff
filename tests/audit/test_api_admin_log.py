"""Through the HTTP API, the admin log names the signed-in admin who made each change."""

import json

from sqlmodel import Session, col, select

from models.tables import AdminLogEntry
from tests.api.flow import Api


async def test_the_admin_log_names_who_made_each_change_through_the_api(api: Api) -> None:
    """ada adds gil, makes gil an owner, sets gil's password and deactivates gil: four entries, each naming ada,
    the role change with its before and after, none the password."""
    await api.ok(
        "ada", "POST", "/users", {"name": "gil", "role": "operator", "manager": "mike", "full_name": "Gil Moreau"}
    )
    await api.ok("ada", "PATCH", "/users/gil", {"role": "owner"})
    await api.ok("ada", "PUT", "/users/gil/password", {"password": "a-long-enough-passphrase"})
    await api.ok("ada", "POST", "/users/gil/deactivate")

    with Session(api.stack.engine) as session:
        query = select(AdminLogEntry).where(col(AdminLogEntry.target) == "gil").order_by(col(AdminLogEntry.seq))
        entries = list(session.exec(query))

    assert [(e.actor, e.action) for e in entries] == [
        ("ada", "user_added"),
        ("ada", "role_changed"),
        ("ada", "password_set"),
        ("ada", "deactivated"),
    ]
    assert json.loads(entries[0].after) == {
        "full_name": "Gil Moreau",
        "role": "operator",
        "manager": "mike",
        "email": None,
    }
    assert (json.loads(entries[1].before), json.loads(entries[1].after)) == ({"role": "operator"}, {"role": "owner"})
    assert all("a-long-enough-passphrase" not in e.before + e.after for e in entries)


async def test_admins_read_the_admin_log_newest_first_with_each_entrys_hash(api: Api) -> None:
    """ada (admin) pages through the log, newest first, all of it or one account's, each entry with its hash;
    a manager and an operator are refused (403)."""
    await api.ok("ada", "PATCH", "/users/olivia", {"role": "manager"})
    with Session(api.stack.engine) as session:
        stored = list(session.exec(select(AdminLogEntry).order_by(col(AdminLogEntry.seq).desc())))

    first = await api.get("ada", "/admin-log", limit=2)
    second = await api.get("ada", "/admin-log", limit=2, offset=2)
    olivia = await api.get("ada", "/admin-log", target="olivia")
    refused = [(await api.call(who, "GET", "/admin-log")).status_code for who in ("mike", "otto")]

    assert (first["total"], first["limit"], first["offset"]) == (len(stored), 2, 0)
    assert [e["seq"] for e in first["items"] + second["items"]] == [e.seq for e in stored[:4]]
    assert [e["hash"] for e in first["items"]] == [e.hash for e in stored[:2]]
    newest = first["items"][0]
    assert (newest["actor"], newest["action"], newest["target"]) == ("ada", "role_changed", "olivia")
    assert (newest["before"], newest["after"]) == ({"role": "owner"}, {"role": "manager"})
    assert newest["at"].endswith("Z")
    olivias = [e.seq for e in stored if e.target == "olivia"]
    assert [e["seq"] for e in olivia["items"]] == olivias
    assert olivia["total"] == len(olivias)
    assert refused == [403, 403]
