"""audit chain: each timeline entry's chained hash, and the chained admin log of directory and token changes

Revision ID: 0006
Revises: 0005
Created: 2026-12-04 11:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from models.tables import UtcDateTime

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("hash", sa.String(), nullable=True))
    op.create_table(
        "admin_log",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("target", sa.String(), nullable=False),
        sa.Column("before", sa.Text(), nullable=False),
        sa.Column("after", sa.Text(), nullable=False),
        sa.Column("hash", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_admin_log"),
    )
    op.create_index("ix_admin_log_target", "admin_log", ["target"])


def downgrade() -> None:
    op.drop_index("ix_admin_log_target", table_name="admin_log")
    op.drop_table("admin_log")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("hash")
