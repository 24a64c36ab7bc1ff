"""Directory and token changes go into a chained admin log, in the same transaction as the change: who, what,
before, after, when; never a password or a secret; an edit of the log is named."""

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlmodel import col, select

from core import accounts, audit, readmodel
from core.adminlog import log_user_changes, read_log
from core.database import make_engine, session_scope
from core.migrations import ensure_schema
from models.tables import AdminLogEntry, User
from tests.audit.records import edit


def _log(engine: Engine) -> list[AdminLogEntry]:
    with session_scope(engine) as session:
        return list(session.exec(select(AdminLogEntry).order_by(col(AdminLogEntry.seq))))


def _directory(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'directory.db'}")
    ensure_schema(engine)
    readmodel.add_user(engine, "ada", "admin", actor="site-operator")
    readmodel.add_user(engine, "mike", "manager", manager="ada", actor="ada")
    readmodel.add_user(engine, "olivia", "owner", manager="mike", email="olivia@example.com", actor="ada")
    return engine


def test_every_directory_and_token_change_is_logged_by_whoever_made_it(tmp_path: Path) -> None:
    """Adding people, a password, a deactivation and a token made and revoked: one chained entry each, naming
    the person who did it and what changed, and the chain verifies."""
    engine = _directory(tmp_path)
    accounts.set_password(engine, "olivia", "a long enough password", actor="ada")
    accounts.set_active(engine, "olivia", active=False, actor="ada")
    token, secret = accounts.create_token(engine, "mike", "MES line 3", created_by="ada")
    accounts.revoke_token(engine, token.id or 0, actor="mike")

    log = _log(engine)

    assert [(e.seq, e.actor, e.action, e.target) for e in log] == [
        (1, "site-operator", "user_added", "ada"),
        (2, "ada", "user_added", "mike"),
        (3, "ada", "user_added", "olivia"),
        (4, "ada", "password_set", "olivia"),
        (5, "ada", "deactivated", "olivia"),
        (6, "ada", "token_created", "mike"),
        (7, "mike", "token_revoked", "mike"),
    ]
    assert json.loads(log[2].after) == {
        "full_name": None,
        "role": "owner",
        "manager": "mike",
        "email": "olivia@example.com",
    }
    assert (json.loads(log[3].before), json.loads(log[3].after)) == ({}, {})
    assert (json.loads(log[4].before), json.loads(log[4].after)) == ({"active": True}, {"active": False})
    assert json.loads(log[5].after) == {"token_id": token.id, "label": "MES line 3"}
    with engine.connect() as connection:
        everything = " ".join(str(row) for row in connection.execute(text("SELECT * FROM admin_log")))
    assert "a long enough password" not in everything
    assert secret not in everything
    assert token.secret_hash not in everything
    check = audit.verify_admin_log(engine)
    assert check.ok, check.line()
    assert check.line() == (
        f"admin log OK: 7 entries, chain head {log[-1].hash}; a removed tail shows only against a published head"
    )


def test_a_role_change_is_logged_with_before_and_after(tmp_path: Path) -> None:
    """A change of role (or manager, e-mail, full name) is one entry per field, with the old and the new value."""
    engine = _directory(tmp_path)
    with session_scope(engine) as session:
        user = session.get(User, "olivia")
        assert user is not None
        before = user.model_copy()
        user.role, user.email = "manager", None
        session.add(user)
        log_user_changes(session, "ada", before, user)

    role, email = _log(engine)[-2:]

    assert (role.action, role.actor, role.target) == ("role_changed", "ada", "olivia")
    assert (json.loads(role.before), json.loads(role.after)) == ({"role": "owner"}, {"role": "manager"})
    assert (json.loads(email.before), json.loads(email.after)) == ({"email": "olivia@example.com"}, {"email": None})
    assert audit.verify_admin_log(engine).ok


def test_an_edited_admin_log_entry_is_named(tmp_path: Path) -> None:
    """Rewriting who made a change, or what it changed to, makes the check name that entry."""
    engine = _directory(tmp_path)
    accounts.set_active(engine, "mike", active=False, actor="ada")
    edit(engine, "UPDATE admin_log SET actor = 'olivia' WHERE seq = 4")

    check = audit.verify_admin_log(engine)

    assert str(check.mismatch) == "admin log entry 4 (deactivated): its hash does not match its content"


def test_a_deleted_admin_log_entry_is_caught(tmp_path: Path) -> None:
    """A row taken out of the log leaves a gap in its numbering."""
    engine = _directory(tmp_path)
    edit(engine, "DELETE FROM admin_log WHERE seq = 2")

    assert str(audit.verify_admin_log(engine).mismatch) == "admin log entry 2: missing: the entry after 1 is 3"


def test_a_removed_tail_of_the_admin_log_shows_only_against_a_published_head(tmp_path: Path) -> None:
    """The last entries taken out leave a shorter chain that still verifies (nothing in the database counts the
    log's entries); the head published for a moment after them is no longer what the database gives."""
    engine = _directory(tmp_path)
    accounts.set_active(engine, "mike", active=False, actor="ada")
    published = audit.chain_head(engine, datetime.now(UTC))
    edit(engine, "DELETE FROM admin_log WHERE seq = 4")

    assert audit.verify_admin_log(engine).ok
    assert audit.chain_head(engine, datetime.now(UTC)) != published


def test_the_log_reads_newest_first_a_page_at_a_time(tmp_path: Path) -> None:
    """``read_log`` pages the log newest first, all of it or one person's entries, with how many there are."""
    engine = _directory(tmp_path)
    accounts.set_active(engine, "olivia", active=False, actor="ada")

    page, total = read_log(engine, limit=2, offset=1)
    olivia, olivias = read_log(engine, target="olivia", limit=10)

    assert ([e.seq for e in page], total) == ([3, 2], 4)
    assert ([(e.seq, e.action) for e in olivia], olivias) == ([(4, "deactivated"), (3, "user_added")], 2)


def test_a_change_refused_leaves_no_entry(tmp_path: Path) -> None:
    """The entry is written in the change's transaction: a change that fails logs nothing."""
    engine = _directory(tmp_path)
    before = _log(engine)
    with pytest.raises(accounts.AccountError, match="password"):
        accounts.set_password(engine, "olivia", "short", actor="ada")
    with pytest.raises(readmodel.DirectoryError, match="already exists"):
        readmodel.add_user(engine, "olivia", "owner", actor="ada")
    assert _log(engine) == before
