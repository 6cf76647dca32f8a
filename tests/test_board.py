"""The routing board against the real Redis: ordering, reservations, expiry, and a race."""

from __future__ import annotations

import multiprocessing
import threading
import time
from typing import Any

import pytest
import redis

from hotline.routing.board import Board

from .conftest import RedisDb

NOW = 1_800_000_000.0


@pytest.fixture
def board(need_real_redis: RedisDb) -> Board:
    return Board(need_real_redis.connection())


def counselors(
    board: Board, *specs: tuple[int, list[str]], idle: dict[int, float] | None = None
) -> None:
    for cid, langs in specs:
        board.register_counselor(cid, langs, "available")
        board.set_presence(cid, "away", now=NOW - 10_000)
        board.set_presence(cid, "available", now=(idle or {}).get(cid, NOW - 1000))


def test_longest_waiting_caller_meets_longest_idle_counselor(board: Board) -> None:
    counselors(board, (1, ["mandarin"]), (2, ["mandarin"]), idle={1: NOW - 100, 2: NOW - 500})
    board.register_caller("CA-late", "mandarin", urgent=False, since=NOW - 10)
    board.register_caller("CA-early", "mandarin", urgent=False, since=NOW - 300)
    offer = board.match("mandarin", [1, 2], now=NOW)
    assert offer is not None
    assert (offer.call_sid, offer.counselor_id) == ("CA-early", 2)
    second = board.match("mandarin", [1, 2], now=NOW)
    assert second is not None and (second.call_sid, second.counselor_id) == ("CA-late", 1)
    assert board.match("mandarin", [1, 2], now=NOW) is None


def test_urgent_callers_come_first(board: Board) -> None:
    counselors(board, (1, ["english"]))
    board.register_caller("CA-waiting", "english", urgent=False, since=NOW - 900)
    board.register_caller("CA-danger", "english", urgent=True, since=NOW - 5)
    offer = board.match("english", [1], now=NOW)
    assert offer is not None and offer.call_sid == "CA-danger"


def test_urgency_learned_later_moves_the_caller_up(board: Board) -> None:
    counselors(board, (1, ["english"]))
    board.register_caller("CA-a", "english", urgent=False, since=NOW - 900)
    board.register_caller("CA-b", "english", urgent=False, since=NOW - 5)
    assert board.register_caller("CA-b", "english", urgent=True, since=NOW - 5) is False
    offer = board.match("english", [1], now=NOW)
    assert offer is not None and offer.call_sid == "CA-b"


def test_only_counselors_who_speak_the_language_and_are_candidates(board: Board) -> None:
    counselors(board, (1, ["mandarin"]), (2, ["cantonese", "english"]))
    board.register_caller("CA-1", "cantonese", urgent=False, since=NOW)
    assert board.match("cantonese", [1], now=NOW) is None  # 2 is not on call
    offer = board.match("cantonese", [1, 2], now=NOW)
    assert offer is not None and offer.counselor_id == 2


def test_away_and_busy_counselors_are_not_offered(board: Board) -> None:
    counselors(board, (1, ["mandarin"]))
    board.set_presence(1, "away")
    board.register_caller("CA-1", "mandarin", urgent=False, since=NOW)
    assert board.match("mandarin", [1], now=NOW) is None
    board.set_presence(1, "available")
    assert board.match("mandarin", [1], now=NOW) is not None
    board.register_caller("CA-2", "mandarin", urgent=False, since=NOW)
    assert board.match("mandarin", [1], now=NOW) is None  # holds an offer already


def test_accept_takes_the_caller_out_of_the_queue(board: Board) -> None:
    counselors(board, (1, ["mandarin"]))
    board.register_caller("CA-1", "mandarin", urgent=False, since=NOW)
    offer = board.match("mandarin", [1], now=NOW)
    assert offer is not None
    outcome = board.accept(offer.offer_id, now=NOW)
    assert (outcome.result, outcome.call_sid, outcome.counselor_id) == ("ok", "CA-1", 1)
    assert board.waiting("mandarin") == []
    assert board.counselor(1)["state"] == "busy"
    assert board.accept(offer.offer_id).result == "gone"  # a second press changes nothing
    assert (
        board.release(offer.offer_id, missed=True, skip_seconds=60, away_after=3).result == "gone"
    )


