"""How fast the routing board decides, against the real Redis.

    .venv/bin/python bench/matcher.py [--redis redis://127.0.0.1:6379/0] [--decisions 2000]

One decision = the `match` script choosing a counselor among 1,000 on-call candidates with
200 callers waiting (then the offer is released so the next decision sees the same board).
Printed: p50/p99 per decision, the same for a no-op Lua script given the same arguments
(the round trip and argument passing every script pays, measured in the same run), the case
where nobody can be served (a full scan), and offers per second from one and four processes.
Everything lives under a unique key prefix that is deleted at the end.
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import sys
import time
import uuid
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hotline.routing.board import Board

COUNSELORS = 1000
CALLERS = 200


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def seed(board: Board) -> list[int]:
    rng = random.Random(7)
    ids = list(range(1, COUNSELORS + 1))
    for cid in ids:
        langs = ["mandarin"] + (["english"] if rng.random() < 0.3 else [])
        board.register_counselor(cid, langs, "available")
        board.set_presence(cid, "away")
        board.set_presence(cid, "available", now=time.time() - rng.random() * 3600)
    now = time.time()
    for i in range(CALLERS):
        board.register_caller(f"CA{i:032d}", "mandarin", urgent=i % 50 == 0, since=now - i)
    return ids


def decide(board: Board, ids: list[int], n: int) -> list[float]:
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        offer = board.match("mandarin", ids, ttl_seconds=60)
        samples.append(time.perf_counter() - start)
        assert offer is not None
        board.release(offer.offer_id, missed=False, skip_seconds=0, away_after=10**6)
    return samples


def offers_per_second(url: str, prefix: str, ids: list[int], seconds: float) -> int:
    board = Board(redis.Redis.from_url(url), prefix=prefix)
    done = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        offer = board.match("mandarin", ids, ttl_seconds=60)
        if offer is not None:
            board.release(offer.offer_id, missed=False, skip_seconds=0, away_after=10**6)
            done += 1
    return done


def _worker(args: tuple[str, str, list[int], float]) -> int:
    return offers_per_second(*args)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--decisions", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    connection = redis.Redis.from_url(args.redis)
    prefix = f"bench-matcher:{uuid.uuid4().hex[:8]}"
    board = Board(connection, prefix=prefix)
    noop = connection.register_script("return nil")
    try:
        ids = seed(board)
        decide(board, ids, 100)  # warm up
        match = decide(board, ids, args.decisions)
        baseline = []
        for _ in range(args.decisions):
            start = time.perf_counter()
            noop(args=[prefix, "mandarin", time.time(), "x", 60000, *ids])
            baseline.append(time.perf_counter() - start)
        # Nobody free: every counselor away, so the script scans all 1,000 and gives up.
        for cid in ids:
            board.set_presence(cid, "away")
        scan = []
        for _ in range(args.decisions // 2):
            start = time.perf_counter()
            assert board.match("mandarin", ids) is None
            scan.append(time.perf_counter() - start)
        for cid in ids:
            board.set_presence(cid, "available")

        print(
            f"{COUNSELORS} on-call counselors, {CALLERS} callers waiting, {args.decisions} decisions"
        )
        print(f"{'case':42} {'p50 ms':>8} {'p99 ms':>8}")
        print(f"{'match (decide + reserve)':42} {pct(match, 0.5):8.3f} {pct(match, 0.99):8.3f}")
        print(
            f"{'no-op Lua script, same arguments':42} {pct(baseline, 0.5):8.3f} {pct(baseline, 0.99):8.3f}"
        )
        print(f"{'nobody free (full scan)':42} {pct(scan, 0.5):8.3f} {pct(scan, 0.99):8.3f}")
        print(f"match / no-op at p50: {pct(match, 0.5) / pct(baseline, 0.5):.1f}x")

        one = offers_per_second(args.redis, prefix, ids, args.seconds)
        print(f"offers/s (match + release), 1 process: {one / args.seconds:,.0f}")
        with multiprocessing.get_context("spawn").Pool(4) as pool:
            counts = pool.map(_worker, [(args.redis, prefix, ids, args.seconds)] * 4)
        print(f"offers/s (match + release), 4 processes: {sum(counts) / args.seconds:,.0f}")
    finally:
        keys = list(connection.scan_iter(f"{prefix}:*", count=1000))
        for start in range(0, len(keys), 500):
            connection.delete(*keys[start : start + 500])


if __name__ == "__main__":
    main()
