"""Sign-in: passwords, API tokens, browser sessions and the slowing-down of guessed passwords.

Passwords are hashed with Argon2id (pwdlib's recommended settings); a hash made under older settings is
replaced at the next successful sign-in. Tokens and session ids are long random secrets, so a SHA-256 of each
is what the database keeps: a stolen copy of the tables signs no one in. Nothing here logs a secret.

Argon2 is slow and memory-hard on purpose, so it runs in a small pool of its own (``HASHING``): a flood of
sign-ins queues there and never holds the threads every database call of the API shares.

Guessing is slowed per name *and client address*, so a guesser cannot lock the real person out:

- Each (name, address) pair has ``FREE_FAILURES`` failures, then every further attempt from that address for
  that name waits, the wait doubling per failure (2 s up to 15 min). An address hammering ``maria`` is slowed to
  a crawl; ``maria`` signing in from her own address is not.
- Across addresses, a name has ``NAME_FREE_FAILURES`` failures; beyond them, an address that has already failed
  on the name waits the name's (doubling) delay after each failure, whatever its own count. Guessers spread over
  many addresses so get about one guess per address per wait, while an address that has not failed on the name
  (the person, wherever they sign in) still has its password checked.
- A success clears only its own address's count for the name.

An attempt is counted as a failure before its password is checked (and uncounted if it succeeds), so attempts
that arrive together cannot get past the count.
"""

import hashlib
import secrets
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache

import structlog
from pwdlib import PasswordHash
from sqlalchemy import Engine, delete, func, update
from sqlmodel import Session, col, select

from core import text as plain_text
from core.adminlog import log_change
from core.database import insert_for, session_scope, write_scope
from models.enums import AdminAction
from models.payloads import SYSTEM_ACTOR, USER_NAME
from models.refusals import InvalidField
from models.tables import ApiToken, SignInFailures, User, WebSession

log = structlog.get_logger(__name__)

_hasher = PasswordHash.recommended()

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256
TOKEN_PREFIX = "capa_"  # noqa: S105 - the visible prefix of every token, not a secret
SESSION_LIFETIME = timedelta(hours=12)
# A token's last use is written at most once a minute: at every request it would make each API call a write
# on the read model, queued behind the worker's. Lists show it to the minute.
LAST_USED_RESOLUTION = timedelta(minutes=1)
# Failed sign-ins a name may have from one address before each further attempt from it must wait; the wait
# doubles per failure.
FREE_FAILURES = 3
# Failed sign-ins a name may have from all addresses together before every address that failed on it waits.
NAME_FREE_FAILURES = 10
# Longest client address kept (an IPv6 address with a zone is well under this).
_ADDRESS_MOST = 64
# Threads computing Argon2 hashes: each takes a core and 64 MiB for about a tenth of a second, so a few suffice
# and more would only slow the rest of the process.
HASHING_THREADS = 2
HASHING = ThreadPoolExecutor(max_workers=HASHING_THREADS, thread_name_prefix="password-hashing")
_BASE_DELAY = timedelta(seconds=2)
_MAX_DELAY = timedelta(minutes=15)
# A failure older than this no longer counts.
_FAILURE_MEMORY = timedelta(hours=1)


@cache
def _dummy_hash() -> str:
    """Verified against when the name is unknown, so a wrong name costs the same time as a wrong password; made
    at the first sign-in rather than whenever the module loads (an Argon2 hash costs a tenth of a second)."""
    return _hasher.hash(secrets.token_urlsafe(16))


class AccountError(InvalidField):
    """Input an account operation refuses, naming the field."""


