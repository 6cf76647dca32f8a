"""Keeping personal data no longer than needed: recordings after HOTLINE_RETAIN_RECORDINGS_DAYS,
caller numbers after HOTLINE_RETAIN_NUMBERS_DAYS. The keyed hash of a number stays, so
repeat callers can still be counted without anyone being able to call them back."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from .db import Database, utcnow
from .models import Call, CallEvent, Recording

log = logging.getLogger(__name__)

BATCH = 500


@dataclass
class Report:
    dry_run: bool
    recordings: int = 0
    recording_bytes: int = 0
    recordings_oldest: dt.datetime | None = None
    missing_files: int = 0
    numbers_calls: int = 0
    numbers_events: int = 0
    numbers_oldest: dt.datetime | None = None

    def lines(self) -> list[str]:
        verb = "would remove" if self.dry_run else "removed"
        erase = "would erase" if self.dry_run else "erased"
        return [
            f"recordings: {verb} {self.recordings} ({self.recording_bytes} bytes), "
            f"oldest {_day(self.recordings_oldest)}"
            + (
                f"; {self.missing_files} file(s) were already missing" if self.missing_files else ""
            ),
            f"caller numbers: {erase} on {self.numbers_calls} call(s) and "
            f"{self.numbers_events} event(s), oldest {_day(self.numbers_oldest)}",
        ]


def _day(value: dt.datetime | None) -> str:
    return value.date().isoformat() if value else "-"


def run(
    database: Database,
    storage: Path,
    *,
    recordings_days: int,
    numbers_days: int,
    dry_run: bool = False,
    now: dt.datetime | None = None,
) -> Report:
    now = now or utcnow()
    report = Report(dry_run=dry_run)
    _recordings(database, storage, now - dt.timedelta(days=recordings_days), report)
    _numbers(database, now - dt.timedelta(days=numbers_days), report)
    if not dry_run and (report.recordings or report.numbers_calls or report.numbers_events):
        log.info("retention: %s", "; ".join(report.lines()))
    return report


def _recordings(database: Database, storage: Path, cutoff: dt.datetime, report: Report) -> None:
    due = (Recording.deleted_at.is_(None), Recording.created_at < cutoff)
    with database.session() as session:
        count, size, oldest = session.execute(
            select(
                func.count(),
                func.coalesce(func.sum(Recording.bytes), 0),
                func.min(Recording.created_at),
            ).where(*due)
        ).one()
    report.recordings, report.recording_bytes = int(count), int(size)
    report.recordings_oldest = _aware(oldest)
    if report.dry_run:
        return
    root = storage.resolve()
    while True:
        with database.session() as session:
            batch = list(
                session.scalars(select(Recording).where(*due).order_by(Recording.id).limit(BATCH))
            )
            for row in batch:
                # The file goes before the row is marked: a crash in between leaves a row
                # that the next run finishes, never a forgotten file.
                path = (root / row.path).resolve()
                if path.is_relative_to(root):
                    try:
                        path.unlink()
                    except FileNotFoundError:
                        report.missing_files += 1
                row.deleted_at = utcnow()
        if len(batch) < BATCH:
            return


def _numbers(database: Database, cutoff: dt.datetime, report: Report) -> None:
    events_due = (
        CallEvent.kind == "incoming",
        CallEvent.occurred_at < cutoff,
        CallEvent.data["from"].as_string().is_not(None),
    )
    calls_due = (Call.started_at < cutoff, Call.caller_number.is_not(None))
    with database.session() as session:
        n_events, oldest_event = session.execute(
            select(func.count(), func.min(CallEvent.occurred_at)).where(*events_due)
        ).one()
        n_calls, oldest_call = session.execute(
            select(func.count(), func.min(Call.started_at)).where(*calls_due)
        ).one()
    report.numbers_events, report.numbers_calls = int(n_events), int(n_calls)
    oldest = [d for d in (_aware(oldest_event), _aware(oldest_call)) if d is not None]
    report.numbers_oldest = min(oldest) if oldest else None
    if report.dry_run:
        return
    # Events first: a call's summary is rebuilt from its events, so erasing the events
    # first means a rebuild racing with us cannot bring the number back for long.
    while True:
        with database.session() as session:
            batch = list(session.scalars(select(CallEvent).where(*events_due).limit(BATCH)))
            for event in batch:
                event.data = {**event.data, "from": None}  # a new dict: the change is seen
        if len(batch) < BATCH:
            break
    with database.session() as session:
        _erase_calls(session, cutoff)


def _erase_calls(session: Session, cutoff: dt.datetime) -> None:
    session.execute(
        update(Call)
        .where(Call.started_at < cutoff, Call.caller_number.is_not(None))
        .values(caller_number=None)
    )


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.UTC)  # SQLite aggregates come back naive
