"""callbacks: requests to be called back, their attempts and outcome

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hotline.db

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "callbacks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_sid", sa.String(length=64), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=True),
        sa.Column("caller_hash", sa.String(length=64), nullable=False),
        sa.Column("hotline_number", sa.String(length=32), nullable=True),
        sa.Column("flow", sa.String(length=48), nullable=True),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("safe_to_call", sa.Boolean(), nullable=False),
        sa.Column("may_leave_message", sa.Boolean(), nullable=False),
        sa.Column("requested_at", hotline.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", hotline.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_outcome", sa.String(length=32), nullable=True),
        sa.Column("counselor_id", sa.Integer(), nullable=True),
        sa.Column("call_sids", sa.JSON(), nullable=False),
        sa.Column("updated_at", hotline.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["counselor_id"],
            ["counselors.id"],
            name=op.f("fk_callbacks_counselor_id_counselors"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callbacks")),
        sa.UniqueConstraint("call_sid", name=op.f("uq_callbacks_call_sid")),
    )
    with op.batch_alter_table("callbacks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_callbacks_caller_hash"), ["caller_hash"])
        batch_op.create_index(
            "ix_callbacks_status_next_attempt_at", ["status", "next_attempt_at"], unique=False
        )


def downgrade() -> None:
    op.drop_table("callbacks")
