"""The blueprint and what every view shares: the database session, the logged-in user,
role checks, CSRF, security headers, the language, time formatting and the audit log."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from sqlalchemy.orm import Session

from ..db import get_db
from ..models import AuditEntry, User
from . import i18n
from .security import add_security_headers, csrf_token, csrf_valid

bp = Blueprint(
    "dashboard",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/dashboard/static",
)

F = TypeVar("F", bound=Callable[..., Any])


def db() -> Session:
    if "dashboard_db" not in g:
        g.dashboard_db = get_db().sessions()
    session_: Session = g.dashboard_db
    return session_


@bp.teardown_app_request
def _close_db(_exc: BaseException | None) -> None:
    s = g.pop("dashboard_db", None)
    if s is not None:
        s.close()


def password_version(user: User) -> str:
    # Stored in the session: changing the password ends every other session of that user.
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def current_user() -> User | None:
    if "user" not in g:
        g.user = None
        uid = session.get("uid")
        if isinstance(uid, int):
            user = db().get(User, uid)
            if user is not None and user.active and session.get("pwv") == password_version(user):
                g.user = user
            else:
                session.clear()
    user: User | None = g.user
    return user


def lang() -> str:
    value = session.get("lang")
    return value if value in i18n.LANGS else i18n.DEFAULT


def t(key: str) -> str:
    return i18n.translate(lang(), key)


def tz() -> ZoneInfo:
    return ZoneInfo(current_app.config.get("HOTLINE_TIMEZONE") or "Asia/Shanghai")


def local(value: dt.datetime | None, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    return value.astimezone(tz()).strftime(fmt) if value is not None else "—"


def seconds(value: float | int | None) -> str:
    if value is None:
        return "—"
    total = round(value)
    minutes, secs = divmod(total, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def require(*roles: str) -> Callable[[F], F]:
    """Anonymous: to the login page (and back after). Logged in with another role: 403."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            user = current_user()
            if user is None:
                target = request.full_path.rstrip("?") if request.method == "GET" else None
                return redirect(url_for("dashboard.login", next=target))
            if user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorate


def audit(
    action: str, target_type: str | None = None, target_id: object = None, **detail: Any
) -> None:
    """Add an audit entry to the request's session (the view commits). No unmasked numbers."""
    user = current_user()
    db().add(
        AuditEntry(
            user_id=user.id if user else None,
            actor=user.email if user else "anonymous",
            action=action,
            target_type=target_type,
            target_id=None if target_id is None else str(target_id),
            detail=detail,
        )
    )


def page(template: str, status: int = 200, **context: Any) -> tuple[str, int]:
    return render_template(f"dashboard/{template}", **context), status


@bp.before_request
def _check_request() -> Any:
    # No text column takes NUL (PostgreSQL refuses it): stop it at the door, not with a 500.
    if any("\x00" in v for v in request.values.values()):
        abort(400)
    if request.method == "POST":
        submitted = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token")
        if not csrf_valid(submitted):
            return page("error.html", 400, message=t("csrf_failed"))
    return None


@bp.after_request
def _headers(response: Response) -> Response:
    return add_security_headers(response)


@bp.app_context_processor
def _template_helpers() -> dict[str, Any]:
    return {
        "t": t,
        "lang": lang,
        "csrf_token": csrf_token,
        "local": local,
        "seconds": seconds,
        "percent": percent,
        "current_user": current_user,
    }


@bp.errorhandler(403)
def _forbidden(_exc: Exception) -> tuple[str, int]:
    return page("error.html", 403, message=t("forbidden"))


@bp.errorhandler(404)
def _not_found(_exc: Exception) -> tuple[str, int]:
    return page("error.html", 404, message=t("not_found"))
