"""The user directory and record-id allocation."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from core.readmodel import DirectoryError, add_user, allocate_record_id, get_user, list_users, seed_demo_users
from models.tables import RecordSequence


def test_add_user_returns_a_readable_user(engine: Engine) -> None:
    """add_user stores the user and returns it usable after its session has closed."""
    add_user(engine, "ada", "admin")
    user = add_user(engine, "maria", "manager", manager="ada", email="maria@example.com")
    assert (user.name, user.role, user.manager, user.email) == (
        "maria",
        "manager",
        "ada",
        "maria@example.com",
    )
    assert user.created_at.tzinfo is not None
    stored = get_user(engine, "maria")
    assert stored is not None
    assert stored.manager == "ada"
    assert get_user(engine, "nobody") is None


@pytest.mark.parametrize(
    ("name", "role", "manager", "field"),
    [
        ("ada", "admin", None, "name: a user named 'ada' already exists"),
        ("zoe", "owner", "ghost", "manager: no user named 'ghost'"),
        ("zoe", "owner", "otto", "manager: 'otto' is an operator, not a manager or admin"),
        ("zoe", "boss", None, "role: 'boss' is not one of operator, owner, manager, quality, admin"),
        ("zoe smith", "owner", None, "name: "),
    ],
)
def test_add_user_rejects_bad_input_naming_the_field(
    engine: Engine, name: str, role: str, manager: str | None, field: str
) -> None:
    """Each rejected user gets a one-line message that starts with the field at fault."""
    seed_demo_users(engine)
    with pytest.raises(DirectoryError) as rejected:
        add_user(engine, name, role, manager=manager)
    message = str(rejected.value)
    assert message.startswith(field)
    assert "\n" not in message
    assert get_user(engine, "zoe") is None


def test_seed_demo_users_only_seeds_an_empty_directory(engine: Engine) -> None:
    """The demo directory is added once, with its reporting lines, and never on top of existing users."""
    assert seed_demo_users(engine) is True
    assert seed_demo_users(engine) is False
    users = {u.name: (u.full_name, u.role, u.manager) for u in list_users(engine)}
    assert users == {
        "ada": ("Ada Lovelace", "admin", None),
        "maria": ("Maria Keller", "manager", "ada"),
        "mike": ("Mike Brandt", "manager", "maria"),
        "olivia": ("Olivia Novak", "owner", "mike"),
        "oscar": ("Oscar Lindqvist", "owner", "mike"),
        "otto": ("Otto Weber", "operator", "mike"),
        "quinn": ("Quinn Rivera", "quality", "ada"),
        "greta": ("Greta Lind", "quality", "ada"),
    }
    assert [u.name for u in list_users(engine)] == sorted(users)


def test_seed_demo_users_leaves_a_real_directory_alone(engine: Engine) -> None:
    """A directory with anyone in it is not seeded."""
    add_user(engine, "root", "admin")
    assert seed_demo_users(engine) is False
    assert [u.name for u in list_users(engine)] == ["root"]


def test_record_ids_are_sequential_per_year_and_padded(engine: Engine) -> None:
    """Ids count up from 0001 within a year and start again for the next year."""
    assert [allocate_record_id(engine, 2026) for _ in range(3)] == [
        "NC-2026-0001",
        "NC-2026-0002",
        "NC-2026-0003",
    ]
    assert allocate_record_id(engine, 2027) == "NC-2027-0001"


def test_record_ids_grow_past_four_digits(engine: Engine) -> None:
    """After 9999 the number simply gets longer, which the RecordId pattern accepts."""
    with Session(engine) as session:
        session.add(RecordSequence(year=2026, last=9999))
        session.commit()
    assert allocate_record_id(engine, 2026) == "NC-2026-10000"


def test_concurrent_allocations_never_collide(engine: Engine) -> None:
    """Twenty threads allocating at once get twenty distinct, gap-free ids."""
    with ThreadPoolExecutor(max_workers=20) as pool:
        ids = list(pool.map(lambda _: allocate_record_id(engine, 2026), range(20)))
    assert sorted(ids) == [f"NC-2026-{n:04d}" for n in range(1, 21)]


def test_year_must_have_four_digits(engine: Engine) -> None:
    """A year the record id format cannot hold is refused before anything is written."""
    with pytest.raises(ValueError, match="year"):
        allocate_record_id(engine, 12026)
