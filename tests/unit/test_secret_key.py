"""The key that signs sessions, made once per installation: processes starting together agree on it."""

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from core import settings as settings_module
from core.settings import Settings


def test_processes_starting_together_get_the_same_whole_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Sixteen starts at once, with no key yet: every one reads the same 64-character key, none an empty one, and
    no draft is left beside it."""
    monkeypatch.setattr(settings_module, "DATA_DIR", tmp_path / ".data")
    with ThreadPoolExecutor(max_workers=16) as pool:
        keys = list(pool.map(lambda _: Settings().session_secret(), range(16)))
    assert len(set(keys)) == 1
    assert len(keys[0]) == 64
    assert sorted(path.name for path in (tmp_path / ".data").iterdir()) == ["secret-key"]
    assert (tmp_path / ".data" / "secret-key").stat().st_mode & 0o777 == 0o600
