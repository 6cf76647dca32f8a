"""RQ jobs: thin, named verb_noun, idempotent. Domain code does the work.

Jobs run in worker processes that build the app once (`hotline worker` binds it; a bare
`rq worker` builds it from the environment on first use).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import redis
from rq import get_current_job

from . import events as ev
from . import recordings
from .callbacks.limits import set_pending
from .callbacks.store import record_requests
from .db import get_db, utcnow
from .eventstore import refresh_calls, store_events

if TYPE_CHECKING:
    from flask import Flask

log = logging.getLogger(__name__)

BATCH = 500
CLAIM_TIMEOUT = 120.0  # a claim older than this belongs to a dead worker
MAX_JOB_SECONDS = 10.0
OVERDUE_WRAP_UP_SECONDS = 5.0  # past its end, a wrap-up's timer job is taken to be lost

_app: Flask | None = None
_roster: Any = None


def bind_app(app: Flask) -> None:
    global _app, _roster
    if app is not _app:
        _roster = None  # the roster cache belongs to the app it was loaded from
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
                requested = record_requests(session, parsed)
                to_fetch = recordings.not_stored(session, recordings.completed(parsed))
            # Before the claim is done: if this fails, the batch comes back and is retried.
            _enqueue_fetches(to_fetch)
        except BaseException:
            buffer.give_back(claim_id)
            raise
        for caller_hash, callback_id in requested:
            # Lets the webhook say "updated" and skip the daily count for this number.
            set_pending(_connection(), caller_hash, callback_id)
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


# ---- routing ------------------------------------------------------------------------------


def roster_cache() -> Any:
    """Who works when, for this worker process (a cache, rebuilt every 30 s)."""
    global _roster
    if _roster is None:
        from sqlalchemy import select

        from .counselors import roster_entries
        from .models import Counselor
        from .routing.dispatch import RosterCache

        flask_app = app()

        def load() -> tuple[list[Any], dict[int, str]]:
            with get_db(flask_app).session() as session:
                entries = roster_entries(session)
                active = session.scalars(select(Counselor).where(Counselor.active))
                phones = {c.id: c.phone for c in active}
            return entries, phones

        _roster = RosterCache(load)
    return _roster


def _routing() -> tuple[Any, Any, Any]:
    """Board, dispatcher and settings for this worker process."""
    from .routing.board import Board
    from .routing.dispatch import Dispatcher, RoutingSettings
    from .telephony.rest import TwilioAdapter, make_client

    config = app().config
    connection = _connection()
    board = Board(connection)
    settings = RoutingSettings.from_config(dict(config))
    adapter = TwilioAdapter(
        make_client(
            config["TWILIO_ACCOUNT_SID"], config["TWILIO_AUTH_TOKEN"], config["TWILIO_API_BASE_URL"]
        )
    )
    dispatcher = Dispatcher(board, adapter, roster_cache(), settings, _emitter(connection))
    return board, dispatcher, settings


def _emitter(connection: redis.Redis) -> Any:
    from pathlib import Path

    from .queues import enqueue_drain

    sink = ev.EventSink(
        connection,
        Path(app().config["HOTLINE_INSTANCE_PATH"]) / "spool",
        lambda: enqueue_drain(connection),
    )

    def emit(call_sid: str, kind: str, data: dict[str, Any], discriminator: str) -> None:
        if call_sid.startswith("cb-"):
            from .callbacks.runner import log_call_sid

            with get_db(app()).session() as session:
                data = {**data, "callback": call_sid}
                call_sid = log_call_sid(session, call_sid)
        sink.emit([ev.make_event(call_sid, kind, data, utcnow(), discriminator=discriminator)])

    return emit


def match_callers(language: str) -> int:
    """Offer waiting callers of `language` to free on-call counselors."""
    from .routing import MATCH_FLAG

    connection = _connection()
    # Cleared first: a trigger that arrives while we work schedules another run.
    connection.delete(MATCH_FLAG + language)
    _, dispatcher, _ = _routing()
    return len(dispatcher.match(language))


def bridge_caller(offer_id: str) -> str:
    """The counselor pressed 1: take exactly the reserved caller out of the queue into
    their conference. If the caller has gone, tell the counselor and free them."""
    from .telephony.rest import NotFound, Rejected

    board, dispatcher, settings = _routing()
    offer = board.offer(offer_id)
    if not offer or offer.get("state") != "accepted":
        return "unknown offer"
    caller = board.caller(offer["sid"])
    try:
        if not caller.get("qsid"):
            raise NotFound("no queue known for the caller")
        dispatcher.adapter.dequeue(caller["qsid"], offer["sid"], settings.bridge_url(offer_id))
    except (NotFound, Rejected):
        if offer.get("leg"):
            dispatcher.adapter.redirect(offer["leg"], settings.gone_url(offer_id))
        board.call_ended(int(offer["cid"]), 0)
        board.wrapup_done(int(offer["cid"]))
        dispatcher.emit(
            offer["sid"],
            "bridge_failed",
            {"counselor_id": int(offer["cid"])},
            f"bridge-failed|{offer_id}",
        )
        return "caller gone"
    return "bridged"


def cancel_leg(leg_sid: str) -> None:
    """The caller hung up while the counselor's phone rang."""
    _, dispatcher, _ = _routing()
    dispatcher.adapter.hang_up(leg_sid)


