"""calls, events, counselors, shifts

Revision ID: 0001
Revises:
Create Date: 2026-12-04 20:30:43.610385
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hotline.db

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "call_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("call_sid", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=48), nullable=False),
        sa.Column("occurred_at", hotline.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("recorded_at", hotline.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_events")),
        sa.UniqueConstraint("event_id", name=op.f("uq_call_events_event_id")),
    )
    with op.batch_alter_table("call_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_call_events_call_sid"), ["call_sid"], unique=False)

    op.create_table(
        "counselors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("languages", sa.JSON(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", hotline.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_counselors")),
        sa.UniqueConstraint("phone", name=op.f("uq_counselors_phone")),
    )
    op.create_table(
        "calls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_sid", sa.String(length=64), nullable=False),
        sa.Column("hotline_number", sa.String(length=32), nullable=True),
        sa.Column("caller_number", sa.String(length=32), nullable=True),
        sa.Column("caller_hash", sa.String(length=64), nullable=True),
        sa.Column("caller_country", sa.String(length=2), nullable=True),
        sa.Column("caller_withheld", sa.Boolean(), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=True),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("started_at", hotline.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("queued_at", hotline.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("answered_at", hotline.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_at", hotline.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("wait_seconds", sa.Integer(), nullable=True),
        sa.Column("talk_seconds", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.Column("last_step", sa.String(length=64), nullable=True),
        sa.Column("counselor_id", sa.Integer(), nullable=True),
        sa.Column("counselor_call_sid", sa.String(length=64), nullable=True),
        sa.Column("updated_at", hotline.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["counselor_id"], ["counselors.id"], name=op.f("fk_calls_counselor_id_counselors")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calls")),
        sa.UniqueConstraint("call_sid", name=op.f("uq_calls_call_sid")),
    )
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_calls_caller_hash"), ["caller_hash"], unique=False)
        batch_op.create_index(
            "ix_calls_outcome_started_at", ["outcome", "started_at"], unique=False
        )
        batch_op.create_index("ix_calls_started_at", ["started_at"], unique=False)

    op.create_table(
        "shift_overrides",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("counselor_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("off", sa.Boolean(), nullable=False),
        sa.Column("start", sa.String(length=5), nullable=True),
        sa.Column("end", sa.String(length=5), nullable=True),
        sa.ForeignKeyConstraint(
            ["counselor_id"],
            ["counselors.id"],
            name=op.f("fk_shift_overrides_counselor_id_counselors"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shift_overrides")),
        sa.UniqueConstraint(
            "counselor_id", "day", "start", name=op.f("uq_shift_overrides_counselor_id_day_start")
        ),
    )
    op.create_table(
        "shifts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("counselor_id", sa.Integer(), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("start", sa.String(length=5), nullable=False),
        sa.Column("end", sa.String(length=5), nullable=False),
        sa.ForeignKeyConstraint(
            ["counselor_id"],
            ["counselors.id"],
            name=op.f("fk_shifts_counselor_id_counselors"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shifts")),
    )


def downgrade() -> None:
    op.drop_table("shifts")
    op.drop_table("shift_overrides")
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_index("ix_calls_started_at")
        batch_op.drop_index("ix_calls_outcome_started_at")
        batch_op.drop_index(batch_op.f("ix_calls_caller_hash"))

    op.drop_table("calls")
    op.drop_table("counselors")
    with op.batch_alter_table("call_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_call_events_call_sid"))

    op.drop_table("call_events")
