"""stats: each record's stays in its stages, its cause category, escape point, recurrence and first review

The management-review figures (core/stats.py) read them in SQL. The records already there get them from their
stored state and timeline (``core.stagespans.backfill``).

Revision ID: 0011
Revises: 0008
Created: 2026-12-04 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from core import stagespans
from models.tables import UtcDateTime

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# The figures' covering indexes (models/tables.py says what each serves).
_INDEXES = [
    ("ix_stage_spans_cycle_times", "stage_spans", ["stage", "seconds", "ended_at"]),
    ("ix_stage_spans_on_time", "stage_spans", ["done_at", "on_time"]),
    ("ix_stage_spans_extended", "stage_spans", ["record_id", "extensions"]),
    (
        "ix_nonconformities_raised_figures",
        "nonconformities",
        ["raised_at", "severity", "source", "product", "cause_category", "escape_point", "recurrence_of", "id"],
    ),
    ("ix_nonconformities_closed_figures", "nonconformities", ["closed_at", "stage", "severity", "source", "product"]),
    (
        "ix_nonconformities_review_figures",
        "nonconformities",
        ["first_review_at", "first_review_effective", "severity", "source", "product"],
    ),
    ("ix_actions_completed_figures", "actions", ["completed_at", "status", "original_due_at"]),
    ("ix_actions_extended_figures", "actions", ["record_id", "due_at", "original_due_at"]),
]


def upgrade() -> None:
    with op.batch_alter_table("nonconformities") as batch:
        batch.add_column(sa.Column("cause_category", sa.String(), nullable=True))
        batch.add_column(sa.Column("escape_point", sa.String(), nullable=True))
        batch.add_column(sa.Column("recurrence_of", sa.String(), nullable=True))
        batch.add_column(sa.Column("first_review_at", UtcDateTime(), nullable=True))
        batch.add_column(sa.Column("first_review_effective", sa.Boolean(), nullable=True))
    op.create_table(
        "stage_spans",
        sa.Column("record_id", sa.String(), nullable=False),
        sa.Column("cycle", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("round", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("stage", sa.String(), nullable=False),
        sa.Column("started_at", UtcDateTime(), nullable=False),
        sa.Column("ended_at", UtcDateTime(), nullable=True),
        sa.Column("seconds", sa.Float(), nullable=True),
        sa.Column("original_due_at", UtcDateTime(), nullable=True),
        sa.Column("due_at", UtcDateTime(), nullable=True),
        sa.Column("extensions", sa.Integer(), nullable=False),
        sa.Column("done_at", UtcDateTime(), nullable=True),
        sa.Column("on_time", sa.Boolean(), nullable=True),
        sa.ForeignKeyConstraint(["record_id"], ["nonconformities.id"]),
        sa.PrimaryKeyConstraint("record_id", "cycle", "round", "stage"),
    )
    for name, table, columns in _INDEXES:
        op.create_index(name, table, columns, unique=False)
    stagespans.backfill(op.get_bind())


def downgrade() -> None:
    for name, table, _ in reversed(_INDEXES):
        op.drop_index(name, table_name=table)
    op.drop_table("stage_spans")
    with op.batch_alter_table("nonconformities") as batch:
        batch.drop_column("first_review_effective")
        batch.drop_column("first_review_at")
        batch.drop_column("recurrence_of")
        batch.drop_column("escape_point")
        batch.drop_column("cause_category")
