"""The web dashboard for managers and counselors: `/login`, `/logout` and `/dashboard/...`.

One blueprint; its views live in modules named for what they show and are thin: the figures
come from :mod:`hotline.stats`, the call log from :mod:`hotline.callsearch` and
:mod:`hotline.export`, shifts from :mod:`hotline.counselors` and :mod:`hotline.schedule`.
"""

from __future__ import annotations

import datetime as dt

from flask import Flask

from .core import bp


def init_app(app: Flask) -> None:
    app.config.update(
        SESSION_COOKIE_NAME="hotline_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=str(app.config.get("HOTLINE_PUBLIC_URL", "")).startswith("https:"),
        PERMANENT_SESSION_LIFETIME=dt.timedelta(hours=12),
    )
    # Importing the view modules adds their routes to the blueprint (once per process).
    from . import (  # noqa: F401
        views_auth,
        views_callbacks,
        views_calls,
        views_counselor,
        views_jobs,
        views_roster,
        views_stats,
    )

    app.register_blueprint(bp)
