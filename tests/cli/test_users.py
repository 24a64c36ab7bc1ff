"""``capa users``: the administrator's directory tool, which needs no actor and no Temporal."""

from tests.cli.conftest import Capa, assert_one_line_error


async def test_users_add_then_list(capa: Capa) -> None:
    """A user added with role, manager and e-mail is listed with them, as JSON and as a table."""
    added = await capa.ok("users", "add", "uma", "--role", "owner", "--manager", "mike", "--email", "uma@example.com")
    assert "uma" in added.out

    users = {user["name"]: user for user in (await capa.ok("users", "list", "--json")).json()}
    assert users["uma"] | {"created_at": None} == {
        "name": "uma",
        "role": "owner",
        "manager": "mike",
        "email": "uma@example.com",
        "created_at": None,
        "active": True,
        "can_sign_in": False,
    }
    table = (await capa.ok("users", "list")).out
    assert any(line.split()[:3] == ["uma", "owner", "mike"] for line in table.splitlines())


async def test_users_add_with_unknown_manager_names_the_option(capa: Capa) -> None:
    """A manager missing from the directory is refused with a message naming --manager, and nobody is added."""
    run = await capa("users", "add", "vera", "--role", "owner", "--manager", "nobody")
    assert_one_line_error(run, 2, "--manager", "nobody")
    names = [user["name"] for user in (await capa.ok("users", "list", "--json")).json()]
    assert "vera" not in names
