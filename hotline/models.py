"""The records the hotline keeps. Times are aware UTC datetimes."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .db import Base, CreatedAt, utcnow


class Outcome(enum.StrEnum):
    """How a call ended, as managers read it (a public contract: the export uses these)."""

    ANSWERED = "answered"
    ABANDONED_IVR = "abandoned_ivr"
    ABANDONED_QUEUE = "abandoned_queue"
    AFTER_HOURS = "after_hours"
    OVERFLOW = "overflow"
    VOICEMAIL = "voicemail"
    CALLBACK_REQUESTED = "callback_requested"
    FAILED = "failed"


class CounselorState(enum.StrEnum):
    OFFLINE = "offline"
    AVAILABLE = "available"
    OFFERED = "offered"
    BUSY = "busy"
    WRAP_UP = "wrap_up"
    AWAY = "away"


class Call(Base):
    """One row per inbound CallSid: the summary, rebuilt by workers from the call's events."""

    __tablename__ = "calls"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_sid: Mapped[str] = mapped_column(String(64), unique=True)
    hotline_number: Mapped[str | None] = mapped_column(String(32))
    caller_number: Mapped[str | None] = mapped_column(String(32))  # E.164; erased by retention
    caller_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    caller_country: Mapped[str | None] = mapped_column(String(2))
    caller_withheld: Mapped[bool] = mapped_column(default=False)
    language: Mapped[str | None] = mapped_column(String(16))
    urgent: Mapped[bool] = mapped_column(default=False)
    started_at: Mapped[dt.datetime | None]
    queued_at: Mapped[dt.datetime | None]
    answered_at: Mapped[dt.datetime | None]
    ended_at: Mapped[dt.datetime | None]
    wait_seconds: Mapped[int | None]
    talk_seconds: Mapped[int | None]
    outcome: Mapped[str | None] = mapped_column(String(32))
    last_step: Mapped[str | None] = mapped_column(String(64))
    counselor_id: Mapped[int | None] = mapped_column(ForeignKey("counselors.id"))
    counselor_call_sid: Mapped[str | None] = mapped_column(String(64))
    # Last four digits of caller_number, kept in step by an ORM hook below: the dashboard
    # filters on them, and a suffix match on the E.164 column cannot use an index.
    caller_last4: Mapped[str | None] = mapped_column(String(4))
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    counselor: Mapped[Counselor | None] = relationship()

    __table_args__ = (
        Index("ix_calls_started_at", "started_at"),
        Index("ix_calls_outcome_started_at", "outcome", "started_at"),
        # The dashboard's call-log filters, each followed by the keyset sort column.
        Index("ix_calls_language_started_at", "language", "started_at"),
        Index("ix_calls_hotline_number_started_at", "hotline_number", "started_at"),
        Index("ix_calls_counselor_id_started_at", "counselor_id", "started_at"),
        Index("ix_calls_caller_last4_started_at", "caller_last4", "started_at"),
        # The live board: calls that have not ended.
        Index("ix_calls_ended_at", "ended_at"),
    )


class CallEvent(Base):
    """Something that happened to a call. `event_id` makes every write idempotent."""

    __tablename__ = "call_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    call_sid: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(48))
    occurred_at: Mapped[dt.datetime]
    sequence: Mapped[int | None]
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    recorded_at: Mapped[CreatedAt]

    # Retention looks for old caller numbers by kind and age; so would any report by kind.
    __table_args__ = (Index("ix_call_events_kind_occurred_at", "kind", "occurred_at"),)


class RecordingKind(enum.StrEnum):
    VOICEMAIL = "voicemail"
    CALL = "call"


class Recording(Base):
    """Our copy of a Twilio recording. `recording_sid` makes the fetch job idempotent."""

    __tablename__ = "recordings"

    id: Mapped[int] = mapped_column(primary_key=True)
    recording_sid: Mapped[str] = mapped_column(String(64), unique=True)
    call_sid: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    path: Mapped[str] = mapped_column(String(255))  # relative to HOTLINE_RECORDINGS_STORAGE
    bytes: Mapped[int]
    duration: Mapped[int | None]  # seconds, as Twilio reported them
    created_at: Mapped[CreatedAt]
    twilio_deleted_at: Mapped[dt.datetime | None]  # Twilio's copy removed (or never there)
    deleted_at: Mapped[dt.datetime | None]  # our file removed by retention

    __table_args__ = (Index("ix_recordings_created_at", "created_at"),)


class Counselor(Base):
    __tablename__ = "counselors"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    phone: Mapped[str] = mapped_column(String(32), unique=True)  # E.164, never shown to callers
    languages: Mapped[list[str]] = mapped_column(default=list)
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    # The presence the counselor chose; live states (offered, busy, ...) live on the board.
    state: Mapped[str] = mapped_column(String(16), default=CounselorState.AVAILABLE.value)
    # When `state` last changed, kept by an ORM hook below (for "time in state" on the board).
    state_since: Mapped[dt.datetime | None]
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[CreatedAt]

    shifts: Mapped[list[Shift]] = relationship(
        back_populates="counselor", cascade="all, delete-orphan", order_by="Shift.id"
    )
    overrides: Mapped[list[ShiftOverride]] = relationship(
        back_populates="counselor", cascade="all, delete-orphan", order_by="ShiftOverride.day"
    )


