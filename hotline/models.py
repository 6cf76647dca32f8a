"""The records the hotline keeps. Times are aware UTC datetimes."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
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
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    counselor: Mapped[Counselor | None] = relationship()

    __table_args__ = (
        Index("ix_calls_started_at", "started_at"),
        Index("ix_calls_outcome_started_at", "outcome", "started_at"),
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
    state: Mapped[str] = mapped_column(String(16), default=CounselorState.OFFLINE.value)
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
