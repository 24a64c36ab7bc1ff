"""Failed sign-ins slow a name down however the attempts arrive: one after another or all at once."""

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import Engine

from core import accounts
from core.readmodel import add_user


def test_thirty_guesses_at_once_get_no_more_checks_than_three_in_a_row(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Thirty wrong passwords for one name sent together: only the free attempts have their password checked,
    the rest are told to wait, and none fails on the database (no lost count, no clash creating the name's row)."""
    add_user(engine, "olivia", "owner", None, None)
    accounts.set_password(engine, "olivia", "correct horse battery")
    checked: list[str] = []
    verify = accounts._hasher.verify_and_update

    def counted(password: str, hashed: str) -> Any:
        checked.append(password)
        return verify(password, hashed)

    monkeypatch.setattr(accounts._hasher, "verify_and_update", counted)
    for name in ("olivia", "nobody-here"):
        checked.clear()
        with ThreadPoolExecutor(max_workers=30) as pool:
            guesses = [(name, f"guess {n}") for n in range(30)]
            outcomes = list(pool.map(lambda guess: accounts.authenticate(engine, *guess), guesses))
        assert all(isinstance(outcome, accounts.SignInRefused) for outcome in outcomes)
        assert len(checked) == accounts.FREE_FAILURES, name
        waits = [outcome for outcome in outcomes if isinstance(outcome, accounts.SignInRefused) and outcome.retry_after]
        assert len(waits) == 30 - accounts.FREE_FAILURES, name


def test_the_right_password_after_failures_clears_them(engine: Engine) -> None:
    """Two wrong tries, then the right one: signed in, and the name's count starts again from nothing."""
    add_user(engine, "oscar", "owner", None, None)
    accounts.set_password(engine, "oscar", "correct horse battery")
    for _ in range(2):
        assert isinstance(accounts.authenticate(engine, "oscar", "wrong"), accounts.SignInRefused)
    signed_in = accounts.authenticate(engine, "oscar", "correct horse battery")
    assert not isinstance(signed_in, accounts.SignInRefused)
    for _ in range(accounts.FREE_FAILURES):
        refused = accounts.authenticate(engine, "oscar", "wrong")
        assert isinstance(refused, accounts.SignInRefused)
        assert refused.retry_after is None
