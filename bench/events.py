"""Events persisted per second, end to end, and the lag from webhook push to database row.

    .venv/bin/python bench/events.py [--backlog 20000 --rate 1000 --seconds 10]

Real Redis and PostgreSQL (REDIS_URL-style HOTLINE_BENCH_REDIS_URL, default the local one,
on a database number of its own; HOTLINE_BENCH_POSTGRES_URL, default the local server, in
a database created and dropped by the run). Two ways of writing the same events, measured in
the same run:

- the hotline: webhooks push events to a Redis list (EventSink.emit, 4 events per webhook);
  two `hotline worker` processes (HotlineWorker, no fork per job) drain them in batches;
- the baseline: one RQ job per event, run by two RQ classic forking workers.

Each is measured twice: a backlog pushed as fast as possible (events/s from the first push to
the last row), then a steady offered load (lag from push to row insert, p50/p99). The row's
`recorded_at` is taken when the worker inserts it; its transaction commits right after.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import redis  # noqa: E402
from rq import Queue, Retry, Worker  # noqa: E402
from sqlalchemy import create_engine, func, select, text  # noqa: E402

from hotline.events import EventSink, make_event  # noqa: E402
from hotline.migrate import upgrade  # noqa: E402
from hotline.models import CallEvent  # noqa: E402
from hotline.queues import enqueue_drain  # noqa: E402

BASELINE_QUEUE = "bench-baseline"  # job: bench/baseline_job.py
PER_WEBHOOK = 4


# ---- resources ---------------------------------------------------------------------------
def claim_redis_db(base_url: str) -> tuple[str, redis.Redis, str]:
    """The same claim scheme as the tests, so a bench and a test run never share a db."""
    control = redis.Redis.from_url(base_url)
    parts = urlsplit(base_url)
    for number in range(1, 16):
        key = f"hotline-test:claim:{number}"
        if control.set(key, f"bench-{os.getpid()}", nx=True, ex=3600):
            url = urlunsplit((parts.scheme, parts.netloc, f"/{number}", "", ""))
            redis.Redis.from_url(url).flushdb()
            return url, control, key
    raise SystemExit("no free Redis database number (1-15)")


def create_database(admin_url: str) -> tuple[str, Callable[[], None]]:
    name = f"hotline_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    parts = urlsplit(admin_url)
    url = urlunsplit((parts.scheme, parts.netloc, f"/{name}", "", ""))
    upgrade(url)

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url, drop


def worker_env(instance: Path, database_url: str, redis_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HOTLINE_", "TWILIO_"))}
    env.update(
        REDIS_URL=redis_url,
        HOTLINE_DATABASE_URL=database_url,
        HOTLINE_INSTANCE_PATH=str(instance),
        HOTLINE_DOTENV=str(instance / "none.env"),
        HOTLINE_NUMBER_HASH_KEY="bench-hash-key",
        HOTLINE_LOG_LEVEL="WARNING",
        PYTHONPATH=str(ROOT),
    )
    return env


def start_workers(args: list[str], env: dict[str, str], conn: redis.Redis) -> list[Any]:
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "hotline.cli", "worker", *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        for _ in range(2)
    ]
    deadline = time.monotonic() + 60
    while Worker.count(connection=conn) < 2:
        if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
            stop_workers(procs)
            raise SystemExit("workers did not start")
        time.sleep(0.1)
    return procs


def stop_workers(procs: list[Any]) -> None:
    for p in procs:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


# ---- load --------------------------------------------------------------------------------
def webhook_events(tag: str, n: int) -> list[Any]:
    sid = f"CA{tag}{n:028x}"  # 34 characters, like a CallSid
    now = dt.datetime.now(dt.UTC)
    kinds = ("incoming", "language_chosen", "queued", "status")
    return [
        make_event(sid, kind, {"step": i}, now, discriminator=str(i), sequence=i)
        for i, kind in enumerate(kinds)
    ]


def offer(send: Callable[[list[Any]], None], tag: str, events: int, rate: float | None) -> float:
    """Send `events` events, 4 per webhook, at `rate` events/s (None: as fast as possible).
    Returns the wall time of the first push."""
    webhooks = events // PER_WEBHOOK
    started = time.time()
    interval = PER_WEBHOOK / rate if rate else 0.0
    t0 = time.monotonic()
    for n in range(webhooks):
        if interval:
            due = t0 + n * interval
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
        send(webhook_events(tag, n))
    return started


def wait_stored(engine: Any, tag: str, expected: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while True:
        with engine.connect() as conn:
            stored = int(
                conn.scalar(
                    select(func.count())
                    .select_from(CallEvent)
                    .where(CallEvent.call_sid.like(f"CA{tag}%"))
                )
                or 0
            )
        if stored >= expected or time.monotonic() > deadline:
            return stored
        time.sleep(0.1)


def lags(engine: Any, tag: str) -> tuple[list[float], dt.datetime | None]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(CallEvent.occurred_at, CallEvent.recorded_at).where(
                CallEvent.call_sid.like(f"CA{tag}%")
            )
        ).all()
    out = [(recorded - occurred).total_seconds() for occurred, recorded in rows]
    last = max((recorded for _, recorded in rows), default=None)
    return out, last


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def measure(
    name: str,
    send: Callable[[list[Any]], None],
    engine: Any,
    backlog: int,
    rate: float,
    seconds: float,
    timeout: float,
) -> dict[str, Any]:
    tag_a, tag_b = uuid.uuid4().hex[:4], uuid.uuid4().hex[:4]
    total_a = backlog // PER_WEBHOOK * PER_WEBHOOK
    first = offer(send, tag_a, total_a, None)
    stored_a = wait_stored(engine, tag_a, total_a, timeout)
    _, last = lags(engine, tag_a)
    elapsed = (last.timestamp() - first) if last else float("nan")
    total_b = int(rate * seconds) // PER_WEBHOOK * PER_WEBHOOK
    offer(send, tag_b, total_b, rate)
    stored_b = wait_stored(engine, tag_b, total_b, timeout)
    lag, _ = lags(engine, tag_b)
    return {
        "name": name,
        "backlog": total_a,
        "backlog_stored": stored_a,
        "events_per_s": stored_a / elapsed if elapsed > 0 else float("nan"),
        "rate": rate,
        "steady": total_b,
        "steady_stored": stored_b,
        "p50": pct(lag, 0.50),
        "p99": pct(lag, 0.99),
        "mean": statistics.fmean(lag) if lag else float("nan"),
    }


def report(r: dict[str, Any]) -> None:
    missing = ""
    if r["backlog_stored"] < r["backlog"] or r["steady_stored"] < r["steady"]:
        missing = (
            f"  (INCOMPLETE within the timeout: {r['backlog_stored']}/{r['backlog']}, "
            f"{r['steady_stored']}/{r['steady']}; figures cover what was stored)"
        )
    print(
        f"{r['name']:44} {r['events_per_s']:9.0f} events/s over {r['backlog']:6} events | "
        f"at {r['rate']:.0f}/s offered: lag p50 {r['p50'] * 1000:7.0f} ms  "
        f"p99 {r['p99'] * 1000:7.0f} ms{missing}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backlog", type=int, default=20000)
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--baseline-backlog", type=int, default=400)
    parser.add_argument("--baseline-seconds", type=float, default=0.2)
    parser.add_argument("--timeout", type=float, default=45.0)
    args = parser.parse_args()

    redis_url, control, claim = claim_redis_db(
        os.environ.get("HOTLINE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    database_url, drop = create_database(
        os.environ.get(
            "HOTLINE_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        )
    )
    conn = redis.Redis.from_url(redis_url)
    engine = create_engine(database_url)
    instance = Path(tempfile.mkdtemp(prefix="hotline-bench-"))
    env = worker_env(instance, database_url, redis_url)
    results = []
    procs: list[Any] = []
    try:
        print(f"Redis {redis_url}, PostgreSQL database {urlsplit(database_url).path[1:]}")
        sink = EventSink(conn, instance / "spool", lambda: enqueue_drain(conn))
        procs = start_workers([], env, conn)
        results.append(
            measure(
                "hotline: 2 HotlineWorkers, batched drain",
                sink.emit,
                engine,
                args.backlog,
                args.rate,
                args.seconds,
                args.timeout,
            )
        )
        stop_workers(procs)
        report(results[-1])

        baseline = Queue(BASELINE_QUEUE, connection=conn)

        def one_job_per_event(events: list[Any]) -> None:
            for event in events:
                # Two jobs of one call can race to create its summary row: retry like a
                # real job-per-event design would have to.
                baseline.enqueue(
                    "bench.baseline_job.store_one",
                    event.to_json(),
                    result_ttl=0,
                    retry=Retry(max=5),
                )

        procs = start_workers(["--fork", "--queue", BASELINE_QUEUE], env, conn)
        results.append(
            measure(
                "baseline: 2 forking RQ workers, job per event",
                one_job_per_event,
                engine,
                args.baseline_backlog,
                args.rate,
                args.baseline_seconds,
                args.timeout,
            )
        )
        stop_workers(procs)
        report(results[-1])
        hotline, base = results
        print(
            f"hotline / baseline throughput: {hotline['events_per_s'] / base['events_per_s']:.1f}x; "
            f"goal >= 1000 events/s and p99 lag < 2 s: "
            f"{'met' if hotline['events_per_s'] >= 1000 and hotline['p99'] < 2 else 'NOT met'}"
        )
    finally:
        stop_workers(procs)
        engine.dispose()
        drop()
        conn.flushdb()
        control.delete(claim)


if __name__ == "__main__":
    main()
