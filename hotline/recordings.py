"""Our copies of call recordings and voicemails: what a callback tells us, checking the
audio, storing it safely, and the steps of fetching one (idempotent, in that order:
download, check, write, record the row, and only then delete Twilio's copy)."""

from __future__ import annotations

import datetime as dt
import logging
import os
import struct
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from .db import Database, utcnow
from .events import CallEventData, make_event
from .eventstore import refresh_calls, store_events
from .models import CallEvent, Recording, RecordingKind
from .telephony.recordings import RECORDING_SID, RecordingGone

log = logging.getLogger(__name__)

EVENT_KIND = "recording"
FAILED_KIND = "recording_failed"
STATUSES = {"in-progress", "completed", "absent", "failed", "deleted"}
# Twilio's RecordingDuration is whole seconds; leave room for rounding and container slack.
DURATION_SLACK_SECONDS = 2.0
DURATION_SLACK_RATIO = 0.10


class BadAudio(Exception):
    """The download is not a plausible recording (empty, not WAV, cut short)."""


# ---- the callback ------------------------------------------------------------------------
def callback_data(form: Mapping[str, str], args: Mapping[str, str]) -> dict[str, Any] | None:
    """The event data of a recordingStatusCallback, or None when it names no recording."""
    sid = (form.get("RecordingSid") or "").strip()
    if not RECORDING_SID.match(sid):
        return None
    status = (form.get("RecordingStatus") or "").strip().lower()
    source = (form.get("RecordingSource") or "")[:32]
    kind = args.get("kind")
    if kind not in (RecordingKind.VOICEMAIL, RecordingKind.CALL):
        # <Record> is how the flows take a voicemail; every other source records a call.
        kind = RecordingKind.VOICEMAIL if source == "RecordVerb" else RecordingKind.CALL
    return {
        "recording_sid": sid,
        "status": status if status in STATUSES else "unknown",
        "url": (form.get("RecordingUrl") or "")[:300] or None,
        "duration": _nonnegative_int(form.get("RecordingDuration")),
        "channels": _nonnegative_int(form.get("RecordingChannels")),
        "source": source or None,
        "kind": str(kind),
        "error_code": (form.get("ErrorCode") or "")[:16] or None,
    }


def _nonnegative_int(value: str | None) -> int | None:
    try:
        number = int(value or "")
    except ValueError:
        return None
    return number if 0 <= number < 10**7 else None


@dataclass(frozen=True)
class RecordingRef:
    recording_sid: str
    call_sid: str
    url: str | None
    duration: int | None
    kind: str


def completed(events: Iterable[CallEventData | CallEvent]) -> list[RecordingRef]:
    """The recordings these events announce as complete (one per RecordingSid)."""
    found: dict[str, RecordingRef] = {}
    for e in events:
        d = e.data
        if e.kind == EVENT_KIND and d.get("status") == "completed" and d.get("recording_sid"):
            sid = str(d["recording_sid"])
            duration = d.get("duration")
            found[sid] = RecordingRef(
                recording_sid=sid,
                call_sid=e.call_sid,
                url=d.get("url") if isinstance(d.get("url"), str) else None,
                duration=duration if isinstance(duration, int) else None,
                kind=str(d.get("kind") or RecordingKind.CALL),
            )
    return list(found.values())


def not_stored(session: Session, refs: list[RecordingRef]) -> list[RecordingRef]:
    if not refs:
        return []
    sids = [r.recording_sid for r in refs]
    stored = set(
        session.scalars(select(Recording.recording_sid).where(Recording.recording_sid.in_(sids)))
    )
    return [r for r in refs if r.recording_sid not in stored]


def find(session: Session, recording_sid: str, call_sid: str | None) -> RecordingRef | None:
    """The completed-recording event for a RecordingSid (by call first: that is indexed)."""
    query = select(CallEvent).where(CallEvent.kind == EVENT_KIND)
    if call_sid:
        query = query.where(CallEvent.call_sid == call_sid)
    else:
        query = query.where(CallEvent.data["recording_sid"].as_string() == recording_sid)
    refs = [r for r in completed(session.scalars(query)) if r.recording_sid == recording_sid]
    return refs[0] if refs else None


# ---- the audio ---------------------------------------------------------------------------
@dataclass(frozen=True)
class WavInfo:
    channels: int
    sample_rate: int
    byte_rate: int
    data_bytes: int

    @property
    def seconds(self) -> float:
        return self.data_bytes / self.byte_rate


