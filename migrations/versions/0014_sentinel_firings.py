"""sentinel firings: the record id each firing of a recurrence sentinel opens its linked CAPA under

Revision ID: 0014
Revises: 0013
Created: 2026-12-04 21:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from models.tables import UtcDateTime

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sentinel_firings",
        sa.Column("sentinel", sa.String(), nullable=False),
        sa.Column("first_run", sa.String(), nullable=False),
        sa.Column("firing", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("record_id", sa.String(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("sentinel", "first_run", "firing"),
        sa.UniqueConstraint("record_id"),
    )


def downgrade() -> None:
    op.drop_table("sentinel_firings")
