"""Managers: counselors and their shifts, the weekly on-call calendar, users, the audit log."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from flask import abort, current_app, flash, redirect, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..counselors import (
    LANGUAGES,
    RosterError,
    RosterErrors,
    counselor_to_spec,
    format_overrides,
    format_shifts,
    import_roster,
    parse_roster,
    roster_entries,
)
from ..models import AuditEntry, Counselor, User, UserRole
from ..phone import mask
from ..schedule import coverage
from .core import audit, bp, db, page, require, t, tz
from .forms import parse_date
from .passwords import hash_password

MANAGER = UserRole.MANAGER.value


def _form_text(name: str) -> str:
    value = request.form.get(name, "").strip()
    return "" if value.lower() in ("none", "无") else value


def _spec_from_form(phone: str) -> Any:
    """Parse the form with the roster file's own rules (so errors read the same)."""
    item = {
        "name": request.form.get("name", ""),
        "phone": phone,
        "languages": request.form.getlist("languages"),
        "timezone": request.form.get("timezone", "").strip() or None,
        "shifts": _form_text("shifts") or None,
        "overrides": _form_text("overrides") or None,
    }
    # JSON is YAML, and quotes every string: no YAML surprises from what was typed.
    [spec] = parse_roster(json.dumps({"counselors": [item]}), "form")
    return spec


def _errors(exc: RosterError) -> list[str]:
    errors = exc.errors if isinstance(exc, RosterErrors) else [exc]
    return [f"{e.field}: {e.problem}" if e.field else e.problem for e in errors]


@bp.get("/dashboard/counselors")
@require(MANAGER)
def counselors() -> Any:
    rows = db().scalars(
        select(Counselor)
        .options(selectinload(Counselor.shifts), selectinload(Counselor.overrides))
        .order_by(Counselor.active.desc(), Counselor.name)
    )
    listed = []
    for c in rows:
        try:
            spec = counselor_to_spec(c)
            shifts, overrides = format_shifts(spec.shifts), format_overrides(spec.overrides)
        except ValueError:
            shifts, overrides = "?", "?"
        listed.append({"c": c, "phone": mask(c.phone), "shifts": shifts, "overrides": overrides})
    return page("counselors.html", counselors=listed)


def _form_page(counselor: Counselor | None, errors: list[str], status: int = 200) -> Any:
    values: dict[str, Any] = {"name": "", "languages": [], "timezone": "Asia/Shanghai"}
    values.update({"shifts": "", "overrides": ""})
    if counselor is not None:
        spec = counselor_to_spec(counselor)
        values = {
            "name": spec.name,
            "languages": list(spec.languages),
            "timezone": spec.timezone,
            "shifts": format_shifts(spec.shifts),
            "overrides": format_overrides(spec.overrides),
        }
    if request.method == "POST":
        values = {
            "name": request.form.get("name", ""),
            "languages": request.form.getlist("languages"),
            "timezone": request.form.get("timezone", ""),
            "shifts": request.form.get("shifts", ""),
            "overrides": request.form.get("overrides", ""),
        }
    return page(
        "counselor_form.html",
        status,
        counselor=counselor,
        masked_phone=mask(counselor.phone) if counselor else None,
        values=values,
        errors=errors,
        all_languages=LANGUAGES,
    )


@bp.route("/dashboard/counselors/new", methods=["GET", "POST"])
@require(MANAGER)
def counselor_new() -> Any:
    if request.method == "GET":
        return _form_page(None, [])
    try:
        spec = _spec_from_form(request.form.get("phone", ""))
    except RosterError as exc:
        return _form_page(None, _errors(exc), 400)
    if db().scalars(select(Counselor).where(Counselor.phone == spec.phone)).first():
        return _form_page(None, [f"phone: {mask(spec.phone)} is already a counselor's"], 400)
    import_roster(db(), [spec])
    created = db().scalars(select(Counselor).where(Counselor.phone == spec.phone)).one()
    audit("create_counselor", "counselor", created.id, name=spec.name, phone=mask(spec.phone))
    db().commit()
    flash(t("saved"))
    return redirect(url_for("dashboard.counselors"))


