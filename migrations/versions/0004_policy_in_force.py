"""policy in force: the policy the workers run with, published at their start for the client layer to pin

Revision ID: 0004
Revises: 0003
Created: 2026-12-02 01:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from models.tables import UtcDateTime

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "policy_in_force",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("digest", sa.String(), nullable=False),
        sa.Column("policy_json", sa.String(), nullable=False),
        sa.Column("published_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_policy_in_force"),
    )


def downgrade() -> None:
    op.drop_table("policy_in_force")
