"""Managers: callbacks callers asked for (how many wait, are done, failed), with reschedule
and cancel. Behind the manager login, CSRF-checked, audited; numbers always masked."""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import Any

from flask import abort, current_app, flash, redirect, request, url_for
from sqlalchemy import func, select

from ..callbacks.limits import clear_pending
from ..callbacks.store import CallbackError, cancel, reschedule
from ..events import REDIS_DOWN
from ..models import Callback, CallbackStatus, UserRole
from ..phone import mask
from ..queues import get_redis
from .core import audit, bp, db, page, require, t, tz

MANAGER = UserRole.MANAGER.value
STATUSES = [s.value for s in CallbackStatus]
LISTED = 200


@bp.get("/dashboard/callbacks")
@require(MANAGER)
def callbacks() -> Any:
    status = request.args.get("status", "")
    counts = dict(
        db().execute(select(Callback.status, func.count()).group_by(Callback.status)).all()
    )
    query = select(Callback).order_by(Callback.next_attempt_at.is_(None), Callback.id.desc())
    if status in STATUSES:
        query = query.where(Callback.status == status)
    rows = [
        {
            "id": c.id,
            "status": c.status,
            "number": mask(c.number) if c.number else "—",
            "language": c.language,
            "requested": c.requested_at.astimezone(tz()),
            "due": c.next_attempt_at.astimezone(tz()) if c.next_attempt_at else None,
            "attempts": c.attempts,
            "outcome": c.last_outcome or "—",
            "changeable": c.status in ("pending", "scheduled", "failed"),
        }
        for c in db().scalars(query.limit(LISTED))
    ]
    return page(
        "callbacks.html",
        counts={s: counts.get(s, 0) for s in STATUSES},
        rows=rows,
        selected=status,
    )


@bp.post("/dashboard/callbacks/<int:callback_id>/reschedule")
@require(MANAGER)
def reschedule_callback(callback_id: int) -> Any:
    try:
        # The form's datetime-local is a wall-clock time of the hotline's time zone.
        at = dt.datetime.fromisoformat(request.form.get("at", "")).replace(tzinfo=tz())
    except ValueError:
        abort(400)
    try:
        row = reschedule(db(), callback_id, at)
    except CallbackError:
        abort(404 if db().get(Callback, callback_id) is None else 409)
    audit("callback_reschedule", "callback", row.id, at=at.isoformat())
    db().commit()
    flash(t("callback_rescheduled"))
    return redirect(url_for("dashboard.callbacks"))


@bp.post("/dashboard/callbacks/<int:callback_id>/cancel")
@require(MANAGER)
def cancel_callback(callback_id: int) -> Any:
    try:
        row = cancel(db(), callback_id)
    except CallbackError:
        abort(404 if db().get(Callback, callback_id) is None else 409)
    audit("callback_cancel", "callback", row.id)
    caller_hash = row.caller_hash
    db().commit()
    # The caller may ask again: a new request, not an update of the cancelled one. Redis
    # away: the flag expires on its own.
    with contextlib.suppress(REDIS_DOWN):
        clear_pending(get_redis(current_app), caller_hash)
    flash(t("callback_cancel_done"))
    return redirect(url_for("dashboard.callbacks"))
