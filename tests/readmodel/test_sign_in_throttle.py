"""Failed sign-ins slow a name down however the attempts arrive: one after another or all at once."""

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
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


def test_a_guesser_cannot_lock_the_person_out(engine: Engine) -> None:
    """An address hammering maria's name waits, doubling; maria signing in from her own address is let through,
    and the guesser's address still waits afterwards."""
    add_user(engine, "maria", "manager", None, None)
    accounts.set_password(engine, "maria", "correct horse battery")
    guesser, maria = "203.0.113.9", "198.51.100.7"
    outcomes = [accounts.authenticate(engine, "maria", f"guess {n}", address=guesser) for n in range(8)]
    waits = [o.retry_after for o in outcomes if isinstance(o, accounts.SignInRefused) and o.retry_after]
    assert len(waits) == 8 - accounts.FREE_FAILURES
    signed_in = accounts.authenticate(engine, "maria", "correct horse battery", address=maria)
    assert not isinstance(signed_in, accounts.SignInRefused)
    again = accounts.authenticate(engine, "maria", "correct horse battery", address=guesser)
    assert isinstance(again, accounts.SignInRefused)
    assert again.retry_after is not None


def test_guessers_spread_over_addresses_wait_once_the_name_has_many_failures(engine: Engine) -> None:
    """Past the name's own ceiling, an address that has failed on the name waits after a single failure, while
    an address that has not failed on it (the person's) still has its password checked."""
    add_user(engine, "maria", "manager", None, None)
    accounts.set_password(engine, "maria", "correct horse battery")
    now = datetime.now(UTC)
    guessers = [f"203.0.113.{n}" for n in range(accounts.NAME_FREE_FAILURES)]
    for address in guessers:
        refused = accounts.authenticate(engine, "maria", "guess", now, address=address)
        assert isinstance(refused, accounts.SignInRefused)
        assert refused.retry_after is None
    second = accounts.authenticate(engine, "maria", "another guess", now, address=guessers[0])
    assert isinstance(second, accounts.SignInRefused)
    assert second.retry_after is not None
    assert not isinstance(
        accounts.authenticate(engine, "maria", "correct horse battery", now, address="198.51.100.7"),
        accounts.SignInRefused,
    )
