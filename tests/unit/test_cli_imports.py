"""`capa --help` and the parsing of a command stay quick: the CLI loads Temporal, the database, the web stack and
password hashing only inside the commands that use them."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("temporalio", "sqlalchemy", "sqlmodel", "fastapi", "argon2", "alembic", "uvicorn")


def test_capa_help_loads_none_of_the_heavy_libraries() -> None:
    """Printing the help imports every command module (their options and help texts) but no library that only a
    command's work needs."""
    probe = (
        "import contextlib, io, json, sys\n"
        "from cli.app import CapaApp\n"
        "CapaApp.__call__.__globals__['_exit'] = lambda code: None\n"
        "from cli.main import app\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
        "    app(['--help'])\n"
        "print(json.dumps({'help': out.getvalue(), 'modules': sorted(sys.modules)}))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    answer = json.loads(done.stdout)
    assert "raise" in answer["help"]
    assert "root-cause" in answer["help"]
    loaded = {name.split(".")[0] for name in answer["modules"]}
    assert loaded.isdisjoint(HEAVY), sorted(loaded & set(HEAVY))
