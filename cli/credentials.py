"""The sign-ins ``capa login`` keeps: per server and person, an API token, in ``credentials.json``.

The file lives in CAPA_CONFIG_DIR (default ``~/.config/capaflow``), readable by its owner only (mode 0600), and is
replaced whole at every change (written beside it, then renamed), so a crash never leaves half a file:

    {"servers": {"http://127.0.0.1:8000": {"maria": {"token": "capa_...", "signed_in_at": "2026-..."}}}}
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

FILE_NAME = "credentials.json"


def config_dir(configured: Path | None) -> Path:
    return configured if configured is not None else Path.home() / ".config" / "capaflow"


class Credentials:
    """The stored sign-ins of one file."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / FILE_NAME

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {"servers": {}}
        except (OSError, ValueError) as exc:
            raise CredentialsError(f"cannot read {self.path}: {exc}; remove it and `capa login` again") from None
        if not isinstance(data, dict) or not isinstance(data.get("servers"), dict):
            raise CredentialsError(f"{self.path} is not a capa credentials file; remove it and `capa login` again")
        return data

    def _write(self, data: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, draft = tempfile.mkstemp(prefix=".credentials.", dir=self.path.parent)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w") as file:
                json.dump(data, file, indent=2)
                file.flush()
                os.fsync(file.fileno())
            os.replace(draft, self.path)
        except BaseException:
            Path(draft).unlink(missing_ok=True)
            raise

    def names(self, server: str) -> list[str]:
        """Who is signed in on ``server``, by name."""
        return sorted(self._read()["servers"].get(server, {}))

    def token(self, server: str, name: str) -> str | None:
        entry = self._read()["servers"].get(server, {}).get(name)
        token = entry.get("token") if isinstance(entry, dict) else None
        return token if isinstance(token, str) else None

    def store(self, server: str, name: str, token: str) -> None:
        data = self._read()
        data["servers"].setdefault(server, {})[name] = {
            "token": token,
            "signed_in_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        self._write(data)

    def forget(self, server: str, name: str) -> None:
        data = self._read()
        people = data["servers"].get(server, {})
        people.pop(name, None)
        if not people:
            data["servers"].pop(server, None)
        self._write(data)


class CredentialsError(Exception):
    """The credentials file cannot be used; one line saying what to do."""
