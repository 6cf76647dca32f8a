"""Making the callbacks: due requests go on the routing board, outcomes move them on.

Flask-free: the worker's maintenance and jobs call these with a session and a board. A
callback attempt is one board entry "cb-{id}-{attempt}", so the same match script that
reserves counselors for live callers reserves them for callbacks: nobody holds both.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..flows import Flow, FlowSet
from ..models import Callback, CallbackStatus
from ..routing.board import Board
from .limits import clear_pending

_ENTRY = re.compile(r"^cb-(\d+)-(\d+)$")
# Per accepted offer: a manager may reset a failed request's attempts, so the same entry id
# can come back, but never with the same offer.
DIAL_LOCK = "hotline:cb:dialled:{entry}:{offer}"
STATUS_SEEN = "hotline:cb:status:{call_sid}:{status}"
# Who answered the caller's leg (human, machine, counselor_gone), by that leg's CallSid.
ANSWERED_BY = "hotline:cb:answered:{call_sid}"
MARK_TTL = 2 * 24 * 3600
# Terminal statuses of the caller's leg; the others (initiated, ringing...) are progress.
FINAL = {"completed", "no-answer", "busy", "failed", "canceled"}


def entry_id(callback_id: int, attempt: int) -> str:
    return f"cb-{callback_id}-{attempt}"


def parse_entry(sid: str) -> tuple[int, int] | None:
    match = _ENTRY.match(sid)
    return (int(match.group(1)), int(match.group(2))) if match else None


def log_call_sid(session: Session, sid: str) -> str:
    """Events about a callback entry belong to the call that asked for it, so the call log
    shows the whole story on one call."""
    parsed = parse_entry(sid)
    if parsed is None:
        return sid
    row = session.get(Callback, parsed[0])
    return row.call_sid if row is not None else sid


@dataclass(frozen=True)
class CallbackSettings:
    priority_after: int = 1800
    retry_minutes: tuple[int, ...] = (10, 30)
    max_attempts: int = 3

    @classmethod
    def from_config(cls, config: dict[str, object]) -> CallbackSettings:
        raw = str(config.get("HOTLINE_CALLBACK_RETRY_MINUTES") or "10,30")
        minutes = tuple(int(m) for m in raw.split(",") if m.strip()) or (10,)
        return cls(
            priority_after=int(str(config.get("HOTLINE_CALLBACK_PRIORITY_AFTER", 1800))),
            retry_minutes=minutes,
            max_attempts=int(str(config.get("HOTLINE_CALLBACK_MAX_ATTEMPTS", 3))),
        )

    def retry_delay(self, failed_attempts: int) -> dt.timedelta:
        """After the n-th failed attempt (1-based): the n-th delay, the last one repeated."""
        index = min(max(failed_attempts, 1), len(self.retry_minutes)) - 1
        return dt.timedelta(minutes=self.retry_minutes[index])


def flow_for(flows: FlowSet, row: Callback) -> Flow:
    return flows.get(row.flow) or flows.for_number(row.hotline_number)


def schedule_due(
    session: Session, board: Board, flows: FlowSet, settings: CallbackSettings, now: dt.datetime
) -> list[str]:
    """Put due callbacks on the board, only while their line is open (nobody is rung at
    night; the request waits for the opening). Idempotent: an entry already on the board is
    left as it is. Returns the languages to match."""
    rows = session.scalars(
        select(Callback)
        .where(Callback.status.in_((CallbackStatus.PENDING.value, CallbackStatus.SCHEDULED.value)))
        .where(Callback.next_attempt_at <= now)
        .order_by(Callback.next_attempt_at)
    ).all()
    languages: set[str] = set()
    for row in rows:
        flow = flow_for(flows, row)
        if not row.number:
            continue
        if not flow.hours.is_open(now):
            if row.status == CallbackStatus.SCHEDULED.value:
                _off_the_board_at_closing(board, row)
            continue
        board.register_callback(
            entry_id(row.id, row.attempts + 1),
            row.language,
            requested_at=row.requested_at.timestamp(),
            priority_after=settings.priority_after,
            hotline_number=row.hotline_number or "",
            flow=flow.name,
        )
        row.status = CallbackStatus.SCHEDULED.value
        languages.add(row.language)
    return sorted(languages)


def _off_the_board_at_closing(board: Board, row: Callback) -> None:
    """The line closed while the request waited for a counselor: nobody may be rung at
    night, so it waits for the opening again. A counselor already being asked (a live
    offer) is left to answer; the caller is only dialled if they accept."""
    entry = entry_id(row.id, row.attempts + 1)
    waiting = board.caller(entry)
    offer_id = waiting.get("offer", "")
    if offer_id and board.offer(offer_id):
        return
    board.caller_gone(entry)
    row.status = CallbackStatus.PENDING.value


# Longer than any conversation: an attempt still "in progress" after this lost its final
# status callback (or the job handling it). It is closed without calling again, since a
# second call could reach someone mid-conversation; a manager sees it and can reschedule.
STUCK_AFTER = dt.timedelta(hours=6)


def settle_stuck(session: Session, now: dt.datetime) -> list[Callback]:
    rows = session.scalars(
        select(Callback)
        .where(Callback.status == CallbackStatus.IN_PROGRESS.value)
        .where(Callback.updated_at <= now - STUCK_AFTER)
    ).all()
    for row in rows:
        row.status = CallbackStatus.FAILED.value
        row.last_outcome = "status_lost"
    return list(rows)


def start_attempt(session: Session, callback_id: int, counselor_id: int) -> Callback | None:
    """A counselor accepted: the attempt is in progress (schedule_due leaves it alone).
    None if the request was cancelled or finished meanwhile."""
    row = session.get(Callback, callback_id)
    if row is None or row.status not in ("pending", "scheduled") or not row.number:
        return None
    row.status = CallbackStatus.IN_PROGRESS.value
    row.counselor_id = counselor_id
    return row


def note_leg(row: Callback, attempt: int, counselor_leg: str, caller_leg: str) -> None:
    # A new list: the JSON column notices assignment, not mutation in place.
    row.call_sids = [
        *(row.call_sids or []),
        {"attempt": attempt, "counselor": counselor_leg, "caller": caller_leg},
    ]


def first_report(connection: redis.Redis, call_sid: str, status: str) -> bool:
    """Twilio may repeat a status callback: each (call, status) is acted on once."""
    key = STATUS_SEEN.format(call_sid=call_sid, status=status)
    return bool(connection.set(key, "1", nx=True, ex=MARK_TTL))


def finish_attempt(
    session: Session,
    connection: redis.Redis,
    callback_id: int,
    attempt: int,
    answered: bool,
    outcome: str,
    settings: CallbackSettings,
    now: dt.datetime,
) -> Callback | None:
    """The caller's leg ended. Answered (a person, bridged): done. Otherwise the attempt
    counts, and the request waits for its next try or fails after the last one."""
    row = session.get(Callback, callback_id)
    if row is None or row.attempts >= attempt:
        return None  # this attempt was already counted
    row.attempts = attempt
    row.last_outcome = outcome
    if answered:
        row.status = CallbackStatus.DONE.value
        row.next_attempt_at = None
    elif row.status == CallbackStatus.CANCELLED.value:
        row.next_attempt_at = None
    elif attempt >= settings.max_attempts:
        row.status = CallbackStatus.FAILED.value
        row.next_attempt_at = None
    else:
        row.status = CallbackStatus.PENDING.value
        row.next_attempt_at = now + settings.retry_delay(attempt)
    if row.status in (
        CallbackStatus.DONE.value,
        CallbackStatus.FAILED.value,
        CallbackStatus.CANCELLED.value,
    ):
        # The caller may ask again (a new request, not an update of this one).
        clear_pending(connection, row.caller_hash)
    return row


def named_intro(row: Callback) -> bool:
    """Who answers may not be the caller. The hotline names itself only when the caller
    said the number is safe and that we may say who we are to someone else; otherwise the
    intro is neutral ("the call back you asked for")."""
    return bool(row.safe_to_call and row.may_leave_message)
