"""Signing in: `capa login`, `whoami`, `logout`, `--as` and CAPA_TOKEN, and the first admin of an empty directory.

The commands for people act only as someone who signed in here with their password (or through an API token):
`--as` picks among those sign-ins and never impersonates anyone else.
"""

import dataclasses
import json
import stat
from pathlib import Path

import httpx
import pytest

from core import accounts
from core.database import make_engine
from models.tables import User
from tests.cli.conftest import Capa, assert_one_line_error
from tests.stack import PASSWORD


@pytest.fixture
def own(capa: Capa, tmp_path: Path) -> Capa:
    """``capa`` with a credentials directory of this test's own: no one signed in yet."""
    return dataclasses.replace(capa, config_dir=tmp_path / "config", signed_in=set())


def stored(capa: Capa) -> dict[str, dict[str, str]]:
    """The stored sign-ins for this module's API, by name."""
    data = json.loads((capa.config_dir / "credentials.json").read_text())
    people: dict[str, dict[str, str]] = data["servers"][capa.api_url]
    return people


async def me(capa: Capa, token: str) -> httpx.Response:
    """``GET /api/v1/me`` with ``token``, asked without blocking the event loop the API runs in."""
    async with httpx.AsyncClient() as http:
        return await http.get(f"{capa.api_url}/api/v1/me", headers={"Authorization": f"Bearer {token}"})


async def test_login_stores_a_sign_in_only_its_owner_can_read(own: Capa) -> None:
    """`capa login` with the password piped in keeps a token for that person and server in a 0600 file, prints
    no secret, and the token acts as that person."""
    run = await own.login("olivia")
    assert run.out.strip() == f"signed in as olivia (Olivia Novak, owner) on {own.api_url}"
    assert "capa_" not in run.out + run.err
    path = own.config_dir / "credentials.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    token = stored(own)["olivia"]["token"]
    assert (await me(own, token)).json()["name"] == "olivia"
    # With one sign-in it acts by default, no --as needed.
    listed = await own.run("list", "--json")
    assert listed.code == 0, listed.err


async def test_a_wrong_password_is_one_line_and_stores_nothing(own: Capa) -> None:
    """A wrong password is refused with exit 1 in one line; no credentials are kept."""
    run = await own.run("login", "oscar", stdin="not-the-password\n")
    assert_one_line_error(run, 1, "wrong user name or password")
    assert not (own.config_dir / "credentials.json").exists()


async def test_as_someone_not_signed_in_is_refused(own: Capa) -> None:
    """`--as` picks a stored sign-in; a name without one is refused naming `capa login NAME`, and nothing acts."""
    await own.login("olivia")
    run = await own.run("--as", "maria", "list")
    assert_one_line_error(run, 1, "not signed in as maria", "capa login maria")
    nobody = dataclasses.replace(own, config_dir=own.config_dir.parent / "empty")
    assert_one_line_error(await nobody.run("list"), 1, "not signed in", "capa login NAME")


async def test_several_sign_ins_ask_for_as_and_whoami_tells_them(own: Capa) -> None:
    """With two people signed in, a command without --as asks for it (exit 2); whoami lists both, none default."""
    await own.login("olivia")
    single = await own.run("whoami")
    assert single.out.strip() == f"olivia (Olivia Novak, owner) on {own.api_url}: signed in; acts by default"
    await own.login("maria")
    run = await own.run("list")
    assert_one_line_error(run, 2, "signed in as maria, olivia", "--as NAME")
    who = (await own.run("whoami", "--json")).json()
    assert [(s["sign_in"], s["user"]["name"], s["acts_by_default"]) for s in who["sign_ins"]] == [
        ("maria", "maria", False),
        ("olivia", "olivia", False),
    ]
    assert (await own.run("--as", "maria", "list")).code == 0


async def test_logout_revokes_the_token(own: Capa) -> None:
    """`capa logout NAME` revokes the token on the server (it answers 401 from then on) and forgets it here."""
    await own.login("oscar")
    await own.login("paul")
    token = stored(own)["oscar"]["token"]
    assert (await me(own, token)).status_code == 200
    run = await own.run("logout", "oscar")
    assert run.code == 0, run.err
    assert (await me(own, token)).status_code == 401
    assert "oscar" not in stored(own)
    assert_one_line_error(await own.run("--as", "oscar", "list"), 1, "capa login oscar")
    # paul's sign-in is untouched, and now the only one.
    assert (await own.run("list")).code == 0


