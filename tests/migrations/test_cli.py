"""`capa db` upgrades and reports the schema; `capa worker` refuses a stale one, in one line naming the fix."""

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import SQLModel

from core import migrations
from core.readmodel import add_user, list_users

CAPA = Path(sys.executable).parent / "capa"


def _capa(engine: Engine, *args: str, pythonpath: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CAPA_DATABASE_URL": engine.url.render_as_string(hide_password=False)}
    if pythonpath is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(pythonpath), *filter(None, [env.get("PYTHONPATH")])])
    return subprocess.run([str(CAPA), *args], env=env, capture_output=True, text=True, timeout=60, check=False)


def test_capa_db_upgrade_applies_what_is_pending_and_then_nothing(blank: Engine, newer_release: Path) -> None:
    """On a database at 0001, a release with 0002 refuses to start; `capa db upgrade` applies 0002, once."""
    migrations.upgrade(blank, "0001")
    add_user(blank, "ada", "admin")

    refused = _capa(blank, "worker", pythonpath=newer_release)
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines()[-1].startswith("error: ")
    assert "run `capa db upgrade`" in refused.stderr

    before = _capa(blank, "db", "current", pythonpath=newer_release)
    assert before.stdout.strip() == "0001 (behind head 0002; run `capa db upgrade`)"

    applied = _capa(blank, "db", "upgrade", pythonpath=newer_release)
    assert (applied.returncode, applied.stdout.strip()) == (0, "applied 0002 index events by kind"), applied.stderr

    again = _capa(blank, "db", "upgrade", pythonpath=newer_release)
    assert (again.returncode, again.stdout.strip()) == (0, "database is up to date")
    assert _capa(blank, "db", "current", pythonpath=newer_release).stdout.strip() == "0002 (head)"
    assert [user.name for user in list_users(blank)] == ["ada"]


def test_capa_db_upgrade_creates_the_schema_of_an_empty_database(blank: Engine) -> None:
    """`capa db upgrade` on an empty database applies every migration and says which."""
    assert _capa(blank, "db", "current").stdout.startswith("none: the database is empty")

    result = _capa(blank, "db", "upgrade")

    assert (result.returncode, result.stdout.strip()) == (0, "applied 0001 initial schema"), result.stderr
    assert migrations.state(blank).up_to_date


def test_capa_db_upgrade_adopts_tables_from_before_migrations(blank: Engine) -> None:
    """Tables an older capaflow made without migrations stop the CLI; `capa db upgrade` adopts them, data kept."""
    SQLModel.metadata.create_all(blank)
    add_user(blank, "ada", "admin")

    refused = _capa(blank, "users", "add", "bob", "--role", "admin")
    assert refused.returncode == 2
    assert refused.stderr.count("\n") == 1
    assert "created before capaflow had migrations; run `capa db upgrade`" in refused.stderr

    result = _capa(blank, "db", "upgrade")

    assert result.returncode == 0, result.stderr
    adopted = "adopted the tables from before migrations as revision 0001"
    assert result.stdout.splitlines() == [adopted, "database is up to date"]
    assert _capa(blank, "users", "add", "bob", "--role", "admin").returncode == 0
    assert [user.name for user in list_users(blank)] == ["ada", "bob"]


def test_an_unreachable_database_is_one_line_and_exit_1(tmp_path: Path) -> None:
    """`capa db current` on a database it cannot open says so in one line and exits 1."""
    env = {**os.environ, "CAPA_DATABASE_URL": "postgresql://nobody@127.0.0.1:9/none?connect_timeout=2"}

    result = subprocess.run(
        [str(CAPA), "db", "current"], env=env, capture_output=True, text=True, timeout=60, check=False
    )

    assert result.returncode == 1
    assert result.stderr.startswith("error: database postgresql+psycopg://nobody@127.0.0.1:9/none")
    assert result.stderr.count("\n") == 1
