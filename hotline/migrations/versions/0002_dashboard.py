"""dashboard: users, audit log, call notes; call-log indexes, caller_last4, state_since

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-05 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hotline.db

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

CALL_INDEXES = {
    "ix_calls_language_started_at": ["language", "started_at"],
    "ix_calls_hotline_number_started_at": ["hotline_number", "started_at"],
    "ix_calls_counselor_id_started_at": ["counselor_id", "started_at"],
    "ix_calls_caller_last4_started_at": ["caller_last4", "started_at"],
    "ix_calls_ended_at": ["ended_at"],
}


def upgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.add_column(sa.Column("caller_last4", sa.String(length=4), nullable=True))
    right4 = (
        "substr(caller_number, -4)"
        if op.get_bind().dialect.name == "sqlite"
        else "right(caller_number, 4)"
    )
    op.execute(f"UPDATE calls SET caller_last4 = {right4} WHERE caller_number IS NOT NULL")
    with op.batch_alter_table("calls", schema=None) as batch_op:
        for name, columns in CALL_INDEXES.items():
            batch_op.create_index(name, columns, unique=False)

    with op.batch_alter_table("counselors", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("state_since", hotline.db.UTCDateTime(timezone=True), nullable=True)
        )

    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("counselor_id", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", hotline.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", hotline.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["counselor_id"],
            ["counselors.id"],
            name=op.f("fk_users_counselor_id_counselors"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", hotline.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=254), nullable=False),
        sa.Column("action", sa.String(length=48), nullable=False),
        sa.Column("target_type", sa.String(length=32), nullable=True),
        sa.Column("target_id", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_audit_log_user_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index("ix_audit_log_at", ["at"], unique=False)
    op.create_table(
        "call_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("counselor_id", sa.Integer(), nullable=True),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("risk", sa.String(length=8), nullable=False),
        sa.Column("follow_up", sa.Boolean(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", hotline.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", hotline.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["call_id"], ["calls.id"], name=op.f("fk_call_notes_call_id_calls"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["counselor_id"],
            ["counselors.id"],
            name=op.f("fk_call_notes_counselor_id_counselors"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_notes")),
        sa.UniqueConstraint("call_id", name=op.f("uq_call_notes_call_id")),
    )


def downgrade() -> None:
    op.drop_table("call_notes")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_log_at")
    op.drop_table("audit_log")
    op.drop_table("users")
    with op.batch_alter_table("counselors", schema=None) as batch_op:
        batch_op.drop_column("state_since")
    with op.batch_alter_table("calls", schema=None) as batch_op:
        for name in CALL_INDEXES:
            batch_op.drop_index(name)
        batch_op.drop_column("caller_last4")
