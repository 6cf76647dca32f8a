"""Callbacks on the routing board: the same reservation as live callers, and their priority."""

from __future__ import annotations

import threading

import pytest
import redis

from hotline.routing.board import Board

from .conftest import RedisDb

NOW = 1_800_000_000.0


@pytest.fixture
def board(need_real_redis: RedisDb) -> Board:
    board = Board(need_real_redis.connection())
    board.register_counselor(1, ["english"], "available")
    return board


def test_live_callers_first_until_the_callback_waited_priority_after(board: Board) -> None:
    board.register_callback("cb-1-1", "english", requested_at=NOW - 600, priority_after=1800)
    board.register_caller("CA-live", "english", urgent=False, since=NOW - 60)
    offer = board.match("english", [1], now=NOW)
    assert offer is not None and offer.call_sid == "CA-live"
    assert board.caller("cb-1-1")["kind"] == "callback"
    assert board.caller("CA-live")["kind"] == "live"


def test_a_callback_that_waited_long_goes_before_newer_live_callers(board: Board) -> None:
    board.register_callback("cb-2-1", "english", requested_at=NOW - 2000, priority_after=1800)
    board.register_caller("CA-new", "english", urgent=False, since=NOW - 60)
    offer = board.match("english", [1], now=NOW)
    assert offer is not None and offer.call_sid == "cb-2-1"
    assert float(board.caller("cb-2-1")["since"]) == NOW - 2000  # the real wait, for the whisper


def test_urgent_live_callers_always_first(board: Board) -> None:
    board.register_callback("cb-3-1", "english", requested_at=NOW - 86400, priority_after=0)
    board.register_caller("CA-danger", "english", urgent=True, since=NOW - 1)
    offer = board.match("english", [1], now=NOW)
    assert offer is not None and offer.call_sid == "CA-danger"


def test_callbacks_and_live_callers_never_take_the_same_counselor(
    board: Board, need_real_redis: RedisDb
) -> None:
    """Four threads match a mixed board of live callers and callbacks against one pool of
    counselors; any counselor or entry held twice at once is a violation."""
    for cid in range(1, 6):
        board.register_counselor(cid, ["english"], "available")
    for i in range(40):
        if i % 2:
            board.register_callback(f"cb-{i}-1", "english", requested_at=NOW + i, priority_after=0)
        else:
            board.register_caller(f"CA-{i}", "english", urgent=False, since=NOW + i)
    violations: list[int] = []
    kinds: set[str] = set()

    def race() -> None:
        conn = redis.Redis.from_url(need_real_redis.url)
        mine = Board(conn)
        bad = 0
        for _ in range(200):
            offer = mine.match("english", list(range(1, 6)), ttl_seconds=30)
            if offer is None:
                continue
            kinds.add("callback" if offer.call_sid.startswith("cb-") else "live")
            held_c = conn.set(f"race:c:{offer.counselor_id}", "1", nx=True, ex=30)
            held_q = conn.set(f"race:q:{offer.call_sid}", "1", nx=True, ex=30)
            bad += (not held_c) + (not held_q)
            if held_c:
                conn.delete(f"race:c:{offer.counselor_id}")
            if held_q:
                conn.delete(f"race:q:{offer.call_sid}")
            mine.release(offer.offer_id, missed=False, skip_seconds=0, away_after=10**6)
        violations.append(bad)

    threads = [threading.Thread(target=race) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert kinds == {"callback", "live"}
    assert sum(violations) == 0
    # A counselor who accepted a callback is busy: no live caller is offered to them.
    offer = board.match("english", [1], now=NOW + 100)
    assert offer is not None
    assert board.accept(offer.offer_id).result == "ok"
    assert board.match("english", [1], now=NOW + 100) is None
