"""sites: the places records belong to, each with its time zone; people's home site and own zone

Records and people from before keep no site: they belong to the default site (``CAPA_SITE_NAME``), which
``core.sites`` makes at the first start that needs it, so this migration needs no setting.

Revision ID: 0010
Revises: 0009
Created: 2026-12-04 16:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from models.tables import UtcDateTime

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sites",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("time_zone", sa.String(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_sites"),
    )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("site", sa.String(), nullable=True))
        batch_op.add_column(sa.Column("time_zone", sa.String(), nullable=True))
    with op.batch_alter_table("nonconformities", schema=None) as batch_op:
        batch_op.add_column(sa.Column("site", sa.String(), nullable=True))
        batch_op.create_index("ix_nonconformities_site", ["site"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("nonconformities", schema=None) as batch_op:
        batch_op.drop_index("ix_nonconformities_site")
        batch_op.drop_column("site")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("time_zone")
        batch_op.drop_column("site")
    op.drop_table("sites")
