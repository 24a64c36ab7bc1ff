"""``capa users``: the administrator's directory tool, through the HTTP API as an admin's sign-in."""

from tests.cli.conftest import Capa, assert_one_line_error


async def test_users_add_then_list(capa: Capa) -> None:
    """A user added with role, manager and e-mail is listed with them, as JSON and as a table."""
    added = await capa.ok(
        "users",
        "add",
        "uma",
        "--role",
        "owner",
        "--full-name",
        "Uma Patel",
        "--manager",
        "mike",
        "--email",
        "uma@example.com",
        user="ada",
    )
    assert added.out.strip() == "added uma (Uma Patel, owner)"

    users = {user["name"]: user for user in (await capa.ok("users", "list", "--json", user="ada")).json()}
    assert users["uma"] | {"created_at": None} == {
        "name": "uma",
        "full_name": "Uma Patel",
        "role": "owner",
        "manager": "mike",
        "email": "uma@example.com",
        "created_at": None,
        "active": True,
        "can_sign_in": False,
        "site": None,
        "time_zone": None,
    }
    table = (await capa.ok("users", "list", user="ada")).out
    assert any(line.split()[:5] == ["uma", "Uma", "Patel", "owner", "mike"] for line in table.splitlines())


async def test_users_add_with_unknown_manager_names_the_option(capa: Capa) -> None:
    """A manager missing from the directory is refused with a message naming --manager, and nobody is added."""
    run = await capa(
        "users", "add", "vera", "--role", "owner", "--full-name", "Vera Holm", "--manager", "nobody", user="ada"
    )
    assert_one_line_error(run, 2, "--manager", "nobody")
    names = [user["name"] for user in (await capa.ok("users", "list", "--json", user="ada")).json()]
    assert "vera" not in names


async def test_only_an_admin_changes_the_directory(capa: Capa) -> None:
    """A manager's sign-in may read the directory but not add to it; the refusal names the role it needs."""
    run = await capa("users", "add", "wes", "--role", "owner", "--full-name", "Wes Carter", user="maria")
    assert_one_line_error(run, 1, "maria is manager", "admin")
    names = [user["name"] for user in (await capa.ok("users", "list", "--json", user="maria")).json()]
    assert "wes" not in names


async def test_a_person_needs_a_full_name(capa: Capa) -> None:
    """`capa users add` without --full-name is refused naming the option, and nobody is added."""
    run = await capa("users", "add", "yan", "--role", "owner", user="ada")
    assert_one_line_error(run, 2, "--full-name")
    names = [user["name"] for user in (await capa.ok("users", "list", "--json", user="ada")).json()]
    assert "yan" not in names