def check_wav(body: bytes, expected_seconds: int | None) -> WavInfo:
    """Reject what cannot be the recording: empty, not WAV, cut short, or far off the
    duration Twilio reported. A truncated download must fail the job (RQ retries it)."""
    if len(body) < 44:
        raise BadAudio(f"{len(body)} bytes is no WAV file")
    riff, riff_size, wave = struct.unpack_from("<4sI4s", body, 0)
    if riff != b"RIFF" or wave != b"WAVE":
        raise BadAudio("no RIFF/WAVE header")
    if riff_size + 8 > len(body):
        raise BadAudio(f"cut short: header says {riff_size + 8} bytes, got {len(body)}")
    fmt: tuple[int, int, int] | None = None
    offset = 12
    while offset + 8 <= len(body):
        chunk, size = struct.unpack_from("<4sI", body, offset)
        start = offset + 8
        if chunk == b"fmt " and size >= 16:
            _, channels, rate, byte_rate = struct.unpack_from("<HHII", body, start)
            fmt = (channels, rate, byte_rate)
        elif chunk == b"data":
            if fmt is None or fmt[2] <= 0:
                raise BadAudio("data before a usable fmt chunk")
            if start + size > len(body):
                raise BadAudio(f"cut short: data chunk says {size} bytes")
            info = WavInfo(fmt[0], fmt[1], fmt[2], size)
            _check_duration(info, expected_seconds)
            return info
        offset = start + size + (size & 1)
    raise BadAudio("no data chunk")


def _check_duration(info: WavInfo, expected: int | None) -> None:
    if info.data_bytes == 0 and expected:
        raise BadAudio("no audio")
    if expected is None:
        return
    slack = max(DURATION_SLACK_SECONDS, expected * DURATION_SLACK_RATIO)
    if abs(info.seconds - expected) > slack:
        raise BadAudio(f"{info.seconds:.1f} s of audio, Twilio reported {expected} s")


# ---- storage -----------------------------------------------------------------------------
def relative_path(recording_sid: str, when: dt.datetime) -> str:
    if not RECORDING_SID.match(recording_sid):  # it becomes a file name
        raise ValueError("not a RecordingSid")
    return f"{when:%Y/%m}/{recording_sid}.wav"


def write_atomically(root: Path, relative: str, body: bytes) -> Path:
    """Readers see the whole file or none: a crash mid-write leaves only a temp file."""
    target = root / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        view = memoryview(body)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        temp.unlink(missing_ok=True)
        raise
    os.close(fd)
    os.replace(temp, target)
    dir_fd = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # the rename itself must survive a power cut
    finally:
        os.close(dir_fd)
    return target


# ---- fetching ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Twilio:
    """What fetching needs from Twilio (functions, so tests and jobs can pass their own)."""

    download: Callable[[RecordingRef], bytes]
    delete: Callable[[str], bool]


def fetch(
    database: Database,
    storage: Path,
    twilio: Twilio,
    recording_sid: str,
    call_sid: str | None = None,
    *,
    delete_at_twilio: bool = True,
) -> str:
    """Bring one recording home. Returns what happened; raises to have the job retried."""
    if not RECORDING_SID.match(recording_sid):
        log.warning("not a RecordingSid; nothing to fetch")
        return "invalid"
    with database.session() as session:
        row = session.scalar(select(Recording).where(Recording.recording_sid == recording_sid))
        ref = None if row else find(session, recording_sid, call_sid)
    if row is None:
        if ref is None:
            log.warning(
                "recording %s: no completed-recording event; nothing to fetch", recording_sid
            )
            return "unknown"
        try:
            body = twilio.download(ref)
        except RecordingGone as exc:
            _record_failure(database, ref, str(exc))
            log.warning("recording %s is gone at Twilio; marked failed", recording_sid)
            return "gone"
        info = check_wav(body, ref.duration)
        now = utcnow()
        relative = relative_path(recording_sid, now)
        write_atomically(storage, relative, body)
        with database.session() as session:
            _insert_row(
                session,
                {
                    "recording_sid": recording_sid,
                    "call_sid": ref.call_sid,
                    "kind": ref.kind,
                    "path": relative,
                    "bytes": len(body),
                    "duration": ref.duration if ref.duration is not None else round(info.seconds),
                    "created_at": now,
                },
            )
            row = session.scalar(select(Recording).where(Recording.recording_sid == recording_sid))
        log.info("recording %s stored (%d bytes)", recording_sid, len(body))
        outcome = "stored"
    else:
        outcome = "already stored"
    assert row is not None
    if delete_at_twilio and row.twilio_deleted_at is None:
        existed = twilio.delete(recording_sid)
        with database.session() as session:
            stored = session.scalar(
                select(Recording).where(Recording.recording_sid == recording_sid)
            )
            if stored is not None and stored.twilio_deleted_at is None:
                stored.twilio_deleted_at = utcnow()
        outcome += ", deleted at Twilio" if existed else ", already gone at Twilio"
    return outcome


def _insert_row(session: Session, values: dict[str, Any]) -> None:
    # Two jobs for one recording may race: the second insert is simply a no-op.
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(
        insert(Recording).values(**values).on_conflict_do_nothing(index_elements=["recording_sid"])
    )


def _record_failure(database: Database, ref: RecordingRef, reason: str) -> None:
    event = make_event(
        ref.call_sid,
        FAILED_KIND,
        {"recording_sid": ref.recording_sid, "reason": reason[:200]},
        utcnow(),
        discriminator=ref.recording_sid,
    )
    with database.session() as session:
        refresh_calls(session, store_events(session, [event]))
