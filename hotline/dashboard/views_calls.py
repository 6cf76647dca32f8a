"""Managers: the call log, a call's detail (and revealing its number), the CSV export, and
the live board."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from flask import (
    Response,
    abort,
    current_app,
    jsonify,
    request,
    send_file,
    stream_with_context,
    url_for,
)
from sqlalchemy import func, select

from ..callsearch import LANGUAGES, SORTS, Cursor, iter_calls, search_calls
from ..db import get_db, utcnow
from ..events import REDIS_DOWN
from ..export import csv_lines
from ..models import Call, CallEvent, CallNote, Counselor, Outcome, Recording, UserRole
from ..phone import mask
from ..routing import get_board
from .core import audit, bp, db, page, require, tz
from .forms import call_filter

MANAGER = UserRole.MANAGER.value
# Event fields safe to show on the timeline (never the numbers in "incoming").
SAFE_EVENT_FIELDS = ("language", "digits", "status", "result", "queue_time", "urgent", "reason")
# A call queued longer ago than this without an end is a lost summary, not a waiting caller.
STALE_QUEUE = dt.timedelta(hours=4)


def _counselors() -> list[Counselor]:
    return list(db().scalars(select(Counselor).order_by(Counselor.name)))


@bp.get("/dashboard/calls")
@require(MANAGER)
def calls() -> Any:
    f = call_filter(request.args, tz())
    result = search_calls(db(), f, limit=50, cursor=Cursor.decode(request.args.get("after")))
    next_url = None
    if result.next_cursor is not None:
        args = {k: v for k, v in request.args.items() if k != "after"}
        next_url = url_for("dashboard.calls", after=result.next_cursor.encode(), **args)
    export_args = {k: v for k, v in request.args.items() if k not in ("after", "sort")}
    return page(
        "calls.html",
        calls=result.calls,
        mask=mask,
        args=request.args,
        languages=LANGUAGES,
        outcomes=[o.value for o in Outcome],
        sorts=SORTS,
        counselors=_counselors(),
        next_url=next_url,
        export_url=url_for("dashboard.calls_export", **export_args),
    )


@bp.get("/dashboard/calls/export.csv")
@require(MANAGER)
def calls_export() -> Response:
    f = call_filter(request.args, tz())
    audit("export_calls", "calls", None, filter={k: v for k, v in request.args.items()})
    db().commit()
    database = get_db()

    def generate() -> Iterator[str]:
        # Its own session: the request's is closed before a long download ends.
        with database.session() as session:
            yield from csv_lines(iter_calls(session, f))

    stamp = dt.datetime.now(tz()).strftime("%Y%m%d-%H%M")
    return Response(
        stream_with_context(generate()),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="calls-{stamp}.csv"'},
    )


def _detail(call_id: int, revealed: str | None = None) -> Any:
    call = db().get(Call, call_id)
    if call is None:
        abort(404)
    events = list(
        db().scalars(
            select(CallEvent)
            .where(CallEvent.call_sid == call.call_sid)
            .order_by(CallEvent.occurred_at, CallEvent.sequence, CallEvent.id)
        )
    )
    timeline = []
    previous: dt.datetime | None = None
    for e in events:
        gap = (e.occurred_at - previous).total_seconds() if previous else None
        details = {k: e.data[k] for k in SAFE_EVENT_FIELDS if k in (e.data or {})}
        timeline.append({"at": e.occurred_at, "kind": e.kind, "gap": gap, "details": details})
        previous = e.occurred_at
    callbacks = [item for item in timeline if item["kind"].startswith("callback")]
    note = db().scalars(select(CallNote).where(CallNote.call_id == call.id)).first()
    recordings = list(
        db().scalars(
            select(Recording).where(Recording.call_sid == call.call_sid).order_by(Recording.id)
        )
    )
    return page(
        "call.html",
        call=call,
        masked=mask(call.caller_number),
        revealed=revealed,
        timeline=timeline,
        callbacks=callbacks,
        note=note,
        recordings=recordings,
    )


@bp.get("/dashboard/calls/<int:call_id>")
@require(MANAGER)
def call_detail(call_id: int) -> Any:
    return _detail(call_id)


@bp.get("/dashboard/recordings/<int:recording_id>")
@require(MANAGER)
def play_recording(recording_id: int) -> Any:
    """A caller's voice: streamed by the app (never a public URL), and every listen is in
    the audit log."""
    recording = db().get(Recording, recording_id)
    if recording is None or recording.deleted_at is not None:
        abort(404)
    root = Path(current_app.config["HOTLINE_RECORDINGS_STORAGE"]).resolve()
    path = (root / recording.path).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        abort(404)
    audit("play_recording", "recording", recording.recording_sid, call=recording.call_sid)
    db().commit()
    response = send_file(path, mimetype="audio/wav", conditional=True, max_age=0)
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.post("/dashboard/calls/<int:call_id>/reveal")
@require(MANAGER)
def reveal_number(call_id: int) -> Any:
    call = db().get(Call, call_id)
    if call is None:
        abort(404)
    audit("reveal_number", "call", call.call_sid, masked=mask(call.caller_number))
    db().commit()
    return _detail(call_id, revealed=call.caller_number or "—")


@bp.get("/dashboard/live")
@require(MANAGER)
def live() -> Any:
    return page("live.html", languages=LANGUAGES)


@bp.get("/dashboard/live.json")
@require(MANAGER)
def live_json() -> Response:
    now = utcnow()
    waiting = db().execute(
        select(Call.language, func.count(), func.min(Call.queued_at))
        .where(
            Call.queued_at.is_not(None),
            Call.answered_at.is_(None),
            Call.ended_at.is_(None),
            Call.queued_at > now - STALE_QUEUE,
        )
        .group_by(Call.language)
    )
    queues = {lang: {"language": lang, "waiting": 0, "longest_wait": 0} for lang in LANGUAGES}
    for language, count, oldest in waiting:
        key = language or "none"
        queues[key] = {
            "language": key,
            "waiting": int(count),
            "longest_wait": max(0, round((now - oldest).total_seconds())) if oldest else 0,
        }
    counselors = [
        {
            "id": c.id,
            "name": c.name,
            "state": c.state,
            "in_state": round((now - c.state_since).total_seconds()) if c.state_since else None,
            "languages": c.languages,
        }
        for c in db().scalars(
            select(Counselor).where(Counselor.active.is_(True)).order_by(Counselor.name)
        )
    ]
    _overlay_routing_board(queues, counselors, now)
    return jsonify(
        {"now": now.isoformat(), "queues": list(queues.values()), "counselors": counselors}
    )


def _overlay_routing_board(
    queues: dict[str, dict[str, Any]], counselors: list[dict[str, Any]], now: dt.datetime
) -> None:
    """The routing board in Redis is what is happening this second (who is being offered a
    call, who is talking); the call log lags behind by a worker's batch, and the board may
    have lost a caller for one round of hold music after a Redis restart. Show the larger
    of the two queue figures, and the board's counselor states when it answers."""
    try:
        board = get_board(current_app)
        for lang in queues:
            if lang == "none":
                continue
            waiting, longest = board.queue_snapshot(lang, now.timestamp())
            queues[lang]["waiting"] = max(queues[lang]["waiting"], waiting)
            queues[lang]["longest_wait"] = max(queues[lang]["longest_wait"], round(longest))
        live = board.counselors()
    except REDIS_DOWN:
        return
    for entry in counselors:
        state = live.get(entry["id"])
        if state and state.get("state"):
            entry["state"] = state["state"]
            since = float(state.get("since") or 0)
            entry["in_state"] = round(now.timestamp() - since) if since else entry["in_state"]
