"""full names: the printed name of each person; failed sign-ins counted per name and client address

Existing people get no full name (pages show their login name until an admin sets one). The failed sign-ins
table only ever holds the last hour's attempts, so it is made anew with its wider key rather than converted.

Revision ID: 0005
Revises: 0004
Created: 2026-12-04 11:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from models.tables import UtcDateTime

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _sign_in_failures(*key: str) -> None:
    op.create_table(
        "sign_in_failures",
        sa.Column("name", sa.String(), nullable=False),
        *([sa.Column("address", sa.String(), nullable=False)] if "address" in key else []),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failed_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint(*key, name="pk_sign_in_failures"),
    )


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("full_name", sa.String(), nullable=True))
    op.drop_table("sign_in_failures")
    _sign_in_failures("name", "address")


def downgrade() -> None:
    op.drop_table("sign_in_failures")
    _sign_in_failures("name")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("full_name")
