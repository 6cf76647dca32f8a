"""RQ jobs: thin, named verb_noun, idempotent. Domain code does the work.

Jobs run in worker processes that build the app once (`hotline worker` binds it; a bare
`rq worker` builds it from the environment on first use).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING

import redis
from rq import get_current_job

from . import events as ev
from . import recordings
from .db import get_db
from .eventstore import refresh_calls, store_events

if TYPE_CHECKING:
    from flask import Flask

log = logging.getLogger(__name__)

BATCH = 500
CLAIM_TIMEOUT = 120.0  # a claim older than this belongs to a dead worker
MAX_JOB_SECONDS = 10.0

_app: Flask | None = None


def bind_app(app: Flask) -> None:
    global _app
    _app = app


def app() -> Flask:
    global _app
    if _app is None:
        from . import create_app

        _app = create_app()
    return _app


def _connection() -> redis.Redis:
    job = get_current_job()
    if job is not None:
        return job.connection
    conn: redis.Redis = app().extensions["hotline.redis"]
    return conn


def drain_events(batch: int = BATCH, max_seconds: float = MAX_JOB_SECONDS) -> int:
    """Move pending call events from Redis into the database, batch by batch."""
    buffer = ev.EventBuffer(_connection())
    buffer.reap(time.time() - CLAIM_TIMEOUT)
    db = get_db(app())
    written = 0
    started = time.monotonic()
    while True:
        claim_id, raw = buffer.claim(batch, time.time())
        if not raw:
            # Let the next webhook schedule a drain, then look once more so an event pushed
            # while the flag was still set is not left behind.
            buffer.release_drain_flag()
            if buffer.pending() == 0:
                return written
            continue
        parsed: list[ev.CallEventData] = []
        for item in raw:
            try:
                parsed.append(ev.CallEventData.from_json(item))
            except (ValueError, KeyError, TypeError) as exc:
                buffer.dead_letter(item, f"{type(exc).__name__}: {exc}")
        try:
            with db.session() as session:
                calls = store_events(session, parsed)
                refresh_calls(session, calls)
                to_fetch = recordings.not_stored(session, recordings.completed(parsed))
            # Before the claim is done: if this fails, the batch comes back and is retried.
            _enqueue_fetches(to_fetch)
        except BaseException:
            buffer.give_back(claim_id)
            raise
        buffer.done(claim_id)
        written += len(parsed)
        if time.monotonic() - started > max_seconds and buffer.pending():
            # Hand over to a fresh job so one long backlog cannot starve other queues.
            from .queues import enqueue_drain

            enqueue_drain(_connection())
            return written


def _enqueue_fetches(refs: list[recordings.RecordingRef]) -> None:
    from .queues import enqueue_fetch_recording

    for ref in refs:
        enqueue_fetch_recording(_connection(), ref.recording_sid, ref.call_sid)


def fetch_recording(recording_sid: str, call_sid: str | None = None) -> str:
    """Download a finished recording, store it, then delete Twilio's copy (if configured)."""
    from .telephony.recordings import delete_recording, download_wav, media_url
    from .telephony.rest import make_client

    config = app().config
    client = make_client(
        config["TWILIO_ACCOUNT_SID"], config["TWILIO_AUTH_TOKEN"], config["TWILIO_API_BASE_URL"]
    )

    def download(ref: recordings.RecordingRef) -> bytes:
        url = media_url(
            ref.url, ref.recording_sid, config["TWILIO_ACCOUNT_SID"], config["TWILIO_API_BASE_URL"]
        )
        return download_wav(client, url)

    outcome = recordings.fetch(
        get_db(app()),
        Path(config["HOTLINE_RECORDINGS_STORAGE"]),
        recordings.Twilio(download=download, delete=lambda sid: delete_recording(client, sid)),
        recording_sid,
        call_sid,
        delete_at_twilio=config["HOTLINE_DELETE_TWILIO_RECORDINGS"],
    )
    log.info("fetch_recording %s: %s", recording_sid, outcome)
    return outcome


def run_retention(dry_run: bool = False) -> dict[str, object]:
    """Remove recordings and caller numbers older than the configured limits."""
    from . import retention

    config = app().config
    report = retention.run(
        get_db(app()),
        Path(config["HOTLINE_RECORDINGS_STORAGE"]),
        recordings_days=config["HOTLINE_RETAIN_RECORDINGS_DAYS"],
        numbers_days=config["HOTLINE_RETAIN_NUMBERS_DAYS"],
        dry_run=dry_run,
    )
    return {"report": report.lines()}


RETENTION_LOCK = "hotline:retention:scheduled"
RETENTION_EVERY_SECONDS = 3600


def maintain_retention(connection: redis.Redis) -> bool:
    """Run by every worker's maintenance; the lock makes it once an hour in all."""
    if not connection.set(RETENTION_LOCK, "1", nx=True, ex=RETENTION_EVERY_SECONDS):
        return False
    from .queues import enqueue_retention

    enqueue_retention(connection)
    return True


def maintain_events(connection: redis.Redis) -> None:
    """Periodic safety net (run by the worker): bring back claims of dead workers and make
    sure a backlog always has a drain job, even if the job that was meant to drain it died."""
    buffer = ev.EventBuffer(connection)
    returned = buffer.reap(time.time() - CLAIM_TIMEOUT)
    if returned:
        log.warning("returned %d events claimed by a dead worker", returned)
    if buffer.pending() and connection.set(ev.DRAIN_FLAG, "1", nx=True, px=ev.DRAIN_FLAG_TTL_MS):
        from .queues import enqueue_drain

        enqueue_drain(connection)