def end_wrap_up(counselor_id: int) -> bool:
    """Wrap-up time is over: the counselor is available again, which may serve a caller."""
    from .routing import schedule_match

    board, _, _ = _routing()
    if not board.wrapup_done(counselor_id):
        _end_wrap_up_later(board, counselor_id)
        return False
    for language in board.counselor(counselor_id).get("langs", "").strip(",").split(","):
        if language:
            schedule_match(_connection(), language)
    return True


def _end_wrap_up_later(board: Any, counselor_id: int) -> None:
    """RQ keeps scheduled times in whole seconds (truncated), so this job may run up to a
    second before the wrap-up ends; without another try the counselor would stay in
    wrap-up for good (bench/load.py found most of them stuck there)."""
    import datetime as dt
    import math

    from rq import Queue

    from .queues import ROUTING_QUEUE

    state = board.counselor(counselor_id)
    if state.get("state") != "wrap_up":
        return
    remaining = float(state.get("wrap_until") or 0) - time.time()
    Queue(ROUTING_QUEUE, connection=_connection()).enqueue_in(
        dt.timedelta(seconds=max(1, math.ceil(remaining) + 1)),
        "hotline.jobs.end_wrap_up",
        counselor_id,
        result_ttl=60,
        failure_ttl=7 * 24 * 3600,
    )


def release_overdue_wrap_ups(board: Any, now: float) -> list[int]:
    """Safety net (worker maintenance): counselors whose wrap-up ended some time ago but
    who are still in it (their timer job was lost) are made available again."""
    freed = []
    for counselor_id, state in board.counselors().items():
        if state.get("state") != "wrap_up":
            continue
        overdue = float(state.get("wrap_until") or 0) < now - OVERDUE_WRAP_UP_SECONDS
        if overdue and board.wrapup_done(counselor_id, now=now):
            freed.append(counselor_id)
    return freed


def sync_routing(connection: redis.Redis) -> None:
    """Periodic (worker maintenance): put every active counselor on the board, publish how
    many are on call per language, and match any language with callers waiting (a trigger
    may have been lost, an offer may have expired)."""
    import datetime as dt

    from sqlalchemy import select

    from .models import Counselor
    from .routing import schedule_match
    from .routing.board import Board

    board = Board(connection)
    with get_db(app()).session() as session:
        counselors = list(session.scalars(select(Counselor).where(Counselor.active)))
        for c in counselors:
            # The database holds the presence counselors chose; mid-call states are the
            # board's own and are left alone.
            chosen = c.state if c.state in ("away", "offline") else "available"
            if not board.register_counselor(c.id, list(c.languages), chosen):
                current = board.counselor(c.id).get("state")
                if current in ("available", "away", "offline") and current != chosen:
                    board.set_presence(c.id, chosen, list(c.languages))
    for counselor_id in release_overdue_wrap_ups(board, time.time()):
        log.warning("counselor %s was left in wrap-up; available again", counselor_id)
    now = dt.datetime.now(dt.UTC)
    states = board.counselors()
    languages = sorted(
        {lang for f in app().extensions["hotline.flows"].flows.values() for lang in f.languages}
    )
    counts = {}
    for language in languages:
        ids = roster_cache().on_call_ids(language, now)
        counts[language] = sum(
            1 for i in ids if states.get(i, {}).get("state") not in ("away", "offline")
        )
    board.set_on_call(counts)
    for language in board.waiting_languages(languages):
        schedule_match(connection, language)


# ---- callbacks ----------------------------------------------------------------------------


def schedule_callbacks(connection: redis.Redis) -> list[str]:
    """Periodic (worker maintenance): due callbacks go on the board while their line is open,
    and their languages are matched."""
    import datetime as dt

    from .callbacks.runner import CallbackSettings, schedule_due, settle_stuck
    from .routing import schedule_match
    from .routing.board import Board

    flask_app = app()
    now = dt.datetime.now(dt.UTC)
    with get_db(flask_app).session() as session:
        languages = schedule_due(
            session,
            Board(connection),
            flask_app.extensions["hotline.flows"],
            CallbackSettings.from_config(dict(flask_app.config)),
            now,
        )
        stuck = settle_stuck(session, now)
        lost = [(row.id, row.call_sid) for row in stuck]
    emit = _emitter(connection) if lost else None
    for callback_id, call_sid in lost:
        log.warning(
            "callback %s: final status never came; closed for a manager to review", callback_id
        )
        assert emit is not None
        emit(
            call_sid,
            "callback_failed",
            {"callback_id": callback_id, "reason": "status_lost"},
            f"status-lost|{callback_id}",
        )
    for language in languages:
        schedule_match(connection, language)
    return languages


