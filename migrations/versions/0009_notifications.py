"""in-app notifications: when a person read each of theirs, and who watches which record

A person's notifications are their log-channel outbox rows; ``read_at`` marks those they have read (rows already
there stay unread). ``watchers`` lists who follows a record: the outbox sends them its notices too.

Revision ID: 0009
Revises: 0008
Created: 2026-12-04 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from models.tables import UtcDateTime

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("read_at", UtcDateTime(), nullable=True))
    # A person's unread notifications: their log rows without read_at.
    op.create_index("ix_outbox_recipient_channel_read_at", "outbox", ["recipient", "channel", "read_at"])
    op.create_table(
        "watchers",
        sa.Column("record_id", sa.String(), sa.ForeignKey("nonconformities.id"), primary_key=True),
        sa.Column("user_name", sa.String(), sa.ForeignKey("users.name"), primary_key=True),
        sa.Column("since", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_watchers_user_name", "watchers", ["user_name"])


def downgrade() -> None:
    op.drop_index("ix_watchers_user_name", table_name="watchers")
    op.drop_table("watchers")
    op.drop_index("ix_outbox_recipient_channel_read_at", table_name="outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("read_at")
