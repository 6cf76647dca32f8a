"""Writing call events and the call summaries derived from them."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from sqlalchemy import select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from .calllog import Summary, summarize
from .events import CallEventData
from .models import Call, CallEvent

SUMMARY_FIELDS = [f for f in Summary.__dataclass_fields__ if f != "call_sid"]


def store_events(session: Session, events: Sequence[CallEventData]) -> set[str]:
    """Insert events that are not stored yet; returns the calls they belong to."""
    if not events:
        return set()
    rows = [
        {
            "event_id": e.event_id,
            "call_sid": e.call_sid,
            "kind": e.kind,
            "occurred_at": e.at,
            "sequence": e.sequence,
            "data": e.data,
        }
        for e in {e.event_id: e for e in events}.values()
    ]
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(CallEvent).on_conflict_do_nothing(index_elements=["event_id"])
    for start in range(0, len(rows), 500):
        session.execute(stmt, rows[start : start + 500])
    return {e.call_sid for e in events}


def refresh_calls(session: Session, call_sids: Iterable[str]) -> None:
    """Rebuild each call's summary from all of its events (set-based, so order and
    duplicates do not matter)."""
    sids = sorted(set(call_sids))
    _lock_calls(session, sids)
    for start in range(0, len(sids), 200):
        chunk = sids[start : start + 200]
        by_call: dict[str, list[CallEvent]] = {sid: [] for sid in chunk}
        for event in session.scalars(select(CallEvent).where(CallEvent.call_sid.in_(chunk))):
            by_call[event.call_sid].append(event)
        existing = {
            c.call_sid: c for c in session.scalars(select(Call).where(Call.call_sid.in_(chunk)))
        }
        for sid, events in by_call.items():
            if not events:
                continue
            summary = summarize(sid, events)
            call = existing.get(sid)
            if call is None:
                call = Call(call_sid=sid)
                session.add(call)
            for field in SUMMARY_FIELDS:
                setattr(call, field, getattr(summary, field))


def _lock_calls(session: Session, sids: Sequence[str]) -> None:
    """Two workers draining events of one call at once would each see only their own
    uncommitted events and write a summary missing the other's (bench/load.py saw answered
    calls stored without an outcome). A lock per call, held to the end of the transaction,
    makes the second wait and then read what the first committed. Keys are taken in
    ascending order, so two workers never wait on each other in a cycle. SQLite needs
    none: it lets one writer in at a time."""
    if not sids or session.get_bind().dialect.name != "postgresql":
        return
    keys = sorted({_lock_key(sid) for sid in sids})
    # unnest yields the keys in array order, so the locks are taken in that order.
    session.execute(
        text("SELECT pg_advisory_xact_lock(k) FROM unnest(CAST(:keys AS bigint[])) AS k"),
        {"keys": keys},
    ).all()


def _lock_key(call_sid: str) -> int:
    digest = hashlib.blake2b(call_sid.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)
