"""Health endpoints for load balancers and orchestrators.

`/healthz` says the process answers (no I/O, so a slow database never gets a healthy web
process killed); `/readyz` says it can serve calls: the database answers, Redis answers,
the flows are loaded. A failure names the check and the kind of error, never a URL or a
message that could carry a password.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from flask import Blueprint, Flask, Response, current_app, jsonify
from sqlalchemy import text

from .db import get_db
from .queues import get_redis

log = logging.getLogger(__name__)

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    return jsonify(status="ok")


def _database() -> None:
    with get_db(current_app).engine.connect() as conn:
        conn.execute(text("SELECT 1"))


def _redis() -> None:
    if not get_redis(current_app).ping():
        raise RuntimeError("no PONG")


def _flows() -> None:
    flows = current_app.extensions.get("hotline.flows")
    if flows is None or not flows.flows:
        raise RuntimeError("no flows loaded")


CHECKS: dict[str, Callable[[], None]] = {
    "database": _database,
    "redis": _redis,
    "flows": _flows,
}


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    results: dict[str, dict[str, object]] = {}
    ready = True
    for name, check in CHECKS.items():
        started = time.perf_counter()
        try:
            check()
            result: dict[str, object] = {"ok": True}
        except Exception as exc:
            ready = False
            # The class only: messages of drivers quote URLs, hosts and sometimes passwords.
            result = {"ok": False, "error": type(exc).__name__}
            log.warning("readiness check %s failed: %s", name, type(exc).__name__)
        result["ms"] = round((time.perf_counter() - started) * 1000, 1)
        results[name] = result
    failed = [name for name, r in results.items() if not r["ok"]]
    body = {"status": "ok" if ready else "fail", "failed": failed, "checks": results}
    return jsonify(body), 200 if ready else 503


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