def test_missed_offers_skip_then_set_away(board: Board) -> None:
    counselors(board, (1, ["mandarin"]), (2, ["mandarin"]), idle={1: NOW - 900, 2: NOW - 10})
    board.register_caller("CA-1", "mandarin", urgent=False, since=NOW)
    for attempt in range(1, 4):
        offer = board.match("mandarin", [1], now=NOW + attempt * 1000)
        assert offer is not None and offer.counselor_id == 1
        outcome = board.release(
            offer.offer_id, missed=True, skip_seconds=120, away_after=3, now=NOW + attempt * 1000
        )
        assert outcome.result == ("away" if attempt == 3 else "released")
        # Skipped for a while right after a miss: the other counselor gets the caller.
        other = board.match("mandarin", [1, 2], now=NOW + attempt * 1000 + 1)
        if other is not None:
            assert other.counselor_id == 2
            board.release(other.offer_id, missed=False, skip_seconds=0, away_after=3)
    assert board.counselor(1)["state"] == "away"


def test_an_unanswered_offer_expires_by_itself(board: Board, need_real_redis: RedisDb) -> None:
    counselors(board, (1, ["mandarin"]), (2, ["mandarin"]))
    board.register_caller("CA-1", "mandarin", urgent=False, since=NOW)
    offer = board.match("mandarin", [1], now=NOW, ttl_seconds=0.2)
    assert offer is not None
    assert board.match("mandarin", [2], now=NOW) is None  # the caller is reserved
    time.sleep(0.4)
    again = board.match("mandarin", [2], now=NOW)
    assert again is not None and again.call_sid == "CA-1"
    assert board.match("mandarin", [1], now=NOW) is None  # 1 is free, but no caller is left


def test_caller_gone_while_ringing_frees_the_counselor(board: Board) -> None:
    counselors(board, (1, ["mandarin"]))
    board.register_caller("CA-1", "mandarin", urgent=False, since=NOW)
    offer = board.match("mandarin", [1], now=NOW)
    assert offer is not None
    board.set_leg(offer.offer_id, "CA-leg")
    outcome = board.caller_gone("CA-1")
    assert (outcome.result, outcome.leg_sid, outcome.counselor_id) == ("cancel", "CA-leg", 1)
    assert board.counselor(1)["state"] == "available"
    assert board.caller_gone("CA-1").result == "unknown"
    assert board.accept(offer.offer_id).result == "gone"


def test_presence_during_a_call_waits_for_its_end(board: Board) -> None:
    counselors(board, (1, ["mandarin"]))
    board.register_caller("CA-1", "mandarin", urgent=False, since=NOW)
    offer = board.match("mandarin", [1], now=NOW)
    assert offer is not None and board.accept(offer.offer_id).result == "ok"
    assert board.set_presence(1, "away") == "busy"
    assert board.call_ended(1, 60, now=NOW)
    assert not board.wrapup_done(1, now=NOW + 30)
    assert board.wrapup_done(1, now=NOW + 61)
    assert board.counselor(1)["state"] == "away"


# ---- the race: many processes and threads, one reservation each ---------------------------
COUNSELORS = 12
CALLERS = 30


def _racer(url: str, rounds: int, seed: int) -> tuple[int, int]:
    """Take offers and hold them briefly; record a violation whenever a counselor or a caller
    is already held by someone else (SET NX fails)."""
    connection = redis.Redis.from_url(url)
    board = Board(connection)
    violations = offers = 0
    candidates = list(range(1, COUNSELORS + 1))
    for i in range(rounds):
        language = ("mandarin", "cantonese")[(i + seed) % 2]
        offer = board.match(language, candidates, ttl_seconds=30)
        if offer is None:
            continue
        offers += 1
        held_c = connection.set(f"race:held:c:{offer.counselor_id}", "1", nx=True, ex=30)
        held_q = connection.set(f"race:held:q:{offer.call_sid}", "1", nx=True, ex=30)
        violations += (not held_c) + (not held_q)
        if held_c:
            connection.delete(f"race:held:c:{offer.counselor_id}")
        if held_q:
            connection.delete(f"race:held:q:{offer.call_sid}")
        board.release(offer.offer_id, missed=False, skip_seconds=0, away_after=10**6)
    return offers, violations


