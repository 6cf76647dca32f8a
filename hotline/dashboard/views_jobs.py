"""Managers: the workers and their queues (what rq-dashboard would show), failed jobs
with retry and discard. Behind the manager login; exceptions shown scrubbed."""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, flash, redirect, url_for
from rq import Queue, Worker
from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry

from .. import jobfailures
from ..events import REDIS_DOWN, EventBuffer
from ..models import UserRole
from ..queues import QUEUE_NAMES, get_redis
from .core import audit, bp, db, page, require, t

MANAGER = UserRole.MANAGER.value


def _secrets() -> list[str]:
    config = current_app.config
    return [config["TWILIO_AUTH_TOKEN"], config["HOTLINE_NUMBER_HASH_KEY"], config["SECRET_KEY"]]


@bp.get("/dashboard/jobs")
@require(MANAGER)
def jobs() -> Any:
    connection = get_redis(current_app)
    try:
        queues = [
            {
                "name": name,
                "queued": Queue(name, connection=connection).count,
                "started": StartedJobRegistry(name, connection=connection).count,
                "scheduled": ScheduledJobRegistry(name, connection=connection).count,
                "failed": FailedJobRegistry(name, connection=connection).count,
            }
            for name in QUEUE_NAMES
        ]
        workers = [
            {
                "name": w.name,
                "state": w.get_state(),
                "queues": ", ".join(w.queue_names()),
                "job": (w.get_current_job_id() or "—"),
                "heartbeat": w.last_heartbeat,
            }
            for w in Worker.all(connection=connection)
        ]
        buffer = EventBuffer(connection)
        events = {"pending": buffer.pending(), "claimed": buffer.claimed()}
        failed = jobfailures.failed(connection, _secrets())
    except REDIS_DOWN:
        return page("jobs.html", 503, unreachable=True, queues=[], workers=[], events={}, failed=[])
    return page(
        "jobs.html", unreachable=False, queues=queues, workers=workers, events=events, failed=failed
    )


def _act(job_id: str, action: str) -> Any:
    if len(job_id) > 100:
        abort(404)
    connection = get_redis(current_app)
    done = (jobfailures.retry if action == "retry" else jobfailures.discard)(connection, job_id)
    if not done:
        abort(404)
    audit(f"job_{action}", "job", job_id)
    db().commit()
    flash(t(f"job_{action}_done"))
    return redirect(url_for("dashboard.jobs"))


@bp.post("/dashboard/jobs/<job_id>/retry")
@require(MANAGER)
def retry_job(job_id: str) -> Any:
    return _act(job_id, "retry")


@bp.post("/dashboard/jobs/<job_id>/discard")
@require(MANAGER)
def discard_job(job_id: str) -> Any:
    return _act(job_id, "discard")
