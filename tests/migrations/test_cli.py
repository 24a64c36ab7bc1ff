"""`capa db` upgrades and reports the schema; `capa worker` refuses a stale one, in one line naming the fix."""

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import Engine

from core import migrations
from core.readmodel import add_user, list_users
from tests.migrations.conftest import CURRENT, NEXT, create_tables_as_before_migrations

CAPA = Path(sys.executable).parent / "capa"
# Every revision this release ships, oldest first.
ALL_REVISIONS = [f"{number:04d}" for number in range(1, int(migrations.head_revision()) + 1)]


def _capa(engine: Engine, *args: str, pythonpath: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CAPA_DATABASE_URL": engine.url.render_as_string(hide_password=False)}
    if pythonpath is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(pythonpath), *filter(None, [env.get("PYTHONPATH")])])
    return subprocess.run([str(CAPA), *args], env=env, capture_output=True, text=True, timeout=60, check=False)


def test_capa_db_upgrade_applies_what_is_pending_and_then_nothing(blank: Engine, newer_release: Path) -> None:
    """On a database at this release's head, a newer release refuses to start; `capa db upgrade` applies its
    one new revision, once."""
    migrations.upgrade(blank, CURRENT)
    add_user(blank, "ada", "admin")

    for command in ("worker", "api"):
        refused = _capa(blank, command, pythonpath=newer_release)
        assert refused.returncode == 2, command
        assert refused.stderr.strip().splitlines()[-1].startswith("error: "), command
        assert "run `capa db upgrade`" in refused.stderr, command

    before = _capa(blank, "db", "current", pythonpath=newer_release)
    assert before.stdout.strip() == f"{CURRENT} (behind head {NEXT}; run `capa db upgrade`)"

    applied = _capa(blank, "db", "upgrade", pythonpath=newer_release)
    assert (applied.returncode, applied.stdout.strip()) == (0, f"applied {NEXT} index events by kind"), applied.stderr

    again = _capa(blank, "db", "upgrade", pythonpath=newer_release)
    assert (again.returncode, again.stdout.strip()) == (0, "database is up to date")
    assert _capa(blank, "db", "current", pythonpath=newer_release).stdout.strip() == f"{NEXT} (head)"
    assert [user.name for user in list_users(blank)] == ["ada"]


def test_capa_db_upgrade_creates_the_schema_of_an_empty_database(blank: Engine) -> None:
    """`capa db upgrade` on an empty database applies every migration and says which."""
    assert _capa(blank, "db", "current").stdout.startswith("none: the database is empty")

    result = _capa(blank, "db", "upgrade")

    assert result.returncode == 0, result.stderr
    assert [line.split()[:2] for line in result.stdout.splitlines()] == [["applied", r] for r in ALL_REVISIONS]
    assert migrations.state(blank).up_to_date


def test_capa_db_upgrade_adopts_tables_from_before_migrations(blank: Engine) -> None:
    """Tables an older capaflow made without migrations stop the CLI; `capa db upgrade` adopts them, data kept."""
    create_tables_as_before_migrations(blank, users=["ada"])

    refused = _capa(blank, "users", "add", "bob", "--role", "admin")
    assert refused.returncode == 2
    assert refused.stderr.count("\n") == 1
    assert "created before capaflow had migrations; run `capa db upgrade`" in refused.stderr

    result = _capa(blank, "db", "upgrade")

    assert result.returncode == 0, result.stderr
    adopted = "adopted the tables from before migrations as revision 0001"
    assert result.stdout.splitlines()[0] == adopted
    assert [line.split()[:2] for line in result.stdout.splitlines()[1:]] == [["applied", r] for r in ALL_REVISIONS[1:]]
    assert migrations.state(blank).up_to_date
    assert [user.name for user in list_users(blank)] == ["ada"]


def test_an_unreachable_database_is_one_line_and_exit_1(tmp_path: Path) -> None:
    """`capa db current` on a database it cannot open says so in one line and exits 1."""
    env = {**os.environ, "CAPA_DATABASE_URL": "postgresql://nobody@127.0.0.1:9/none?connect_timeout=2"}

    result = subprocess.run(
        [str(CAPA), "db", "current"], env=env, capture_output=True, text=True, timeout=60, check=False
    )

    assert result.returncode == 1
    assert result.stderr.startswith("error: database postgresql+psycopg://nobody@127.0.0.1:9/none")
    assert result.stderr.count("\n") == 1