@bp.route("/dashboard/counselors/<int:counselor_id>", methods=["GET", "POST"])
@require(MANAGER)
def counselor_edit(counselor_id: int) -> Any:
    counselor = db().get(Counselor, counselor_id)
    if counselor is None:
        abort(404)
    if request.method == "GET":
        return _form_page(counselor, [])
    # An empty phone field keeps the number: the form never shows it in full.
    try:
        spec = _spec_from_form(request.form.get("phone", "").strip() or counselor.phone)
    except RosterError as exc:
        return _form_page(counselor, _errors(exc), 400)
    if spec.phone != counselor.phone:
        if db().scalars(select(Counselor).where(Counselor.phone == spec.phone)).first():
            return _form_page(
                counselor, [f"phone: {mask(spec.phone)} is already a counselor's"], 400
            )
        counselor.phone = spec.phone
        db().flush()
    [change] = import_roster(db(), [spec])
    audit("update_counselor", "counselor", counselor.id, changes=change.details)
    db().commit()
    flash(t("saved"))
    return redirect(url_for("dashboard.counselors"))


@bp.post("/dashboard/counselors/<int:counselor_id>/active")
@require(MANAGER)
def counselor_active(counselor_id: int) -> Any:
    counselor = db().get(Counselor, counselor_id)
    if counselor is None:
        abort(404)
    counselor.active = request.form.get("active") == "1"
    audit(
        "activate_counselor" if counselor.active else "deactivate_counselor",
        "counselor",
        counselor.id,
    )
    db().commit()
    return redirect(url_for("dashboard.counselors"))


@bp.get("/dashboard/schedule")
@require(MANAGER)
def schedule() -> Any:
    zone = tz()
    today = dt.datetime.now(zone).date()
    first = parse_date(request.args.get("week")) or today
    first -= dt.timedelta(days=first.weekday())  # the Monday of that week
    start = dt.datetime.combine(first, dt.time(0), tzinfo=zone)
    end = start + dt.timedelta(days=7)
    entries = roster_entries(db())
    grids = []
    for language in LANGUAGES:
        slots = coverage(entries, start, end, language, step=dt.timedelta(minutes=30))
        # One cell per hour, showing the fewest on call in either half hour.
        cells = [[0] * 24 for _ in range(7)]
        for i in range(0, len(slots) - 1, 2):
            at = slots[i][0].astimezone(zone)
            cells[at.weekday()][at.hour] = min(slots[i][1], slots[i + 1][1])
        gaps: list[tuple[dt.datetime, dt.datetime]] = []
        for at, count in slots:
            if count == 0:
                if gaps and gaps[-1][1] == at:
                    gaps[-1] = (gaps[-1][0], at + dt.timedelta(minutes=30))
                else:
                    gaps.append((at, at + dt.timedelta(minutes=30)))
        grids.append({"language": language, "cells": cells, "gaps": gaps})
    return page(
        "schedule.html",
        grids=grids,
        week=first,
        prev_week=first - dt.timedelta(days=7),
        next_week=first + dt.timedelta(days=7),
    )


@bp.route("/dashboard/users", methods=["GET", "POST"])
@require(MANAGER)
def users() -> Any:
    errors: list[str] = []
    status = 200
    if request.method == "POST":
        email = request.form.get("email", "").strip().lower()
        role = request.form.get("role", "")
        password = request.form.get("password", "")
        counselor_text = request.form.get("counselor_id", "")
        counselor_id = int(counselor_text) if counselor_text.isdigit() else None
        if "@" not in email or len(email) > 254:
            errors.append("email: not an email address")
        if role not in (r.value for r in UserRole):
            errors.append("role: unknown")
        if len(password) < 10:
            errors.append("password: at least 10 characters")
        if role == UserRole.COUNSELOR and (
            counselor_id is None or db().get(Counselor, counselor_id) is None
        ):
            errors.append("counselor: choose the counselor this user is")
        if db().scalars(select(User).where(User.email == email)).first():
            errors.append("email: already a user")
        if errors:
            status = 400
        else:
            cheap = bool(current_app.config.get("HOTLINE_DASHBOARD_CHEAP_HASHES"))
            user = User(
                email=email,
                role=role,
                password_hash=hash_password(password, cheap=cheap),
                counselor_id=counselor_id if role == UserRole.COUNSELOR else None,
            )
            db().add(user)
            db().flush()
            audit("create_user", "user", user.id, email=email, role=role)
            db().commit()
            flash(t("saved"))
            return redirect(url_for("dashboard.users"))
    return page(
        "users.html",
        status,
        users=list(db().scalars(select(User).order_by(User.email))),
        counselors=list(db().scalars(select(Counselor).order_by(Counselor.name))),
        errors=errors,
    )


@bp.get("/dashboard/audit")
@require(MANAGER)
def audit_log() -> Any:
    q = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(201)
    before = request.args.get("before", "")
    if before.isascii() and before.isdigit():
        q = q.where(AuditEntry.id < int(before))
    entries = list(db().scalars(q))
    older = entries[199].id if len(entries) > 200 else None  # the id of the last shown
    return page("audit.html", entries=entries[:200], older=older)
