"""Revision 0009: the notifications people had before it are in their list, unread; down again, it is gone."""

from datetime import UTC, datetime

from sqlalchemy import Engine, inspect, text

from core import migrations, notification_list


def test_notifications_from_before_are_listed_unread_and_the_revision_reverts(blank: Engine) -> None:
    """A log row queued under 0008 is olivia's one unread notification after the upgrade; marking it read works;
    downgrading to 0008 drops ``watchers`` and ``outbox.read_at`` and keeps the row."""
    migrations.upgrade(blank, "0008")
    with blank.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO outbox (record_id, seq, recipient, channel, kind, subject, body, details, attempts,"
                " created_at, status) VALUES ('NC-2026-0001', 1, 'olivia', 'log', 'raised', '[NC-2026-0001] yours',"
                " 'body', '{}', 1, :at, 'sent')"
            ),
            {"at": datetime(2026, 3, 2, 9, 0, tzinfo=UTC)},
        )

    migrations.upgrade(blank)

    [row] = notification_list.list_mine(blank, "olivia")
    assert (row.subject, row.read_at) == ("[NC-2026-0001] yours", None)
    assert notification_list.count_mine(blank, "olivia", unread_only=True) == 1
    assert row.id is not None
    assert notification_list.mark_read(blank, "olivia", row.id) is not None
    assert notification_list.count_mine(blank, "olivia", unread_only=True) == 0

    migrations.downgrade(blank, "0008")

    inspector = inspect(blank)
    assert "watchers" not in inspector.get_table_names()
    assert "read_at" not in {column["name"] for column in inspector.get_columns("outbox")}
    with blank.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM outbox")).scalar_one() == 1
