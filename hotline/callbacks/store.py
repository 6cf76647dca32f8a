"""Callback rows, from `callback_requested` events (run by the event drain, so idempotent:
an event delivered twice, or a second request while one is pending, updates one row)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import OPEN_CALLBACK_STATUSES, Callback, CallbackStatus

# Who may change a callback, and how: a manager (CLI or dashboard) moves or cancels it.
CHANGEABLE = ("pending", "scheduled", "failed")


class CallbackError(ValueError):
    """A manager asked for a change the callback cannot take (unknown, or finished)."""


def record_requests(session: Session, events: Iterable[Any]) -> list[tuple[str, int]]:
    """Insert or update a Callback per `callback_requested` event; returns (caller_hash, id)
    of the open requests, for the webhook's pending flag."""
    out: list[tuple[str, int]] = []
    for event in events:
        if event.kind != "callback_requested":
            continue
        d = event.data
        if not d.get("number") or not d.get("caller_hash"):
            continue
        row = session.scalars(select(Callback).where(Callback.call_sid == event.call_sid)).first()
        if row is None:
            row = session.scalars(
                select(Callback)
                .where(Callback.caller_hash == d["caller_hash"])
                .where(Callback.status.in_(("pending", "scheduled")))
                .order_by(Callback.id)
            ).first()
        if row is None:
            row = Callback(
                call_sid=event.call_sid,
                caller_hash=d["caller_hash"],
                requested_at=event.at,
                next_attempt_at=event.at,
                status=CallbackStatus.PENDING.value,
                attempts=0,
                call_sids=[],
            )
            session.add(row)
        row.number = str(d["number"])
        row.language = str(d.get("language") or "mandarin")
        row.safe_to_call = bool(d.get("safe_to_call"))
        row.may_leave_message = bool(d.get("may_leave_message"))
        row.hotline_number = d.get("to") or row.hotline_number
        row.flow = d.get("flow") or row.flow
        session.flush()
        if row.status in OPEN_CALLBACK_STATUSES:
            out.append((row.caller_hash, row.id))
    return out


def reschedule(session: Session, callback_id: int, at: dt.datetime) -> Callback:
    row = _get(session, callback_id)
    if row.status not in CHANGEABLE:
        raise CallbackError(f"callback {callback_id} is {row.status}; it cannot be moved")
    if at.tzinfo is None:
        raise CallbackError("give the time with its offset, e.g. 2026-12-02T09:00+08:00")
    row.status = CallbackStatus.PENDING.value
    row.next_attempt_at = at.astimezone(dt.UTC)
    if row.attempts and row.last_outcome:
        # A manager moving a failed callback gives it its attempts back.
        row.attempts = 0
    return row


def cancel(session: Session, callback_id: int) -> Callback:
    row = _get(session, callback_id)
    if row.status not in CHANGEABLE:
        raise CallbackError(f"callback {callback_id} is {row.status}; it cannot be cancelled")
    row.status = CallbackStatus.CANCELLED.value
    row.next_attempt_at = None
    return row


def _get(session: Session, callback_id: int) -> Callback:
    row = session.get(Callback, callback_id)
    if row is None:
        raise CallbackError(f"no callback {callback_id}")
    return row
