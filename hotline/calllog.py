"""A call's summary, derived from all its events.

Pure and order-independent: the summary depends only on the set of events, so an event that
arrives twice or late (a status callback before the Enqueue action) changes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from .models import Outcome

TERMINAL_STATUSES = {"completed", "busy", "failed", "no-answer", "canceled"}
FAILED_STATUSES = {"busy", "failed", "no-answer", "canceled"}
BRIDGED_RESULTS = {"bridged", "bridging-in-process"}
# Bookkeeping that arrives after the call (recording callbacks, fetch failures): not a step
# the caller took, so it must not become the call's last step.
AFTER_CALL_KINDS = {"recording", "recording_failed"}


class EventLike(Protocol):
    @property
    def kind(self) -> str: ...
    @property
    def occurred_at(self) -> dt.datetime: ...
    @property
    def sequence(self) -> int | None: ...
    @property
    def event_id(self) -> str: ...
    @property
    def data(self) -> dict[str, Any]: ...


@dataclass
class Summary:
    call_sid: str
    hotline_number: str | None = None
    caller_number: str | None = None
    caller_hash: str | None = None
    caller_country: str | None = None
    caller_withheld: bool = False
    language: str | None = None
    urgent: bool = False
    started_at: dt.datetime | None = None
    queued_at: dt.datetime | None = None
    answered_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None
    wait_seconds: int | None = None
    talk_seconds: int | None = None
    outcome: str | None = None
    last_step: str | None = None
    counselor_id: int | None = None
    counselor_call_sid: str | None = None


def summarize(call_sid: str, events: Iterable[EventLike]) -> Summary:
    ordered = sorted(events, key=lambda e: (e.occurred_at, e.sequence or 0, e.event_id))
    s = Summary(call_sid=call_sid)
    if not ordered:
        return s
    s.started_at = ordered[0].occurred_at
    steps = [e.kind for e in ordered if e.kind not in AFTER_CALL_KINDS]
    s.last_step = steps[-1] if steps else ordered[-1].kind
    kinds = {e.kind for e in ordered}
    left_queue_time: int | None = None
    bridged_by_queue = False
    queue_left_at: dt.datetime | None = None
    end_by_status: dt.datetime | None = None
    end_other: dt.datetime | None = None
    failed_status = False
    legs: dict[str, str] = {}
    accepted_offer: str | None = None

    for e in ordered:
        d = e.data
        if e.kind == "incoming":
            s.started_at = min(s.started_at, e.occurred_at)
            s.hotline_number = _str(d.get("to"))
            s.caller_number = _str(d.get("from"))
            s.caller_hash = _str(d.get("caller_hash"))
            s.caller_country = _str(d.get("region"))
            s.caller_withheld = bool(d.get("withheld"))
        elif e.kind == "language_chosen":
            s.language = _str(d.get("language"))
        elif e.kind == "marked_urgent":
            s.urgent = True
        elif e.kind == "queued":
            if s.queued_at is None:
                s.queued_at = e.occurred_at
            s.language = s.language or _str(d.get("language"))
            s.urgent = s.urgent or bool(d.get("urgent"))
        elif e.kind == "offered" and d.get("offer_id") and d.get("leg_sid"):
            legs[str(d["offer_id"])] = str(d["leg_sid"])
        elif e.kind in ("counselor_accepted", "bridged"):
            if isinstance(d.get("counselor_id"), int):
                s.counselor_id = d["counselor_id"]
            accepted_offer = str(d.get("offer_id") or accepted_offer or "") or None
            if e.kind == "bridged" and s.answered_at is None:
                s.answered_at = e.occurred_at
        elif e.kind == "left_queue":
            queue_left_at = e.occurred_at
            qt = d.get("queue_time")
            left_queue_time = int(qt) if isinstance(qt, int | float) and qt >= 0 else None
            if d.get("result") in BRIDGED_RESULTS:
                bridged_by_queue = True
            elif d.get("result") == "hangup":
                end_other = end_other or e.occurred_at
        elif e.kind == "status":
            status = d.get("status")
            if status in TERMINAL_STATUSES:
                end_by_status = end_by_status or e.occurred_at
                failed_status = failed_status or status in FAILED_STATUSES
        elif e.kind in ("ended_by_flow", "safe_answer"):
            end_other = end_other or e.occurred_at

    if accepted_offer:
        s.counselor_call_sid = legs.get(accepted_offer)
    if s.answered_at is None and bridged_by_queue and s.queued_at is not None:
        # The Enqueue action of a bridged call arrives when the talk is over; QueueTime says
        # when the bridge happened.
        s.answered_at = s.queued_at + dt.timedelta(seconds=left_queue_time or 0)
    s.ended_at = end_by_status or end_other
    if s.queued_at is not None:
        if left_queue_time is not None:
            s.wait_seconds = left_queue_time
        elif s.answered_at is not None:
            s.wait_seconds = _seconds(s.queued_at, s.answered_at)
        elif queue_left_at is not None or s.ended_at is not None:
            s.wait_seconds = _seconds(s.queued_at, queue_left_at or s.ended_at)
    if s.answered_at is not None and s.ended_at is not None:
        s.talk_seconds = _seconds(s.answered_at, s.ended_at)

    if s.answered_at is not None:
        s.outcome = Outcome.ANSWERED
    elif "voicemail" in kinds:
        s.outcome = Outcome.VOICEMAIL
    elif "callback_requested" in kinds:
        s.outcome = Outcome.CALLBACK_REQUESTED
    elif "safe_answer" in kinds or "fallback" in kinds or failed_status:
        s.outcome = Outcome.FAILED
    elif "overflow" in kinds:
        s.outcome = Outcome.OVERFLOW
    elif "after_hours" in kinds:
        s.outcome = Outcome.AFTER_HOURS
    elif s.ended_at is not None:
        s.outcome = Outcome.ABANDONED_QUEUE if s.queued_at else Outcome.ABANDONED_IVR
    if s.outcome is not None:
        s.outcome = str(s.outcome)
    return s


def _seconds(start: dt.datetime, end: dt.datetime | None) -> int | None:
    if end is None:
        return None
    return max(0, round((end - start).total_seconds()))


def _str(value: object) -> str | None:
    return str(value) if value not in (None, "") else None
