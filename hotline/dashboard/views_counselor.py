"""Counselors: their schedule, the available / away switch, their recent calls and notes."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any
from zoneinfo import ZoneInfo

from flask import abort, current_app, flash, redirect, request, url_for
from sqlalchemy import select

from ..counselors import counselor_to_spec, format_overrides, format_shifts, roster_entries
from ..db import utcnow
from ..events import REDIS_DOWN
from ..models import Call, CallNote, Counselor, CounselorState, NoteCategory, RiskLevel, UserRole
from ..phone import mask
from ..routing import set_presence
from ..schedule import shift_windows
from .core import audit, bp, current_user, db, page, require, t

log = logging.getLogger(__name__)
COUNSELOR = UserRole.COUNSELOR.value
SWITCHABLE = {CounselorState.AVAILABLE.value, CounselorState.AWAY.value}
# A counselor offered or on a call changes state through routing, not this switch.
ON_A_CALL = {CounselorState.OFFERED.value, CounselorState.BUSY.value}
NOTE_MAX = 4000


def _me() -> Counselor:
    user = current_user()
    counselor = db().get(Counselor, user.counselor_id) if user and user.counselor_id else None
    if counselor is None:
        abort(403)  # a counselor account not linked to a counselor sees nothing
    return counselor


@bp.get("/dashboard/me")
@require(COUNSELOR)
def me() -> Any:
    counselor = _me()
    spec = counselor_to_spec(counselor)
    zone = ZoneInfo(counselor.timezone)
    entry = next((e for e in roster_entries(db()) if e.counselor_id == counselor.id), None)
    upcoming = []
    if entry is not None:
        today = dt.datetime.now(zone).date()
        for offset in range(8):
            for start, end in shift_windows(entry, today + dt.timedelta(days=offset)):
                if end > utcnow():
                    upcoming.append((start.astimezone(zone), end.astimezone(zone)))
    recent = list(
        db().scalars(
            select(Call)
            .where(Call.counselor_id == counselor.id)
            .order_by(Call.started_at.desc(), Call.id.desc())
            .limit(20)
        )
    )
    noted = set(
        db().scalars(select(CallNote.call_id).where(CallNote.call_id.in_([c.id for c in recent])))
    )
    return page(
        "me.html",
        counselor=counselor,
        shifts=format_shifts(spec.shifts),
        overrides=format_overrides(spec.overrides),
        upcoming=upcoming,
        recent=recent,
        noted=noted,
        mask=mask,
    )


def _announce_presence(counselor_id: int, state: str) -> None:
    """Routing uses the switch at once (the worker's sync would catch up otherwise)."""
    try:
        set_presence(current_app, counselor_id, state)
    except REDIS_DOWN:
        log.warning("routing board unreachable; counselor %s presence syncs later", counselor_id)


@bp.post("/dashboard/me/state")
@require(COUNSELOR)
def set_state() -> Any:
    counselor = _me()
    state = request.form.get("state", "")
    if state not in SWITCHABLE:
        abort(400)
    if counselor.state in ON_A_CALL:
        flash(t("on_a_call"))
        return redirect(url_for("dashboard.me"))
    counselor.state = state
    audit("set_state", "counselor", counselor.id, state=state)
    db().commit()
    _announce_presence(counselor.id, state)
    return redirect(url_for("dashboard.me"))


@bp.route("/dashboard/me/calls/<int:call_id>/note", methods=["GET", "POST"])
@require(COUNSELOR)
def note(call_id: int) -> Any:
    counselor = _me()
    call = db().get(Call, call_id)
    if call is None:
        abort(404)
    if call.counselor_id != counselor.id:
        abort(403)  # only the counselor who took the call
    existing = db().scalars(select(CallNote).where(CallNote.call_id == call.id)).first()
    errors: list[str] = []
    if request.method == "POST":
        category = request.form.get("category", "")
        risk = request.form.get("risk", "")
        text = request.form.get("text", "")
        if category not in {c.value for c in NoteCategory}:
            errors.append(t("category"))
        if risk not in {r.value for r in RiskLevel}:
            errors.append(t("risk"))
        if len(text) > NOTE_MAX:
            errors.append(f"{t('text')} ≤ {NOTE_MAX}")
        if not errors:
            if existing is None:
                existing = CallNote(call_id=call.id, counselor_id=counselor.id)
                db().add(existing)
            existing.category = category
            existing.risk = risk
            existing.follow_up = request.form.get("follow_up") == "1"
            existing.text = text
            audit("write_note", "call", call.call_sid)
            db().commit()
            flash(t("saved"))
            return redirect(url_for("dashboard.me"))
    return page(
        "note.html",
        400 if errors else 200,
        call=call,
        masked=mask(call.caller_number),
        note=existing,
        errors=errors,
        categories=[c.value for c in NoteCategory],
        risks=[r.value for r in RiskLevel],
    )
