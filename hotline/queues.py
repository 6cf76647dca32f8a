"""Redis and the RQ queues, set up when the app factory runs (no connection at import)."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import redis
from rq import Queue, Retry

from .events import EventSink

if TYPE_CHECKING:
    from flask import Flask

log = logging.getLogger(__name__)

EVENTS_QUEUE = "hotline-events"
ROUTING_QUEUE = "hotline-routing"
TASKS_QUEUE = "hotline-tasks"  # recordings, retention: slow work kept apart from the event log
# Routing first: a caller waiting for a counselor matters more than the log being current.
QUEUE_NAMES = (ROUTING_QUEUE, EVENTS_QUEUE, TASKS_QUEUE)
# A failed drain is retried with backoff while the database is away.
DRAIN_RETRY = Retry(max=12, interval=[1, 2, 5, 10, 20, 30, 60, 120, 300, 300, 600, 600])
# Twilio busy or unreachable, or a bad download: back off for about a day in all.
FETCH_RETRY = Retry(max=10, interval=[10, 30, 60, 120, 300, 600, 1800, 3600, 3600, 3600])
FAILURE_TTL = 14 * 24 * 3600

_fake_server: Any = None
_fake_lock = threading.Lock()


def fake_server() -> Any:
    """One in-process Redis stand-in per process, shared by the server and its worker."""
    global _fake_server
    with _fake_lock:
        if _fake_server is None:
            import fakeredis

            _fake_server = fakeredis.FakeServer()
        return _fake_server


def reset_fake_server() -> None:
    """Tests: a clean stand-in for each test."""
    global _fake_server
    with _fake_lock:
        _fake_server = None


def connect(url: str | None, *, for_web: bool) -> redis.Redis:
    if not url:
        import fakeredis

        return fakeredis.FakeRedis(server=fake_server())
    if for_web:
        # A webhook must answer the caller even when Redis is gone: fail fast, then spool.
        return redis.Redis.from_url(
            url, socket_connect_timeout=0.3, socket_timeout=0.5, retry_on_timeout=False
        )
    return redis.Redis.from_url(
        url, socket_connect_timeout=5, socket_timeout=30, health_check_interval=30
    )


def queue(connection: redis.Redis, name: str = EVENTS_QUEUE) -> Queue:
    return Queue(name, connection=connection)


def enqueue_drain(connection: redis.Redis) -> None:
    queue(connection).enqueue(
        "hotline.jobs.drain_events", retry=DRAIN_RETRY, failure_ttl=FAILURE_TTL, result_ttl=60
    )


def fetch_job_id(recording_sid: str) -> str:
    return f"fetch-recording-{recording_sid}"


def enqueue_fetch_recording(connection: redis.Redis, recording_sid: str, call_sid: str) -> bool:
    """One job per recording: none if one is queued, running, scheduled or failed already
    (a failed one waits for `hotline jobs retry`). Two racing drains may both enqueue; the
    job is idempotent."""
    from rq.job import Job

    job_id = fetch_job_id(recording_sid)
    if Job.exists(job_id, connection=connection):
        return False
    queue(connection, TASKS_QUEUE).enqueue(
        "hotline.jobs.fetch_recording",
        recording_sid,
        call_sid,
        job_id=job_id,
        retry=FETCH_RETRY,
        failure_ttl=FAILURE_TTL,
        result_ttl=3600,
        job_timeout=600,
    )
    return True


def enqueue_retention(connection: redis.Redis) -> None:
    queue(connection, TASKS_QUEUE).enqueue(
        "hotline.jobs.run_retention",
        failure_ttl=FAILURE_TTL,
        result_ttl=24 * 3600,
        job_timeout=3600,
    )


def init_app(app: Flask) -> None:
    connection = connect(app.config["REDIS_URL"], for_web=True)
    spool = Path(app.config["HOTLINE_INSTANCE_PATH"]) / "spool"
    app.extensions["hotline.redis"] = connection
    app.extensions["hotline.events"] = EventSink(
        connection, spool, lambda: enqueue_drain(connection)
    )


def get_redis(app: Flask) -> redis.Redis:
    conn: redis.Redis = app.extensions["hotline.redis"]
    return conn


def get_events(app: Flask) -> EventSink:
    sink: EventSink = app.extensions["hotline.events"]
    return sink
