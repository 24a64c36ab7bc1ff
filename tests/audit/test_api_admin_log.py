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
