"""Time the dashboard's call-log and statistics pages on a million calls in PostgreSQL.

    .venv/bin/python bench/dashboard.py [--calls 1000000] [--requests 40]

Creates a fresh PostgreSQL database (HOTLINE_BENCH_POSTGRES_URL, default the local server),
migrates it, seeds the calls over the past year with COPY, times the pages server-side through
Flask's test client as a logged-in manager, prints p50/p99, and drops the database.
Goals: call log < 100 ms, statistics < 300 ms (p50).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402

from hotline import create_app  # noqa: E402
from hotline.dashboard.passwords import hash_password  # noqa: E402
from hotline.db import Database  # noqa: E402
from hotline.migrate import upgrade  # noqa: E402
from hotline.models import User  # noqa: E402

PG = os.environ.get(
    "HOTLINE_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
LANGS = ["mandarin"] * 6 + ["cantonese"] * 2 + ["english"] * 2
NUMBERS = ["+390212345678", "+81300000000", "+12125550100", "+442079460000", "+61280000000"]
COUNSELORS = 60
COLUMNS = (
    "call_sid, hotline_number, caller_number, caller_country, caller_withheld, language, urgent,"
    " started_at, queued_at, answered_at, ended_at, wait_seconds, talk_seconds, outcome,"
    " counselor_id, caller_last4, updated_at"
)


def rows(n: int, now: dt.datetime) -> Iterator[tuple[object, ...]]:
    rnd = random.Random(7)
    span = 365 * 24 * 3600
    for i in range(n):
        start = now - dt.timedelta(seconds=rnd.randrange(span))
        caller = f"+39333{rnd.randrange(10**7):07d}"
        lang = rnd.choice(LANGS)
        r = rnd.random()
        queued = answered = ended = None
        wait = talk = counselor = None
        if r < 0.08:
            outcome, ended = "abandoned_ivr", start + dt.timedelta(seconds=15)
        elif r < 0.12:
            outcome, ended = "after_hours", start + dt.timedelta(seconds=30)
        else:
            queued = start + dt.timedelta(seconds=25)
            wait = int(rnd.expovariate(1 / 45))
            if r < 0.25:
                outcome, ended = "abandoned_queue", queued + dt.timedelta(seconds=wait)
            else:
                outcome = "answered"
                answered = queued + dt.timedelta(seconds=wait)
                talk = int(rnd.expovariate(1 / 900))
                ended = answered + dt.timedelta(seconds=talk)
                counselor = rnd.randrange(1, COUNSELORS + 1)
        yield (
            f"CA{i:032x}",
            rnd.choice(NUMBERS),
            caller,
            "IT",
            False,
            lang,
            False,
            start,
            queued,
            answered,
            ended,
            wait,
            talk,
            outcome,
            counselor,
            caller[-4:],
            ended or start,
        )


def seed(url: str, n: int) -> None:
    import psycopg

    now = dt.datetime.now(dt.UTC)
    plain = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain) as conn:
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO counselors (name, phone, languages, timezone, state, active,"
                " created_at) VALUES (%s, %s, %s, 'Asia/Shanghai', 'available', true, now())",
                [
                    (f"咨询师{i}", f"+86138{i:08d}", '["mandarin", "english"]')
                    for i in range(1, COUNSELORS + 1)
                ],
            )
            with cur.copy(f"COPY calls ({COLUMNS}) FROM STDIN") as copy:
                for row in rows(n, now):
                    copy.write_row(row)
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE calls")


def timed(client: object, path: str, count: int) -> tuple[float, float]:
    samples = []
    for _ in range(count):
        t0 = time.perf_counter()
        response = client.get(path)  # type: ignore[attr-defined]
        samples.append((time.perf_counter() - t0) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    samples.sort()
    return samples[len(samples) // 2], samples[min(len(samples) - 1, int(0.99 * len(samples)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=40)
    args = parser.parse_args()

    name = f"hotline_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(PG, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    parts = urlsplit(PG)
    url = urlunsplit((parts.scheme, parts.netloc, f"/{name}", "", ""))
    try:
        upgrade(url)
        t0 = time.perf_counter()
        seed(url, args.calls)
        print(f"seeded {args.calls:,} calls in {time.perf_counter() - t0:.1f} s (COPY + ANALYZE)")
        with tempfile.TemporaryDirectory() as tmp:
            app = create_app(
                {
                    "HOTLINE_DATABASE_URL": url,
                    "REDIS_URL": None,
                    "HOTLINE_INSTANCE_PATH": tmp,
                    "HOTLINE_SECRET_KEY": "bench",
                    "HOTLINE_NUMBER_HASH_KEY": "bench",
                    "HOTLINE_DASHBOARD_CHEAP_HASHES": True,
                }
            )
            with Database(url).session() as s:
                s.add(
                    User(
                        email="bench@example.org",
                        role="manager",
                        password_hash=hash_password("bench-password", cheap=True),
                    )
                )
            client = app.test_client()
            page = client.get("/login").get_data(as_text=True)
            token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
            client.post(
                "/login",
                data={
                    "email": "bench@example.org",
                    "password": "bench-password",
                    "csrf_token": token,
                },
            )
            today = dt.date.today()
            month_ago = today - dt.timedelta(days=29)
            cases = [
                ("call log, newest 50", "/dashboard/calls", 100),
                (
                    "call log, mandarin + answered",
                    "/dashboard/calls?language=mandarin&outcome=answered",
                    100,
                ),
                ("call log, last digits 4567", "/dashboard/calls?last=4567", 100),
                ("call log, page 2 (keyset)", None, 100),
                ("statistics, last 7 days", "/dashboard/stats", 300),
                ("statistics, last 30 days", f"/dashboard/stats?from={month_ago}&to={today}", 300),
            ]
            first = client.get("/dashboard/calls").get_data(as_text=True)
            after = first.split("after=", 1)[1].split('"', 1)[0]  # the next-page link's cursor
            print(f"{'page':34} {'p50 ms':>8} {'p99 ms':>8}  goal")
            for label, path, goal in cases:
                path = path or f"/dashboard/calls?after={after}"
                client.get(path)  # warm
                p50, p99 = timed(client, path, args.requests)
                verdict = "ok" if p50 < goal else "SLOW"
                print(f"{label:34} {p50:8.1f} {p99:8.1f}  < {goal} ms {verdict}")
            app.extensions["hotline.db"].dispose()
    finally:
        create_engine(url).dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
