"""Passwords typed at a terminal: Ctrl-D at any of ``capa``'s password prompts ends with one line, no traceback."""

import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import pytest

CAPA = Path(sys.executable).with_name("capa")


def _at_terminal(*args: str, tmp_path: Path) -> tuple[int, str]:
    """Run ``capa ARGS`` on a pseudo-terminal, press Ctrl-D at its first prompt; its exit code and all it printed."""
    leader, follower = pty.openpty()
    environment = {key: value for key, value in os.environ.items() if not key.startswith("CAPA_")}
    # Nothing listens here: the command must stop at its prompt, before it would send anything.
    environment |= {"CAPA_API_URL": "http://127.0.0.1:9", "CAPA_CONFIG_DIR": str(tmp_path), "COLUMNS": "200"}
    process = subprocess.Popen(
        [str(CAPA), *args], stdin=follower, stdout=follower, stderr=follower, env=environment, start_new_session=True
    )
    os.close(follower)
    seen = b""
    while b"password" not in seen.lower():
        ready, _, _ = select.select([leader], [], [], 30)
        assert ready, f"no password prompt; printed: {seen!r}"
        seen += os.read(leader, 1024)
    os.write(leader, b"\x04")
    code = process.wait(timeout=30)
    while True:
        ready, _, _ = select.select([leader], [], [], 0.5)
        if not ready:
            break
        try:
            chunk = os.read(leader, 1024)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    os.close(leader)
    return code, seen.decode(errors="replace")


@pytest.mark.parametrize(
    "args",
    [
        ("login", "maria"),
        ("--as", "maria", "cancel", "NC-2026-0001", "--reason", "Raised twice"),
    ],
    ids=["login", "signing"],
)
def test_ctrl_d_at_a_password_prompt_is_one_line(args: tuple[str, ...], tmp_path: Path) -> None:
    code, printed = _at_terminal(*args, tmp_path=tmp_path)
    assert code == 2, printed
    assert "error: no password given" in printed
    assert "Traceback" not in printed
