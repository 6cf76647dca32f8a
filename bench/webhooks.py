"""Time the IVR webhooks in-process against a bare Flask route that returns static TwiML.

    .venv/bin/python bench/webhooks.py [--requests 3000]

Both run in this process through Flask's test client, signed as Twilio signs, so the ratio
shows what the hotline adds per request (signature check, flow engine, TwiML, event push).
The in-process Redis stand-in is used unless REDIS_URL is set.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import time_machine
from flask import Flask, Response
from twilio.twiml.voice_response import VoiceResponse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hotline import create_app  # noqa: E402
from hotline.migrate import upgrade  # noqa: E402
from hotline.telephony.signature import sign  # noqa: E402

TOKEN = "bench-token"
PUBLIC = "https://hotline.example.org"
OPEN = dt.datetime(2026, 12, 2, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))


def percentiles(samples: list[float]) -> tuple[float, float, float]:
    ordered = sorted(samples)
    p = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return p(0.50) * 1000, p(0.99) * 1000, statistics.fmean(ordered) * 1000


def bare_app() -> Flask:
    app = Flask("bare")
    body = str(VoiceResponse().say("您好", language="cmn-CN"))

    @app.post("/static")
    def static_twiml() -> Response:
        return Response(body, mimetype="text/xml")

    return app


def timed(n: int, send: Callable[[int], object]) -> list[float]:
    for i in range(min(50, n)):  # warm up
        send(i)
    out = []
    for i in range(n):
        start = time.perf_counter()
        send(i)
        out.append(time.perf_counter() - start)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=3000)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="hotline-bench-"))
    url = f"sqlite:///{tmp / 'bench.db'}"
    upgrade(url)
    app = create_app(
        {
            "HOTLINE_DATABASE_URL": url,
            "TWILIO_AUTH_TOKEN": TOKEN,
            "HOTLINE_PUBLIC_URL": PUBLIC,
            "HOTLINE_INSTANCE_PATH": str(tmp / "instance"),
            "HOTLINE_LOG_LEVEL": "WARNING",
        }
    )
    client = app.test_client()
    bare = bare_app().test_client()

    def signed(path: str, **params: str) -> Callable[[int], object]:
        def send(i: int) -> object:
            form = {
                "CallSid": f"CA{uuid.uuid4().hex}",
                "From": "+393331234567",
                "To": "+390212345678",
                **params,
            }
            headers = {"X-Twilio-Signature": sign(TOKEN, PUBLIC + path, form)}
            return client.post(path, data=form, headers=headers)

        return send

    def static(i: int) -> object:
        form = {"CallSid": f"CA{uuid.uuid4().hex}", "From": "+393331234567", "To": "+390212345678"}
        headers = {"X-Twilio-Signature": sign(TOKEN, "http://localhost/static", form)}
        return bare.post("/static", data=form, headers=headers)

    cases = {
        "bare Flask, static TwiML": static,
        "/voice/incoming": signed("/voice/incoming"),
        "/voice/menu (choose, open)": signed("/voice/menu?n=language_menu&f=hotline", Digits="1"),
        "/voice/queue/wait": signed(
            "/voice/queue/wait?n=queue&f=hotline&l=mandarin", QueueTime="75", QueuePosition="4"
        ),
    }
    n = args.requests
    print(f"{n} requests each, in-process, one thread (Python {sys.version.split()[0]})")
    print(f"{'endpoint':30} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8} {'p50 ratio':>10}")
    baseline = None
    with time_machine.travel(OPEN, tick=True):
        for name, send in cases.items():
            p50, p99, mean = percentiles(timed(n, send))
            baseline = baseline or p50
            print(f"{name:30} {p50:8.3f} {p99:8.3f} {mean:8.3f} {p50 / baseline:9.1f}x")
    app.extensions["hotline.db"].dispose()


if __name__ == "__main__":
    main()