class Shift(Base):
    """A weekly on-call slot in the counselor's own time zone; may cross midnight."""

    __tablename__ = "shifts"

    id: Mapped[int] = mapped_column(primary_key=True)
    counselor_id: Mapped[int] = mapped_column(ForeignKey("counselors.id", ondelete="CASCADE"))
    weekday: Mapped[int]  # 0 = Monday
    start: Mapped[str] = mapped_column(String(5))  # "HH:MM"
    end: Mapped[str] = mapped_column(String(5))  # "HH:MM", may be <= start (crosses midnight)

    counselor: Mapped[Counselor] = relationship(back_populates="shifts")


class ShiftOverride(Base):
    """A dated exception: a day off, or different hours that day."""

    __tablename__ = "shift_overrides"

    id: Mapped[int] = mapped_column(primary_key=True)
    counselor_id: Mapped[int] = mapped_column(ForeignKey("counselors.id", ondelete="CASCADE"))
    day: Mapped[dt.date]
    off: Mapped[bool] = mapped_column(default=False)
    start: Mapped[str | None] = mapped_column(String(5))
    end: Mapped[str | None] = mapped_column(String(5))

    counselor: Mapped[Counselor] = relationship(back_populates="overrides")

    __table_args__ = (UniqueConstraint("counselor_id", "day", "start"),)


def _last4(number: str | None) -> str | None:
    digits = "".join(ch for ch in number or "" if ch.isdigit())
    return digits[-4:] or None


@event.listens_for(Call, "before_insert")
@event.listens_for(Call, "before_update")
def _keep_caller_last4(_mapper: Any, _conn: Any, call: Call) -> None:
    call.caller_last4 = _last4(call.caller_number)


@event.listens_for(Counselor.state, "set")
def _stamp_state_change(counselor: Counselor, value: str, old: Any, _initiator: Any) -> None:
    if value != old:
        counselor.state_since = utcnow()


# ---- the dashboard -------------------------------------------------------------------------


class UserRole(enum.StrEnum):
    MANAGER = "manager"
    COUNSELOR = "counselor"


class User(Base):
    """Someone who logs in to the dashboard. A counselor user is linked to their Counselor."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)  # stored lower-case
    password_hash: Mapped[str] = mapped_column(String(255))  # argon2id
    role: Mapped[str] = mapped_column(String(16))
    counselor_id: Mapped[int | None] = mapped_column(
        ForeignKey("counselors.id", ondelete="SET NULL")
    )
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[CreatedAt]
    last_login_at: Mapped[dt.datetime | None]

    counselor: Mapped[Counselor | None] = relationship()


class AuditEntry(Base):
    """Who looked at or changed what. Never holds an unmasked number."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[CreatedAt]
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor: Mapped[str] = mapped_column(String(254))  # the email, kept if the user goes
    action: Mapped[str] = mapped_column(String(48))
    target_type: Mapped[str | None] = mapped_column(String(32))
    target_id: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)

    __table_args__ = (Index("ix_audit_log_at", "at"),)


class NoteCategory(enum.StrEnum):
    ANXIETY = "anxiety"
    DEPRESSION = "depression"
    GRIEF = "grief"
    FAMILY = "family"
    COVID = "covid"
    OTHER = "other"


class RiskLevel(enum.StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class CallNote(Base):
    """The counselor's short note on a call they took (one per call)."""

    __tablename__ = "call_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), unique=True)
    counselor_id: Mapped[int | None] = mapped_column(
        ForeignKey("counselors.id", ondelete="SET NULL")
    )
    category: Mapped[str] = mapped_column(String(16))
    risk: Mapped[str] = mapped_column(String(8))
    follow_up: Mapped[bool] = mapped_column(default=False)
    text: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


# ---- callbacks -----------------------------------------------------------------------------


class CallbackStatus(enum.StrEnum):
    PENDING = "pending"
    SCHEDULED = "scheduled"  # on the routing board, waiting for a counselor
    IN_PROGRESS = "in_progress"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


OPEN_CALLBACK_STATUSES = ("pending", "scheduled", "in_progress")


class Callback(Base):
    """A caller asked to be called back. Made by the worker from `callback_requested`."""

    __tablename__ = "callbacks"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_sid: Mapped[str] = mapped_column(String(64), unique=True)  # the call that asked
    number: Mapped[str | None] = mapped_column(String(32))  # E.164; erased by retention
    caller_hash: Mapped[str] = mapped_column(String(64), index=True)
    hotline_number: Mapped[str | None] = mapped_column(String(32))  # called from this number
    flow: Mapped[str | None] = mapped_column(String(48))
    language: Mapped[str] = mapped_column(String(16))
    safe_to_call: Mapped[bool] = mapped_column(default=False)
    may_leave_message: Mapped[bool] = mapped_column(default=False)
    requested_at: Mapped[dt.datetime]
    status: Mapped[str] = mapped_column(String(16), default=CallbackStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime | None]
    last_outcome: Mapped[str | None] = mapped_column(String(32))
    counselor_id: Mapped[int | None] = mapped_column(
        ForeignKey("counselors.id", ondelete="SET NULL")
    )
    # The legs placed for it, oldest first: {"attempt", "counselor", "caller"} call sids.
    call_sids: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __table_args__ = (Index("ix_callbacks_status_next_attempt_at", "status", "next_attempt_at"),)
