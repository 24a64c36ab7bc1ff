"""original due: the stage clock's due before any extension, which lateness is measured against

The overdue board and the lists count lateness from it and show the extended due beside it. Rows written
before get it from the state they keep (its running clock's original due).

Revision ID: 0007
Revises: 0006
Created: 2026-12-04 14:00:00
"""

import json
from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op

from models.tables import UtcDateTime

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("nonconformities", schema=None) as batch_op:
        batch_op.add_column(sa.Column("original_due_at", UtcDateTime(), nullable=True))
    records = sa.table(
        "nonconformities",
        sa.column("id", sa.String()),
        sa.column("state_json", sa.Text()),
        sa.column("original_due_at", UtcDateTime()),
    )
    connection = op.get_bind()
    for record_id, state_json in connection.execute(sa.select(records.c.id, records.c.state_json)).all():
        clock = json.loads(state_json or "{}").get("clock")
        if clock and clock.get("original_due_at"):
            connection.execute(
                records.update()
                .where(records.c.id == record_id)
                .values(original_due_at=datetime.fromisoformat(clock["original_due_at"]))
            )


def downgrade() -> None:
    with op.batch_alter_table("nonconformities", schema=None) as batch_op:
        batch_op.drop_column("original_due_at")
