"""An API token's last use, as an admin reads it in the token list: kept to the minute, not written per request."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from core.accounts import create_token, list_tokens, revoke_token, token_user
from core.readmodel import add_user

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _last_used(engine: Engine) -> datetime | None:
    [token] = list_tokens(engine, "olivia")
    return token.last_used_at


def test_last_use_is_kept_to_the_minute(engine: Engine) -> None:
    """A script calling every few seconds moves "last used" once a minute; each call still signs its user in."""
    add_user(engine, "olivia", "owner")
    _, secret = create_token(engine, "olivia", "olivia's script", created_by="ada")
    assert _last_used(engine) is None

    for seconds, expected in [
        (0, T0),
        (20, T0),
        (59, T0),
        (60, T0 + timedelta(seconds=60)),
        (75, T0 + timedelta(seconds=60)),
    ]:
        user = token_user(engine, secret, now=T0 + timedelta(seconds=seconds))
        assert user is not None
        assert user.name == "olivia"
        assert _last_used(engine) == expected, f"after a call at +{seconds}s"


def test_a_refused_token_is_not_marked_used(engine: Engine) -> None:
    add_user(engine, "olivia", "owner")
    token, secret = create_token(engine, "olivia", "olivia's script", created_by="ada")
    assert token.id is not None
    revoke_token(engine, token.id, actor="ada")

    assert token_user(engine, secret, now=T0) is None
    assert _last_used(engine) is None