def dial_callback(entry: str, offer_id: str) -> str:
    """The counselor accepted a callback and waits in the room: call the caller, once."""
    from .callbacks import runner

    parsed = runner.parse_entry(entry)
    if parsed is None:
        return "not a callback"
    connection = _connection()
    # One attempt is dialled once, whatever happens to this job (duplicated, retried).
    lock = runner.DIAL_LOCK.format(entry=entry, offer=offer_id)
    if not connection.set(lock, "1", nx=True, ex=runner.MARK_TTL):
        return "already dialled"
    board, dispatcher, settings = _routing()
    offer = board.offer(offer_id)
    callback_id, attempt = parsed
    with get_db(app()).session() as session:
        row = runner.start_attempt(session, callback_id, int(offer.get("cid") or 0) or 0)
        if row is None or offer.get("sid") != entry:
            placed = None
        else:
            placed = _place_callback(dispatcher, settings, row, entry, attempt, offer_id)
            runner.note_leg(row, attempt, offer.get("leg", ""), placed or "")
        original = row.call_sid if row is not None else entry
    if placed is None:
        # Nothing to call (cancelled, or Twilio refused): the counselor is not left waiting.
        return _end_callback_attempt(entry, offer_id, "dial_failed", answered=False)
    dispatcher.emit(
        original,
        "callback_attempt",
        {"callback_id": callback_id, "attempt": attempt, "counselor_id": offer.get("cid")},
        f"callback-attempt|{entry}",
    )
    return "dialled"


def _place_callback(
    dispatcher: Any, settings: Any, row: Any, entry: str, attempt: int, offer_id: str
) -> str | None:
    from urllib.parse import urlencode

    from .callbacks.runner import named_intro
    from .telephony.rest import TwilioError

    query = urlencode(
        {
            "c": row.id,
            "a": attempt,
            "o": offer_id,
            "s": row.call_sid,
            "l": row.language,
            "f": row.flow or "",
            "n": "1" if named_intro(row) else "0",
        }
    )
    try:
        return str(
            dispatcher.adapter.call(
                to=row.number,
                from_=row.hotline_number or settings.caller_id,
                url=f"{settings.public_url}/voice/callback/connect?{query}",
                status_callback=f"{settings.public_url}/voice/callback/status?{query}",
                timeout=30,
                machine_detection=True,
            )
        )
    except TwilioError as exc:
        # Not retried here: a retry could call twice. The attempt counts as not answered.
        log.warning("callback %s attempt %s not placed: %s", row.id, attempt, exc)
        return None


def finish_callback(entry: str, offer_id: str, outcome: str, answered: bool) -> str:
    """The caller's leg ended (reported once per call and status by the webhook)."""
    return _end_callback_attempt(entry, offer_id, outcome, answered=answered)


def _end_callback_attempt(entry: str, offer_id: str, outcome: str, *, answered: bool) -> str:
    import datetime as dt

    from .callbacks import runner

    parsed = runner.parse_entry(entry)
    if parsed is None:
        return "not a callback"
    connection = _connection()
    board, dispatcher, _ = _routing()
    settings = runner.CallbackSettings.from_config(dict(app().config))
    with get_db(app()).session() as session:
        row = runner.finish_attempt(
            session, connection, *parsed, answered, outcome, settings, dt.datetime.now(dt.UTC)
        )
        if row is None:
            return "already counted"
        original, status, next_at = row.call_sid, row.status, row.next_attempt_at
    offer = board.offer(offer_id)
    board.caller_gone(entry)
    kind = "callback_answered" if answered else "callback_no_answer"
    data = {"callback_id": parsed[0], "attempt": parsed[1], "outcome": outcome, "status": status}
    if next_at is not None:
        data["next_attempt_at"] = next_at.isoformat()
    dispatcher.emit(original, kind, data, f"{kind}|{entry}")
    if status == "failed":
        dispatcher.emit(original, "callback_failed", data, f"callback_failed|{entry}")
    if not answered and offer.get("leg"):
        # The counselor waits alone in the room: end their leg; its status callback puts
        # them into wrap-up as after any call.
        _end_counselor_leg(dispatcher, offer["leg"])
    return status


def _end_counselor_leg(dispatcher: Any, leg: str) -> None:
    from rq import Queue, Retry

    from .queues import ROUTING_QUEUE
    from .telephony.rest import TwilioError

    try:
        dispatcher.adapter.hang_up(leg)
    except TwilioError as exc:
        # The attempt is already counted (this job is not run again): retry only the hang-up.
        log.warning("could not end counselor leg after a callback attempt: %s", exc)
        Queue(ROUTING_QUEUE, connection=_connection()).enqueue(
            "hotline.jobs.cancel_leg",
            leg,
            retry=Retry(max=3, interval=[10, 30, 60]),
            failure_ttl=7 * 24 * 3600,
        )
