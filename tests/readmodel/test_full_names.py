"""Full names in the directory: given when a person is added, printed wherever they are named, changed by an
admin (with every field at fault named at once)."""

import pytest
from sqlalchemy import Engine

from core.readmodel import DirectoryError, add_user, get_user, printed_name, seed_demo_users, update_user


def test_a_full_name_is_kept_trimmed_and_printed(engine: Engine) -> None:
    """The full name is stored as typed (trimmed) and is what ``printed_name`` gives; without one, the login name."""
    add_user(engine, "ada", "admin", full_name="  Ada Lovelace ")
    add_user(engine, "root", "admin")
    ada, root = get_user(engine, "ada"), get_user(engine, "root")
    assert ada is not None
    assert root is not None
    assert (ada.full_name, printed_name(ada)) == ("Ada Lovelace", "Ada Lovelace")
    assert (root.full_name, printed_name(root)) == (None, "root")


@pytest.mark.parametrize(
    ("full_name", "message"),
    [
        ("", "full_name: 1 to 120 characters"),
        ("x" * 121, "full_name: 1 to 120 characters"),
        ("Maria\r\nBcc: all@example.com", "full_name: contains a control character (U+000D)"),
        ("Maria\x1b[2JKeller", "full_name: contains a control character (U+001B)"),
        ("Maria\tKeller", "full_name: contains a control character (U+0009)"),
    ],
)
def test_a_bad_full_name_is_refused_naming_the_field(engine: Engine, full_name: str, message: str) -> None:
    """An empty, over-long or control-character full name is refused with a message on ``full_name``."""
    with pytest.raises(DirectoryError) as refused:
        add_user(engine, "maria", "manager", full_name=full_name)
    assert str(refused.value).startswith(message)
    assert get_user(engine, "maria") is None


def test_an_admin_changes_full_name_role_manager_and_email(engine: Engine) -> None:
    """Each given field changes, the others stay; None clears a manager or an e-mail."""
    seed_demo_users(engine)
    before, after = update_user(engine, "olivia", full_name="Olivia Novak-Berg", role="manager", email="o@example.com")
    assert (before.full_name, before.role, before.email) == ("Olivia Novak", "owner", None)
    assert (after.full_name, after.role, after.manager, after.email) == (
        "Olivia Novak-Berg",
        "manager",
        "mike",
        "o@example.com",
    )
    _, moved = update_user(engine, "olivia", manager="maria", email=None)
    assert (moved.full_name, moved.manager, moved.email) == ("Olivia Novak-Berg", "maria", None)


def test_a_change_names_every_field_at_fault_and_changes_nothing(engine: Engine) -> None:
    """A change with several bad fields names each one, and the person stays as they were."""
    seed_demo_users(engine)
    with pytest.raises(DirectoryError) as refused:
        update_user(engine, "olivia", full_name="\x00", role="boss", manager="otto", email="not an address")
    assert [problem.field for problem in refused.value.problems] == ["full_name", "role", "email", "manager"]
    olivia = get_user(engine, "olivia")
    assert olivia is not None
    assert (olivia.full_name, olivia.role, olivia.manager, olivia.email) == ("Olivia Novak", "owner", "mike", None)


@pytest.mark.parametrize(
    ("name", "changes", "message"),
    [
        ("mike", {"role": "owner"}, "role: 'mike' manages olivia, oscar, otto; give them another manager first"),
        ("maria", {"manager": "mike"}, "manager: 'mike' reports to 'maria'; a reporting line cannot loop"),
        ("maria", {"manager": "maria"}, "manager: 'maria' cannot be their own manager"),
        ("ghost", {"role": "owner"}, "name: no user named 'ghost'"),
    ],
)
def test_a_change_keeps_reporting_lines_sound(engine: Engine, name: str, changes: dict[str, str], message: str) -> None:
    """A manager with reports keeps a managing role, and a reporting line never loops."""
    seed_demo_users(engine)
    with pytest.raises(DirectoryError) as refused:
        update_user(engine, name, **changes)
    assert str(refused.value) == message
