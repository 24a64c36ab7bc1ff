"""procedure: the CAPA procedure document and revision each record is under

Records raised before policies stated their procedure keep None ("not recorded"); the others get it from their
stored state.

Revision ID: 0013
Revises: 0012
Created: 2026-12-04 20:30:00
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("nonconformities") as batch:
        batch.add_column(sa.Column("procedure_document", sa.String(), nullable=True))
        batch.add_column(sa.Column("procedure_revision", sa.String(), nullable=True))
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, state_json FROM nonconformities")).all()
    for record_id, state_json in rows:
        policy = (json.loads(state_json) or {}).get("policy") or {}
        procedure = policy.get("procedure") or {}
        if procedure:
            bind.execute(
                sa.text("UPDATE nonconformities SET procedure_document = :d, procedure_revision = :r WHERE id = :id"),
                {"d": procedure.get("document"), "r": procedure.get("revision"), "id": record_id},
            )


def downgrade() -> None:
    with op.batch_alter_table("nonconformities") as batch:
        batch.drop_column("procedure_revision")
        batch.drop_column("procedure_document")
