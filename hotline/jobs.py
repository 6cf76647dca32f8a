"""RQ jobs: thin, named verb_noun, idempotent. Domain code does the work.

Jobs run in worker processes that build the app once (`hotline worker` binds it; a bare
`rq worker` builds it from the environment on first use).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import redis
from rq import get_current_job

from . import events as ev
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
_roster: Any = None


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
