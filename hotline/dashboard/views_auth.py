"""Logging in and out, the language switch, and the landing page."""

from __future__ import annotations

import logging
import secrets
from typing import Any

from flask import current_app, redirect, request, session, url_for
from sqlalchemy import select

from ..db import utcnow
from ..models import User, UserRole
from . import i18n
from .core import audit, bp, current_user, db, lang, page, password_version, t
from .passwords import hash_password, needs_rehash, verify_password
from .ratelimit import LimiterUnavailable, LoginLimiter
from .security import safe_next

log = logging.getLogger(__name__)


def _limiter() -> LoginLimiter:
    return LoginLimiter(
        current_app.extensions["hotline.redis"], prefix=current_app.config["HOTLINE_QUEUE_PREFIX"]
    )


def _cheap() -> bool:
    return bool(current_app.config.get("HOTLINE_DASHBOARD_CHEAP_HASHES"))


def _home_for(user: User) -> str:
    if user.role == UserRole.MANAGER:
        return url_for("dashboard.calls")
    return url_for("dashboard.me")


@bp.get("/dashboard/")
def index() -> Any:
    user = current_user()
    if user is None:
        return redirect(url_for("dashboard.login"))
    return redirect(_home_for(user))


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    target = request.values.get("next")
    if request.method == "GET":
        user = current_user()
        if user is not None:
            return redirect(safe_next(target, _home_for(user)))
        return page("login.html", next=safe_next(target, ""))
    email = request.form.get("email", "").strip().lower()[:254]
    password = request.form.get("password", "")[:1024]
    address = request.remote_addr or "unknown"
    limiter = _limiter()
    try:
        if not limiter.allowed(email, address):
            log.warning("login throttled (address %s)", address)
            return page("login.html", 429, error=t("login_throttled"), next=safe_next(target, ""))
        user = db().scalars(select(User).where(User.email == email)).first()
        ok = verify_password(user.password_hash if user else None, password, cheap=_cheap())
        if user is None or not ok or not user.active:
            limiter.failed(email, address)
            return page("login.html", 401, error=t("login_failed"), next=safe_next(target, ""))
        limiter.succeeded(email, address)
    except LimiterUnavailable:
        log.error("login refused: Redis, which throttles logins, is not reachable")
        return page("login.html", 503, error=t("login_unavailable"), next=safe_next(target, ""))
    if needs_rehash(user.password_hash, cheap=_cheap()):
        user.password_hash = hash_password(password, cheap=_cheap())
    user.last_login_at = utcnow()
    # A new session from scratch: whatever a visitor (or an attacker who planted a cookie)
    # had in the old one does not carry over into the logged-in session.
    chosen_lang = lang()
    session.clear()
    session.permanent = True
    session["sid"] = secrets.token_urlsafe(16)
    session["uid"] = user.id
    session["pwv"] = password_version(user)
    session["lang"] = chosen_lang
    audit("login", "user", user.id)
    db().commit()
    return redirect(safe_next(target, _home_for(user)))


@bp.post("/logout")
def logout() -> Any:
    if current_user() is not None:
        audit("logout", "user", current_user().id)  # type: ignore[union-attr]
        db().commit()
    chosen_lang = lang()
    session.clear()
    session["lang"] = chosen_lang
    return redirect(url_for("dashboard.login"))


@bp.post("/lang")
def switch_language() -> Any:
    chosen = request.form.get("lang")
    session["lang"] = chosen if chosen in i18n.LANGS else i18n.DEFAULT
    return redirect(safe_next(request.form.get("next"), url_for("dashboard.index")))