def _process_racer(args: tuple[str, int, int]) -> tuple[int, int]:
    return _racer(*args)


def test_no_counselor_or_caller_is_ever_offered_twice(
    board: Board, need_real_redis: RedisDb
) -> None:
    for cid in range(1, COUNSELORS + 1):
        board.register_counselor(cid, ["mandarin", "cantonese"], "available")
    for i in range(CALLERS):
        board.register_caller(
            f"CA-{i}", ("mandarin", "cantonese")[i % 2], urgent=i % 7 == 0, since=NOW + i
        )
    results: list[tuple[int, int]] = []
    threads = [
        threading.Thread(target=lambda s=s: results.append(_racer(need_real_redis.url, 300, s)))
        for s in range(4)
    ]
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(3) as pool:
        async_result = pool.map_async(
            _process_racer, [(need_real_redis.url, 300, 10 + s) for s in range(3)]
        )
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        results.extend(async_result.get(timeout=120))
    offers = sum(r[0] for r in results)
    violations = sum(r[1] for r in results)
    assert offers > 500, offers  # the race really happened
    assert violations == 0
    # Everything released: every counselor free, every caller still waiting for a real offer.
    assert all(board.counselor(c)["state"] == "available" for c in range(1, COUNSELORS + 1))
    assert len(board.waiting("mandarin")) + len(board.waiting("cantonese")) == CALLERS


def test_the_race_detector_detects(
    board: Board, need_real_redis: RedisDb, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the reservation (a match that hands out the first caller and counselor no
    matter what) the same race shows violations: the test above can fail."""
    connection = need_real_redis.connection()

    class Careless(Board):
        def match(
            self, language: str, candidates: list[int], now: Any = None, ttl_seconds: float = 90
        ) -> Any:
            from hotline.routing.board import Offer

            sids = self.waiting(language)
            if not sids:
                return None
            time.sleep(0.0005)
            return Offer("x" + str(time.monotonic_ns()), sids[0], candidates[0], language, NOW)

        def release(self, *args: Any, **kwargs: Any) -> Any:
            return None

    for i in range(4):
        board.register_caller(f"CA-{i}", "mandarin", urgent=False, since=NOW + i)
    monkeypatch.setattr("tests.test_board.Board", Careless)
    results: list[tuple[int, int]] = []
    threads = [
        threading.Thread(target=lambda s=s: results.append(_racer(need_real_redis.url, 200, s * 2)))
        for s in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r[1] for r in results) > 0
    connection.flushdb()


def test_a_second_language_widens_the_search_after_a_while(board: Board) -> None:
    counselors(board, (1, ["mandarin"]))
    board.register_caller(
        "CA-yue", "cantonese", urgent=False, since=NOW, second_language="mandarin", widen_after=60
    )
    assert board.match("mandarin", [1], now=NOW + 30) is None  # still waiting for Cantonese
    offer = board.match("mandarin", [1], now=NOW + 61)
    assert offer is not None and offer.call_sid == "CA-yue"
    assert board.waiting_languages(["mandarin", "cantonese"]) == ["mandarin", "cantonese"]
    assert board.accept(offer.offer_id, now=NOW + 62).result == "ok"
    assert board.waiting("cantonese") == []
    assert board.waiting_languages(["mandarin", "cantonese"]) == []


def test_first_language_callers_come_before_widened_ones(board: Board) -> None:
    counselors(board, (1, ["mandarin"]))
    board.register_caller(
        "CA-yue", "cantonese", urgent=False, since=NOW - 900, second_language="mandarin"
    )
    board.register_caller("CA-cmn", "mandarin", urgent=False, since=NOW - 10)
    offer = board.match("mandarin", [1], now=NOW)
    assert offer is not None and offer.call_sid == "CA-cmn"
    board.caller_gone("CA-yue")
    assert board.waiting_languages(["mandarin", "cantonese"]) == ["mandarin"]
