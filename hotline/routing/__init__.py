"""Routing: who is on call, which counselor is offered which caller, and the reservation
that keeps a counselor to one caller at a time.

`board` (Redis, atomic scripts) and `dispatch` (matching + ringing) are the domain; this
module wires them to the app for webhooks, jobs and the dashboard.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import redis
from rq import Queue, Retry

from ..events import REDIS_DOWN
from ..queues import ROUTING_QUEUE
from .board import Board

if TYPE_CHECKING:
    from flask import Flask

log = logging.getLogger(__name__)

MATCH_FLAG = "hotline:rt:match-scheduled:"
MATCH_FLAG_MS = 2000
PRESENCE_STATES = {"available", "away", "offline"}
# Twilio busy or unreachable: the caller keeps waiting and the match is tried again.
MATCH_RETRY = Retry(max=5, interval=[2, 5, 10, 30, 60])


def init_app(app: Flask) -> None:
    app.extensions["hotline.board"] = Board(app.extensions["hotline.redis"])


def get_board(app: Flask) -> Board:
    board: Board = app.extensions["hotline.board"]
    return board


def schedule_match(connection: redis.Redis, language: str) -> None:
    """Ask a worker to match `language` soon; at most one such job waits at a time."""
    if connection.set(MATCH_FLAG + language, "1", nx=True, px=MATCH_FLAG_MS):
        Queue(ROUTING_QUEUE, connection=connection).enqueue(
            "hotline.jobs.match_callers", language, result_ttl=30, failure_ttl=7 * 24 * 3600,
            retry=MATCH_RETRY,
        )  # fmt: skip


def staffed(app: Flask) -> object:
    """For the engine: is anybody who speaks `language` on call? Unknown counts as yes, so
    a missing count (no worker yet, Redis away) never turns callers away."""
    board = get_board(app)

    def check(language: str) -> bool:
        try:
            count = board.on_call(language)
        except REDIS_DOWN:
            return True
        return count is None or count > 0

    return check


def set_presence(app: Flask, counselor_id: int, state: str) -> str:
    """A counselor (or a manager) marks them available / away / offline. The routing
    uses it at once; during an offer or a call it takes effect afterwards."""
    if state not in PRESENCE_STATES:
        raise ValueError(f"presence must be one of {sorted(PRESENCE_STATES)}")
    from sqlalchemy import select

    from ..db import get_db
    from ..models import Counselor

    with get_db(app).session() as session:
        counselor = session.scalars(select(Counselor).where(Counselor.id == counselor_id)).one()
        counselor.state = state
        languages = list(counselor.languages)
    board = get_board(app)
    board.register_counselor(counselor_id, languages, state)
    result = board.set_presence(counselor_id, state, languages)
    if state == "available":
        for language in languages:
            schedule_match(app.extensions["hotline.redis"], language)
    return result


__all__ = [
    "ROUTING_QUEUE",
    "Board",
    "get_board",
    "init_app",
    "schedule_match",
    "set_presence",
    "staffed",
]
