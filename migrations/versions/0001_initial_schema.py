"""initial schema

The read model as the first releases created it: the directory, records, actions, timeline, outbox,
notification preferences and record numbering. Constraint names are explicit so later migrations can drop or
alter them by name on both SQLite (batch mode) and PostgreSQL.

Revision ID: 0001
Revises:
Created: 2026-11-25 16:52:53
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from models.tables import UtcDateTime

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("role", sa.String(), nullable=False),
        sa.Column("manager", sa.String(), nullable=True),
        sa.Column("email", sa.String(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_users"),
        sa.ForeignKeyConstraint(["manager"], ["users.name"], name="fk_users_manager_users"),
    )
    op.create_table(
        "nonconformities",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("title", sa.String(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("severity", sa.String(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("product", sa.String(), nullable=True),
        sa.Column("lot", sa.String(), nullable=True),
        sa.Column("quantity", sa.Integer(), nullable=True),
        sa.Column("owner", sa.String(), nullable=False),
        sa.Column("raised_by", sa.String(), nullable=False),
        sa.Column("raised_at", UtcDateTime(), nullable=False),
        sa.Column("stage", sa.String(), nullable=False),
        sa.Column("cycle", sa.Integer(), nullable=False),
        sa.Column("due_at", UtcDateTime(), nullable=True),
        sa.Column("escalation_level", sa.Integer(), nullable=False),
        sa.Column("holder", sa.String(), nullable=True),
        sa.Column("effectiveness_due_at", UtcDateTime(), nullable=True),
        sa.Column("cancel_reason", sa.Text(), nullable=True),
        sa.Column("closed_at", UtcDateTime(), nullable=True),
        sa.Column("policy_name", sa.String(), nullable=True),
        sa.Column("policy_digest", sa.String(), nullable=True),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("state_json", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_nonconformities"),
    )
    op.create_index("ix_nonconformities_due_at", "nonconformities", ["due_at"])
    op.create_index("ix_nonconformities_owner", "nonconformities", ["owner"])
    op.create_index("ix_nonconformities_severity", "nonconformities", ["severity"])
    op.create_index("ix_nonconformities_stage", "nonconformities", ["stage"])
    op.create_table(
        "actions",
        sa.Column("record_id", sa.String(), nullable=False),
        sa.Column("action_id", sa.String(), nullable=False),
        sa.Column("cycle", sa.Integer(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("owner", sa.String(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("due_at", UtcDateTime(), nullable=False),
        sa.Column("original_due_at", UtcDateTime(), nullable=False),
        sa.Column("escalation_level", sa.Integer(), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=True),
        sa.Column("completed_by", sa.String(), nullable=True),
        sa.Column("completed_at", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("record_id", "action_id", name="pk_actions"),
        sa.ForeignKeyConstraint(["record_id"], ["nonconformities.id"], name="fk_actions_record_id_nonconformities"),
    )
    op.create_index("ix_actions_owner", "actions", ["owner"])
    op.create_table(
        "events",
        sa.Column("record_id", sa.String(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("record_id", "seq", name="pk_events"),
        sa.ForeignKeyConstraint(["record_id"], ["nonconformities.id"], name="fk_events_record_id_nonconformities"),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.String(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("recipient", sa.String(), nullable=False),
        sa.Column("channel", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("subject", sa.String(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("address", sa.String(), nullable=True),
        sa.Column("link", sa.String(), nullable=True),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("sent_at", UtcDateTime(), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        # An integer primary key: SERIAL on PostgreSQL, the rowid alias on SQLite.
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
        sa.UniqueConstraint("record_id", "seq", "recipient", "channel", name="uq_outbox_delivery"),
    )
    op.create_index("ix_outbox_record_id", "outbox", ["record_id"])
    op.create_index("ix_outbox_status", "outbox", ["status"])
    op.create_table(
        "notification_preferences",
        sa.Column("user_name", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("email", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("user_name", "kind", name="pk_notification_preferences"),
        sa.ForeignKeyConstraint(["user_name"], ["users.name"], name="fk_notification_preferences_user_name_users"),
    )
    op.create_table(
        "record_sequences",
        # The year itself is the key: no sequence or SERIAL behind it.
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("year", name="pk_record_sequences"),
    )


def downgrade() -> None:
    # Dropping a table drops its indexes too; dependants go before the tables they reference.
    op.drop_table("record_sequences")
    op.drop_table("notification_preferences")
    op.drop_table("outbox")
    op.drop_table("events")
    op.drop_table("actions")
    op.drop_table("nonconformities")
    op.drop_table("users")