@dataclass(frozen=True)
class SignInRefused:
    """Why a sign-in did not succeed; ``retry_after`` is set when the name must wait before trying again."""

    message: str
    retry_after: int | None = None


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def check_password_strength(name: str, password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError("password", f"at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AccountError("password", f"at most {MAX_PASSWORD_LENGTH} characters")
    if name.lower() in password.lower():
        raise AccountError("password", "must not contain the user name")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def set_password(engine: Engine, name: str, password: str, *, actor: str = SYSTEM_ACTOR) -> None:
    """Set someone's password and end their browser sessions (a reset must lock out whoever had the old one);
    ``actor``: who sets it, for the admin log."""
    check_password_strength(name, password)
    hashed = hash_password(password)
    with session_scope(engine) as session:
        user = _user(session, name)
        user.password_hash = hashed
        session.add(user)
        _end_sessions(session, name)
        log_change(session, actor, AdminAction.PASSWORD_SET, name)
    log.info("password set", user=name)


def set_active(engine: Engine, name: str, *, active: bool, actor: str = SYSTEM_ACTOR) -> None:
    """Deactivate or reactivate someone; ``actor``: who does.

    Deactivating signs them out everywhere and revokes every token they have, for good (each revocation in the
    admin log): a leaver's token must not come back to life when the name is reactivated, who then signs in anew.
    """
    with session_scope(engine) as session:
        user = _user(session, name)
        action = AdminAction.ACTIVATED if active else AdminAction.DEACTIVATED
        log_change(session, actor, action, name, before={"active": user.active}, after={"active": active})
        user.active = active
        session.add(user)
        if not active:
            _end_sessions(session, name)
            live = select(ApiToken).where(col(ApiToken.user_name) == name, col(ApiToken.revoked_at).is_(None))
            for token in session.exec(live.order_by(col(ApiToken.id))).all():
                _revoke(session, token, actor)
    log.info("user activated" if active else "user deactivated", user=name)


def _user(session: Session, name: str, *, field: str = "name") -> User:
    """The directory's row for ``name``; refused on ``field`` when there is none."""
    user = session.get(User, name)
    if user is None:
        raise AccountError(field, f"no user named {name}")
    return user


def _end_sessions(session: Session, name: str) -> None:
    session.execute(
        update(WebSession)
        .where(col(WebSession.user_name) == name, col(WebSession.ended_at).is_(None))
        .values(ended_at=datetime.now(UTC))
    )


def _delay(failures: int, *, free: int = FREE_FAILURES) -> timedelta:
    if failures < free:
        return timedelta(0)
    # The exponent is capped before it is raised: a count of thousands must not build a huge number.
    doubled: timedelta = _BASE_DELAY * 2 ** min(failures - free, 16)
    return min(doubled, _MAX_DELAY)


@dataclass(frozen=True)
class SignInAttempt:
    """A sign-in let through the throttle, its password not yet checked: the name's active user (None when
    there is no such person, or they are deactivated) and the address it came from."""

    name: str
    address: str
    user: User | None


def begin_sign_in(
    engine: Engine, name: str, *, address: str | None = None, now: datetime | None = None
) -> SignInAttempt | SignInRefused:
    """The first part of a sign-in, database only: refuse what cannot be a name, count the attempt against the
    name and address, or say how long they must wait."""
    now = now or datetime.now(UTC)
    address = (address or "")[:_ADDRESS_MOST]
    if not USER_NAME.fullmatch(name):
        # No one can have this name: refused at once, with no hash to compute, no row to keep and the name not
        # logged (it may be megabytes long, or a password typed into the wrong field).
        log.warning("sign-in refused: not a user name", length=len(name))
        return SignInRefused("wrong user name or password")
    wait = _claim_attempt(engine, name, address, now)
    if wait is not None:
        log.warning("sign-in refused: too many failures", user=name, address=address)
        return SignInRefused("too many failed sign-ins; try again later", retry_after=int(wait.total_seconds()) + 1)
    with session_scope(engine) as session:
        user = session.get(User, name)
    return SignInAttempt(name, address, user if user is not None and user.active else None)


def check_password(attempt: SignInAttempt, password: str) -> tuple[bool, str | None]:
    """The Argon2 part (run it in ``HASHING``): whether ``password`` is the person's, and a rehash when their
    hash was made under older settings. An unknown name costs the same time as a wrong password."""
    hashed = attempt.user.password_hash if attempt.user is not None else None
    valid, new_hash = _hasher.verify_and_update(password, hashed or _dummy_hash())
    return valid and hashed is not None, new_hash


def finish_sign_in(engine: Engine, attempt: SignInAttempt, valid: bool, new_hash: str | None) -> User | SignInRefused:
    """The last part, database only: a success uncounts the attempt (and stores a rehash)."""
    user = attempt.user
    if user is None or not valid:
        # Already counted as a failure when it was let through.
        log.warning("sign-in failed", user=attempt.name, address=attempt.address)
        return SignInRefused("wrong user name or password")
    with write_scope(engine) as session:
        session.execute(
            delete(SignInFailures).where(
                col(SignInFailures.name) == attempt.name, col(SignInFailures.address) == attempt.address
            )
        )
        if new_hash is not None:
            session.execute(update(User).where(col(User.name) == attempt.name).values(password_hash=new_hash))
            user.password_hash = new_hash
    log.info("signed in", user=attempt.name)
    return user


def authenticate(
    engine: Engine, name: str, password: str, now: datetime | None = None, *, address: str | None = None
) -> User | SignInRefused:
    """The user whose name and password these are, or why not, all in the calling thread (the client layer
    runs the three parts itself, the hashing in ``HASHING``).

    A name with recent failures from ``address`` must wait (see the module's notes) before its next attempt is
    even checked; the wait is in ``retry_after``. The message never says whether the name exists.
    """
    attempt = begin_sign_in(engine, name, address=address, now=now)
    if isinstance(attempt, SignInRefused):
        return attempt
    return finish_sign_in(engine, attempt, *check_password(attempt, password))


def _signing_count(name: str) -> str:
    """The name signings are counted under: a count of their own (no user name holds a colon), so failed signings
    lock signing, not sign-in, and the other way round."""
    return f"signing:{name}"


def begin_signing(engine: Engine, name: str, now: datetime | None = None) -> SignInAttempt | SignInRefused:
    """The first part of checking a password re-entered to sign a step (21 CFR 11.200), database only: count the
    attempt as at sign-in, or say how long signing must wait. ``check_password`` is the second part (in
    ``HASHING``), ``finish_signing`` the last; the caller logs a refusal with the record it was for."""
    now = now or datetime.now(UTC)
    wait = _claim_attempt(engine, _signing_count(name), "", now)
    if wait is not None:
        return SignInRefused("too many wrong passwords; try again later", retry_after=int(wait.total_seconds()) + 1)
    with session_scope(engine) as session:
        user = session.get(User, name)
    return SignInAttempt(name, "", user if user is not None and user.active else None)


def finish_signing(engine: Engine, attempt: SignInAttempt, valid: bool, _new_hash: str | None) -> User | SignInRefused:
    """The last part, database only: the signer when the password was theirs (the attempt uncounted), else why
    not."""
    if attempt.user is None or not valid:
        return SignInRefused("not your password")
    with write_scope(engine) as session:
        session.execute(delete(SignInFailures).where(col(SignInFailures.name) == _signing_count(attempt.name)))
    return attempt.user


# How often an attempt tries to count itself while others for the same name do the same; then it is told to wait.
_CLAIM_TRIES = 20


def _claim_attempt(engine: Engine, name: str, address: str, now: datetime) -> timedelta | None:
    """Count an attempt against ``name`` from ``address`` before its password is checked, as a failure until it
    succeeds: None when it may be checked, else how long it must still wait.

    Counting first, by a compare-and-set on the count, is what holds the line when many attempts for one name
    arrive together from one address: each is let through only if no other changed the count since it was read,
    so no more than ``FREE_FAILURES`` are ever checked before the waiting starts.
    """
    for _ in range(_CLAIM_TRIES):
        with write_scope(engine) as session:
            record = session.get(SignInFailures, (name, address))
            if record is None:
                # The pair's first attempt (since its last success): its row, unless another attempt made it first.
                created = session.execute(
                    insert_for(engine, SignInFailures)
                    .values(name=name, address=address, failures=1, last_failed_at=now)
                    .on_conflict_do_nothing(index_elements=["name", "address"])
                    .returning(col(SignInFailures.name))
                ).scalar_one_or_none()
                if created is not None:
                    return None
                continue
            seen = record.failures
            failures = 0 if now - record.last_failed_at > _FAILURE_MEMORY else seen
            delay = _delay(failures)
            if failures:
                everywhere = session.execute(
                    select(func.coalesce(func.sum(col(SignInFailures.failures)), 0)).where(
                        col(SignInFailures.name) == name,
                        col(SignInFailures.last_failed_at) >= now - _FAILURE_MEMORY,
                    )
                ).scalar_one()
                delay = max(delay, _delay(everywhere, free=NAME_FREE_FAILURES))
            # Free failures never wait, even on a clock a moment behind the attempt that wrote the row.
            wait = record.last_failed_at + delay - now
            if delay and wait > timedelta(0):
                return wait
            claimed = session.execute(
                update(SignInFailures)
                .where(
                    col(SignInFailures.name) == name,
                    col(SignInFailures.address) == address,
                    col(SignInFailures.failures) == seen,
                )
                .values(failures=failures + 1, last_failed_at=now)
            )
            if claimed.rowcount == 1:  # type: ignore[attr-defined]
                return None
    return _BASE_DELAY


# --- browser sessions -------------------------------------------------------------------------------------


def open_session(engine: Engine, name: str, now: datetime | None = None) -> str:
    """A new session id for a signed-in browser; a fresh one at every sign-in, so a planted id is useless."""
    now = now or datetime.now(UTC)
    session_id = secrets.token_urlsafe(32)
    with session_scope(engine) as session:
        session.add(WebSession(id_hash=_sha256(session_id), user_name=name, expires_at=now + SESSION_LIFETIME))
    return session_id


def session_user(engine: Engine, session_id: str, now: datetime | None = None) -> User | None:
    """The active user a live session id belongs to, or None (unknown, ended or expired)."""
    now = now or datetime.now(UTC)
    with session_scope(engine) as session:
        web = session.get(WebSession, _sha256(session_id))
        if web is None or web.ended_at is not None or web.expires_at <= now:
            return None
        user = session.get(User, web.user_name)
        return user if user is not None and user.active else None


def close_session(engine: Engine, session_id: str) -> None:
    with session_scope(engine) as session:
        web = session.get(WebSession, _sha256(session_id))
        if web is not None and web.ended_at is None:
            web.ended_at = datetime.now(UTC)
            session.add(web)


# --- API tokens -------------------------------------------------------------------------------------------


def create_token(engine: Engine, name: str, label: str, created_by: str) -> tuple[ApiToken, str]:
    """Make a token acting as ``name``; returns its row and the secret, which is never shown again."""
    label = label.strip()
    if not label or len(label) > 80:
        raise AccountError("label", "1 to 80 characters, saying what the token is for")
    found = plain_text.problem(label, multiline=False)
    if found is not None:
        raise AccountError("label", found)
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with session_scope(engine) as session:
        _user(session, name, field="user")
        token = ApiToken(
            user_name=name,
            label=label,
            prefix=secret[: len(TOKEN_PREFIX) + 6],
            secret_hash=_sha256(secret),
            created_by=created_by,
        )
        session.add(token)
        session.flush()
        after = {"token_id": token.id, "label": label}
        log_change(session, created_by, AdminAction.TOKEN_CREATED, name, after=after)
    log.info("api token created", user=name, token_id=token.id, actor=created_by)
    return token, secret


def token_user(engine: Engine, secret: str, now: datetime | None = None) -> User | None:
    """The active user a live token acts as, or None; notes when the token was last used, to the minute."""
    if not secret.startswith(TOKEN_PREFIX):
        return None
    now = now or datetime.now(UTC)
    with session_scope(engine) as session:
        token = session.exec(select(ApiToken).where(ApiToken.secret_hash == _sha256(secret))).first()
        if token is None or token.revoked_at is not None:
            return None
        user = session.get(User, token.user_name)
        if user is None or not user.active:
            return None
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        with write_scope(engine) as session:
            session.exec(update(ApiToken).where(col(ApiToken.id) == token.id).values(last_used_at=now))
    return user


def list_tokens(engine: Engine, name: str | None = None) -> list[ApiToken]:
    with session_scope(engine) as session:
        query = select(ApiToken).order_by(col(ApiToken.id))
        if name is not None:
            query = query.where(ApiToken.user_name == name)
        return list(session.exec(query))


def revoke_token(engine: Engine, token_id: int, actor: str) -> ApiToken:
    with session_scope(engine) as session:
        token = session.get(ApiToken, token_id)
        if token is None:
            raise AccountError("token", f"no token {token_id}")
        if token.revoked_at is None:
            _revoke(session, token, actor)
    return token


def _revoke(session: Session, token: ApiToken, actor: str) -> None:
    token.revoked_at = datetime.now(UTC)
    session.add(token)
    before = {"token_id": token.id, "revoked_at": None}
    after = {"token_id": token.id, "revoked_at": token.revoked_at.isoformat()}
    log_change(session, actor, AdminAction.TOKEN_REVOKED, token.user_name, before=before, after=after)
    log.info("api token revoked", user=token.user_name, token_id=token.id, actor=actor)