async def test_an_api_token_acts_instead_of_a_sign_in(own: Capa) -> None:
    """CAPA_TOKEN (an API token an admin made) acts with no stored sign-in; a revoked one is told to sign in."""
    made = (await own("tokens", "create", "olivia", "--label", "line 3 script", "--json", user="ada")).json()
    with_token = {"CAPA_TOKEN": made["secret"], "CAPA_CONFIG_DIR": str(own.config_dir.parent / "none")}
    raised = await own.run(
        "raise",
        *("--title", "Burr", "--description", "Burr on edge", "--severity", "minor"),
        *("--source", "inspection", "--owner", "olivia", "--json"),
        env=with_token,
    )
    assert raised.code == 0, raised.err
    shown = await own.show(raised.json()["id"])
    assert shown["events"][0]["actor"] == "olivia"
    who = await own.run("whoami", env=with_token)
    expected = f"olivia (Olivia Novak, owner) via CAPA_TOKEN on {own.api_url}: signed in; acts by default"
    assert who.out.strip() == expected
    await own.ok("tokens", "revoke", str(made["id"]), user="ada")
    assert_one_line_error(await own.run("list", env=with_token), 1, "revoked", "capa login")


async def test_a_deactivated_person_can_neither_sign_in_nor_act(own: Capa) -> None:
    """Once deactivated, a person's stored sign-in and their password are both refused; reactivated, their old
    sign-in stays revoked and they sign in anew to act."""
    await own.login("nina")
    await own.ok("users", "deactivate", "nina", user="ada")
    try:
        acting = await own("list", user="nina")
        assert_one_line_error(acting, 1, "deactivated", "capa login nina")
        assert_one_line_error(await own.run("login", "nina", stdin=f"{PASSWORD}\n"), 1, "wrong user name or password")
    finally:
        await own.ok("users", "activate", "nina", user="ada")
    assert_one_line_error(await own("list", user="nina"), 1, "revoked", "capa login")
    await own.login("nina")
    assert (await own("list", user="nina")).code == 0


async def test_the_first_admin_of_an_empty_directory(own: Capa, tmp_path: Path) -> None:
    """With no sign-in, `capa users add` on an empty directory writes the first admin (with a password and their
    full name) straight into the database; the next person needs an admin's sign-in, and the first must be an
    admin with a full name."""
    database = {"CAPA_DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}"}
    ada = ("--full-name", "Ada Lovelace", "--password-stdin")
    owner_first = await own.run(
        "users", "add", "root", "--role", "owner", *ada, env=database, stdin="first-admin-pass\n"
    )
    assert_one_line_error(owner_first, 2, "--role", "admin")
    nameless = await own.run(
        "users", "add", "root", "--role", "admin", "--password-stdin", env=database, stdin="first-admin-pass\n"
    )
    assert_one_line_error(nameless, 2, "--full-name")
    first = await own.run("users", "add", "root", "--role", "admin", *ada, env=database, stdin="first-admin-pass\n")
    assert first.code == 0, first.err
    assert first.out.startswith("added root (Ada Lovelace, admin), the directory's first admin")
    engine = make_engine(database["CAPA_DATABASE_URL"])
    admin = accounts.authenticate(engine, "root", "first-admin-pass")
    assert isinstance(admin, User)
    assert (admin.name, admin.full_name) == ("root", "Ada Lovelace")
    second = await own.run("users", "add", "sam", "--role", "owner", "--password-stdin", env=database, stdin="x\n")
    assert_one_line_error(second, 1, "has people already", "capa login")
    help_text = (await own.run("users", "add", "--help")).out
    assert "first admin" in help_text


async def test_signing_in_again_replaces_the_token(own: Capa) -> None:
    """A second `capa login` of the same person keeps the new token and revokes the one it replaces."""
    await own.login("otto")
    first = stored(own)["otto"]["token"]
    await own.login("otto")
    second = stored(own)["otto"]["token"]
    assert second != first
    assert (await me(own, first)).status_code == 401
    assert (await me(own, second)).status_code == 200


async def test_guessing_a_password_is_slowed_down(own: Capa) -> None:
    """After the free failures a name must wait: `capa login` says so in one line, with how long, exit 1."""
    for _ in range(3):
        assert_one_line_error(await own.run("login", "mike", stdin="a-wrong-guess\n"), 1, "wrong user name or password")
    waiting = await own.run("login", "mike", stdin=f"{PASSWORD}\n")
    assert_one_line_error(waiting, 1, "too many failed sign-ins", " s)")
    assert not (own.config_dir / "credentials.json").exists()
