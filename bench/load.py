"""Load test of the whole hotline over HTTP (not a test: run by hand; stops by itself).

    /path/to/venv/bin/python bench/load.py [--rate 20] [--duration 60] [--waiting 1000]
                                          [--calls N] [--workers 2] [--poll 30]

Starts, all on 127.0.0.1 and all removed at the end:
  * its own PostgreSQL database (created, migrated, dropped) and its own Redis db number
    (claimed like tests/conftest.py, flushed and released);
  * a mock of Twilio's REST API (TWILIO_API_BASE_URL points at it) that creates counselor
    legs, dequeues queue members, cancels and redirects legs, and tells this harness;
  * gunicorn with deploy/gunicorn.conf.py serving wsgi:app, and a second one with the same
    settings serving a bare Flask app that returns static TwiML (the yardstick);
  * N `hotline worker` processes.

Then it plays Twilio: first `--waiting` callers choose Cantonese (two counselors) and wait,
polling the queue's waitUrl every `--poll` seconds as Twilio does after each round of hold
music; then new callers arrive at `--rate` a second for `--duration` seconds (or `--calls`)
choosing Mandarin or English (well staffed). The workers ring counselors through the mock;
the harness answers each leg (whisper, Digits=1, conference), dequeues the caller to the
bridge URL, talks a moment, hangs up and sends both legs' status callbacks. Some callers
give up while waiting. At the end the waiting callers hang up, the workers drain, and every
call's row in `calls` is checked against what the harness did.

Every request is signed as Twilio signs. Latency is measured at the client per endpoint;
the bare app gets a steady trickle of requests during the same window, on the same machine,
so the ratio of the two says what the hotline adds.
"""

from __future__ import annotations

import argparse
import hashlib
import heapq
import http.client
import itertools
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import redis
import yaml
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hotline.counselors import import_roster, parse_roster  # noqa: E402
from hotline.db import Database  # noqa: E402
from hotline.events import EventBuffer  # noqa: E402
from hotline.migrate import upgrade  # noqa: E402
from hotline.queues import QUEUE_NAMES  # noqa: E402
from hotline.routing.board import Board  # noqa: E402
from hotline.telephony.signature import sign  # noqa: E402

HOST = "127.0.0.1"
TOKEN = "load-auth-token-" + uuid.uuid4().hex[:12]
ACCOUNT = "AC" + "7" * 32
HOTLINE_NUMBER = "+390212345678"
PG_ADMIN = os.environ.get(
    "HOTLINE_LOAD_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REDIS_BASE = os.environ.get("HOTLINE_LOAD_REDIS_URL", "redis://127.0.0.1:6379/0")
KEY_DIGITS = {"mandarin": "1", "cantonese": "2", "english": "3"}
HARD_LIMIT_EXTRA = 240.0  # seconds past the planned run after which everything is cut


# ---- a scheduler: tasks at a time, run on a thread pool -----------------------------------
class Scheduler:
    def __init__(self, threads: int) -> None:
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="twilio")
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._cv = threading.Condition()
        self._seq = itertools.count()
        self._stop = False
        self.inflight = 0
        self.lag: list[float] = []
        self.failures: list[str] = []
        threading.Thread(target=self._loop, daemon=True, name="scheduler").start()

    def at(self, when: float, fn: Callable[[], None]) -> None:
        with self._cv:
            heapq.heappush(self._heap, (when, next(self._seq), fn))
            self.inflight += 1
            self._cv.notify()

    def soon(self, delay: float, fn: Callable[[], None]) -> None:
        self.at(time.monotonic() + delay, fn)

    def _loop(self) -> None:
        while True:
            with self._cv:
                while not self._stop and (not self._heap or self._heap[0][0] > time.monotonic()):
                    timeout = self._heap[0][0] - time.monotonic() if self._heap else 0.5
                    self._cv.wait(max(0.0, min(timeout, 0.5)))
                if self._stop:
                    return
                when, _, fn = heapq.heappop(self._heap)
            self.lag.append(time.monotonic() - when)
            self.pool.submit(self._run, fn)

    def _run(self, fn: Callable[[], None]) -> None:
        try:
            fn()
        except Exception as exc:  # a harness bug must show, not hang the run
            self.failures.append(f"{type(exc).__name__}: {exc}")
        finally:
            with self._cv:
                self.inflight -= 1

    def idle(self) -> bool:
        with self._cv:
            return self.inflight == 0

    def stop(self) -> None:
        with self._cv:
            self._stop = True
            self._cv.notify()
        self.pool.shutdown(wait=True, cancel_futures=True)


# ---- HTTP as Twilio sends it --------------------------------------------------------------
class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.samples: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, int] = defaultdict(int)
        self.error_examples: list[str] = []
        self.recording = False

    def add(self, name: str, seconds: float, ok: bool, note: str = "") -> None:
        if not self.recording:
            return
        with self.lock:
            self.samples[name].append(seconds)
            if not ok:
                self.errors[name] += 1
                if len(self.error_examples) < 10:
                    self.error_examples.append(f"{name}: {note[:200]}")


class Client:
    """Signed form POSTs with one kept-alive connection per thread and server."""

    def __init__(self, stats: Stats) -> None:
        self.stats = stats
        self.local = threading.local()

    def _conn(self, netloc: str) -> http.client.HTTPConnection:
        conns = self.local.__dict__.setdefault("conns", {})
        if netloc not in conns:
            host, port = netloc.split(":")
            conns[netloc] = http.client.HTTPConnection(host, int(port), timeout=30)
        return conns[netloc]

    def post(self, url: str, params: dict[str, str], name: str | None = None) -> tuple[int, str]:
        parts = urlsplit(url)
        assert parts.hostname == HOST, url  # traffic goes to this machine only
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        body = urlencode(params)
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": sign(TOKEN, url, params),
            "User-Agent": "TwilioProxy/1.1",
        }
        name = name or parts.path
        for attempt in (1, 2):
            conn = self._conn(parts.netloc)
            started = time.perf_counter()
            try:
                conn.request("POST", path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read().decode("utf-8", "replace")
            except (http.client.HTTPException, OSError) as exc:
                conn.close()
                if attempt == 1 and isinstance(
                    exc, http.client.RemoteDisconnected | BrokenPipeError | ConnectionResetError
                ):
                    continue  # the server closed an idle keep-alive connection: resend
                self.stats.add(name, time.perf_counter() - started, False, repr(exc))
                return 599, ""
            elapsed = time.perf_counter() - started
            ok = resp.status == 200
            note = f"HTTP {resp.status} {data[:120]}"
            if ok:
                try:
                    if ET.fromstring(data).tag != "Response":
                        ok, note = False, f"not TwiML: {data[:120]}"
                except ET.ParseError:
                    ok, note = False, f"not XML: {data[:120]}"
            self.stats.add(name, elapsed, ok, note)
            return resp.status, data
        raise AssertionError("unreachable")


# ---- calls as the harness plays them ------------------------------------------------------
@dataclass
class Call:
    sid: str
    language: str
    caller: str
    abandon_after: float | None  # seconds in the queue, None = waits to the end
    lock: threading.Lock = field(default_factory=threading.Lock)
    state: str = "new"  # new, ivr, queued, dequeued, talking, done
    queued_at: float = 0.0
    wait_url: str = ""
    action_url: str = ""
    expected: str = ""
    notes: list[str] = field(default_factory=list)


@dataclass
class Leg:
    sid: str
    to: str
    url: str
    status_callback: str
    lock: threading.Lock = field(default_factory=threading.Lock)
    status: str = "ringing"  # ringing, in-progress, completed, canceled
    caller: Call | None = None
    reported: bool = False


class Twilio:
    """Plays Twilio's side of every call: the caller's and the counselor's legs."""

    def __init__(self, base: str, sched: Scheduler, client: Client, args: argparse.Namespace):
        self.base = base
        self.sched = sched
        self.client = client
        self.args = args
        self.calls: dict[str, Call] = {}
        self.legs: dict[str, Leg] = {}
        self.lock = threading.Lock()
        self.rng = random.Random(7)
        self.numbers = itertools.count(1)
        self.offers: dict[str, Leg] = {}
        self.closing = False  # the run is ending: whoever waits hangs up

    # -- the caller's leg
    def params(self, call: Call, status: str = "in-progress", **extra: str) -> dict[str, str]:
        return {
            "CallSid": call.sid,
            "AccountSid": ACCOUNT,
            "From": call.caller,
            "To": HOTLINE_NUMBER,
            "CallStatus": status,
            "Direction": "inbound",
            "ApiVersion": "2010-04-01",
            **extra,
        }

    def place(self, language: str, abandon_after: float | None) -> Call:
        n = next(self.numbers)
        call = Call(
            sid="CA" + uuid.uuid4().hex,
            language=language,
            caller=f"+39333{n:07d}",
            abandon_after=abandon_after,
        )
        with self.lock:
            self.calls[call.sid] = call
        self.sched.soon(0, lambda: self.incoming(call))
        return call

    def incoming(self, call: Call) -> None:
        call.state = "ivr"
        _, body = self.client.post(f"{self.base}/voice/incoming", self.params(call))
        root = _xml(body)
        gather = root.find("Gather") if root is not None else None
        if gather is None:
            return self.fail(call, "no language menu")
        _, body = self.client.post(
            gather.get("action", ""), self.params(call, Digits=KEY_DIGITS[call.language])
        )
        root = _xml(body)
        enqueue = root.find("Enqueue") if root is not None else None
        if enqueue is None:
            return self.fail(call, f"not queued: {body[:200]}")
        with call.lock:
            call.wait_url = enqueue.get("waitUrl", "")
            call.action_url = enqueue.get("action", "")
            call.state = "queued"
            call.queued_at = time.monotonic()
        self.wait_round(call)
        if call.abandon_after is not None:
            self.sched.soon(call.abandon_after, lambda: self.hang_up_waiting(call))

    def queue_sid(self, call: Call) -> str:
        return "QU" + hashlib.md5(call.language.encode()).hexdigest()

    def wait_round(self, call: Call) -> None:
        with call.lock:
            if call.state != "queued":
                return
            queue_time = int(time.monotonic() - call.queued_at)
        if self.closing:
            return self.leave_queue(call, "hangup")
        _, body = self.client.post(
            call.wait_url,
            self.params(
                call,
                QueueSid=self.queue_sid(call),
                QueueTime=str(queue_time),
                QueuePosition="1",
                AvgQueueTime="30",
                CurrentQueueSize="10",
            ),
        )
        root = _xml(body)
        if root is not None and root.find("Leave") is not None:
            return self.leave_queue(call, "leave")
        poll = self.args.poll * self.rng.uniform(0.8, 1.2)
        self.sched.soon(poll, lambda: self.wait_round(call))

    def hang_up_waiting(self, call: Call) -> None:
        self.leave_queue(call, "hangup")

    def leave_queue(self, call: Call, result: str) -> None:
        with call.lock:
            if call.state != "queued":
                return  # dequeued meanwhile: the bridge wins
            call.state = "done"
            queue_time = int(time.monotonic() - call.queued_at)
        call.expected = "abandoned_queue" if result == "hangup" else "overflow"
        self.client.post(
            call.action_url,
            self.params(
                call, QueueResult=result, QueueTime=str(queue_time), QueueSid=self.queue_sid(call)
            ),
        )
        self.status(call, queue_time)

    def status(self, call: Call, duration: int) -> None:
        self.client.post(
            f"{self.base}/voice/status",
            self.params(call, "completed", CallDuration=str(max(duration, 1)), SequenceNumber="3"),
        )

    def fail(self, call: Call, why: str) -> None:
        call.notes.append(why)
        call.state = "done"
        call.expected = "harness-failed"

    # -- what the REST mock tells us
    def rest_create(self, form: dict[str, str]) -> dict[str, Any]:
        leg = Leg(
            sid="CA" + uuid.uuid4().hex,
            to=form.get("To", ""),
            url=form.get("Url", ""),
            status_callback=form.get("StatusCallback", ""),
        )
        with self.lock:
            self.legs[leg.sid] = leg
            self.offers[_offer(leg.url)] = leg
        self.sched.soon(self.args.ring, lambda: self.counselor_picks_up(leg))
        return {"sid": leg.sid, "status": "queued", "to": leg.to, "from": form.get("From")}

    def rest_dequeue(self, call_sid: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        call = self.calls.get(call_sid)
        if call is None:
            return 404, {"code": 20404, "status": 404, "message": "not found"}
        with call.lock:
            if call.state != "queued":
                return 404, {"code": 20404, "status": 404, "message": "not in queue"}
            call.state = "dequeued"
        url = form.get("Url", "")
        leg = self.offers.get(_offer(url))
        if leg is not None:
            leg.caller = call  # the two legs now meet in one conference
        self.sched.soon(0, lambda: self.bridge(call, url))
        return 200, {"call_sid": call_sid, "queue_sid": self.queue_sid(call), "position": 1}

    def rest_fetch(self, leg_sid: str) -> tuple[int, dict[str, Any]]:
        leg = self.legs.get(leg_sid)
        if leg is None:
            return 404, {"code": 20404, "status": 404, "message": "not found"}
        return 200, {"sid": leg.sid, "status": leg.status}

    def rest_update(self, leg_sid: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        leg = self.legs.get(leg_sid)
        if leg is None:
            return 404, {"code": 20404, "status": 404, "message": "not found"}
        if form.get("Status") in ("canceled", "completed"):
            with leg.lock:
                before, leg.status = leg.status, form["Status"]
            if before in ("ringing", "in-progress"):
                self.sched.soon(0, lambda: self.leg_status(leg, leg.status))
        elif form.get("Url"):
            url = form["Url"]
            self.sched.soon(0, lambda: self.leg_redirected(leg, url))
        return 200, {"sid": leg.sid, "status": leg.status}

    # -- the counselor's leg
    def leg_params(self, leg: Leg, status: str = "in-progress", **extra: str) -> dict[str, str]:
        return {
            "CallSid": leg.sid,
            "AccountSid": ACCOUNT,
            "From": HOTLINE_NUMBER,
            "To": leg.to,
            "CallStatus": status,
            "Direction": "outbound-api",
            "ApiVersion": "2010-04-01",
            **extra,
        }

    def counselor_picks_up(self, leg: Leg) -> None:
        with leg.lock:
            if leg.status != "ringing":
                return  # cancelled while ringing; its status callback is on its way
            leg.status = "in-progress"
        _, body = self.client.post(leg.url, self.leg_params(leg))
        root = _xml(body)
        gather = root.find("Gather") if root is not None else None
        if gather is None:
            return self.leg_status(leg, "completed")
        _, body = self.client.post(gather.get("action", ""), self.leg_params(leg, Digits="1"))
        root = _xml(body)
        if root is None or root.find("Dial/Conference") is None:
            return self.leg_status(leg, "completed")
        # In the conference; the caller's hang-up ends it (end_conference_on_exit).

    def leg_redirected(self, leg: Leg, url: str) -> None:
        self.client.post(url, self.leg_params(leg))
        self.leg_status(leg, "completed")

    def leg_status(self, leg: Leg, status: str) -> None:
        with leg.lock:
            if leg.reported:
                return
            leg.reported = True
            leg.status = status
        self.client.post(
            leg.status_callback,
            self.leg_params(leg, status, CallDuration="3", SequenceNumber="3"),
        )

    def bridge(self, call: Call, url: str) -> None:
        _, body = self.client.post(url, self.params(call))
        root = _xml(body)
        conference = root.find("Dial/Conference") if root is not None else None
        if conference is None:
            call.notes.append(f"bridge gave no conference: {body[:200]}")
            call.expected = "failed"
            call.state = "done"
            self.status(call, 1)
            return
        with call.lock:
            call.state = "talking"
        call.expected = "answered"
        self.sched.soon(self.args.talk, lambda: self.end_talk(call))

    def end_talk(self, call: Call) -> None:
        with call.lock:
            call.state = "done"
            waited = int(time.monotonic() - call.queued_at)
        self.status(call, waited + int(self.args.talk))
        for other in self.legs_in_conference(call):
            self.leg_status(other, "completed")

    def legs_in_conference(self, call: Call) -> list[Leg]:
        return [leg for leg in list(self.legs.values()) if leg.caller is call]


def _offer(url: str) -> str:
    return parse_qs(urlsplit(url).query).get("o", [""])[0]


def _xml(body: str) -> ET.Element | None:
    try:
        return ET.fromstring(body)
    except ET.ParseError:
        return None


# ---- the mock of Twilio's REST API ---------------------------------------------------------
CALLS = re.compile(r"^/2010-04-01/Accounts/AC\w+/Calls\.json$")
CALL = re.compile(r"^/2010-04-01/Accounts/AC\w+/Calls/(CA\w+)\.json$")
MEMBER = re.compile(r"^/2010-04-01/Accounts/AC\w+/Queues/(QU\w+)/Members/(CA\w+)\.json$")


def rest_mock(twilio_ref: list[Twilio], counts: dict[str, int]) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _form(self) -> dict[str, str]:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode() if length else ""
            return {k: v[0] for k, v in parse_qs(raw).items()}

        def do_GET(self) -> None:
            twilio = twilio_ref[0]
            path = urlsplit(self.path).path
            if m := CALL.match(path):
                counts["fetch"] += 1
                self._answer(*twilio.rest_fetch(m.group(1)))
            else:
                self._answer(404, {"code": 20404, "status": 404})

        def do_POST(self) -> None:
            twilio = twilio_ref[0]
            path = urlsplit(self.path).path
            form = self._form()
            if CALLS.match(path):
                counts["create"] += 1
                self._answer(201, twilio.rest_create(form))
            elif m := CALL.match(path):
                counts["update"] += 1
                self._answer(*twilio.rest_update(m.group(1), form))
            elif m := MEMBER.match(path):
                counts["dequeue"] += 1
                self._answer(*twilio.rest_dequeue(m.group(2), form))
            else:
                self._answer(404, {"code": 20404, "status": 404})

    server = ThreadingHTTPServer((HOST, 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True, name="rest-mock").start()
    return server


# ---- the infrastructure ---------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@contextmanager
def postgres_database() -> Iterator[str]:
    name = f"hotline_load_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    parts = urlsplit(PG_ADMIN)
    url = f"{parts.scheme}://{parts.netloc}/{name}"
    try:
        upgrade(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def redis_database() -> Iterator[str]:
    control = redis.Redis.from_url(REDIS_BASE)
    token = f"load-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    for number in range(15, 0, -1):  # from the top: tests claim from the bottom
        key = f"hotline-test:claim:{number}"
        if control.set(key, token, nx=True, ex=3600):
            parts = urlsplit(REDIS_BASE)
            url = f"{parts.scheme}://{parts.netloc}/{number}"
            redis.Redis.from_url(url).flushdb()
            try:
                yield url
            finally:
                redis.Redis.from_url(url).flushdb()
                control.delete(key)
            return
    raise SystemExit("no free Redis database number")


def flows_open_all_day(target: Path) -> Path:
    """The real flow, open around the clock (the run must not depend on the hour)."""
    shutil.copytree(ROOT / "ivr_flows", target)
    path = target / "hotline.yaml"
    flow = yaml.safe_load(path.read_text(encoding="utf-8"))
    flow["hours"] = {
        "timezone": "Asia/Shanghai",
        "weekly": {d: ["00:00-24:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
        "holidays": None,
    }
    path.write_text(yaml.safe_dump(flow, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return target


def roster(mandarin: int, english: int, cantonese: int) -> str:
    all_week = [
        {
            "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
            "start": "00:00",
            "end": "24:00",
        }
    ]
    people = []
    n = itertools.count(1)
    for language, count in (("mandarin", mandarin), ("english", english), ("cantonese", cantonese)):
        for i in range(count):
            people.append(
                {
                    "name": f"{language}-{i + 1}",
                    "phone": f"+86138{next(n):08d}",
                    "languages": [language],
                    "shifts": all_week,
                }
            )
    return yaml.safe_dump({"counselors": people}, allow_unicode=True)


def start(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    out = open(log, "ab")  # noqa: SIM115 - kept open for the child's lifetime
    return subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
    )


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for p in processes:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    for p in processes:
        try:
            p.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


def wait_http(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    parts = urlsplit(url)
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=2)
            conn.request("GET", parts.path)
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} did not come up")


# ---- figures --------------------------------------------------------------------------------
def pct(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else 0.0


def table(stats: Stats, seconds: float) -> tuple[str, float, float]:
    lines = [
        f"{'endpoint':32} {'requests':>8} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'max ms':>7} {'errors':>6}"
    ]
    hotline_all: list[float] = []
    for name in sorted(stats.samples):
        s = sorted(stats.samples[name])
        if name.startswith("/voice/"):
            hotline_all.extend(s)
        lines.append(
            f"{name:32} {len(s):8} {len(s) / seconds:7.1f} {pct(s, 0.5):7.1f} {pct(s, 0.95):7.1f} "
            f"{pct(s, 0.99):7.1f} {s[-1] * 1000:7.1f} {stats.errors.get(name, 0):6}"
        )
    hotline_all.sort()
    errors = sum(v for k, v in stats.errors.items() if k.startswith("/voice/"))
    lines.append(
        f"{'all /voice webhooks':32} {len(hotline_all):8} {len(hotline_all) / seconds:7.1f} "
        f"{pct(hotline_all, 0.5):7.1f} {pct(hotline_all, 0.95):7.1f} {pct(hotline_all, 0.99):7.1f} "
        f"{(hotline_all[-1] * 1000 if hotline_all else 0):7.1f} {errors:6}"
    )
    bare = sorted(stats.samples.get("bare /static", []))
    return "\n".join(lines), pct(hotline_all, 0.99), pct(bare, 0.99)


# ---- the run --------------------------------------------------------------------------------
def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=float, default=20.0, help="new calls a second")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of new calls")
    parser.add_argument("--calls", type=int, default=None, help="at most this many new calls")
    parser.add_argument("--waiting", type=int, default=1000, help="callers kept waiting")
    parser.add_argument("--fill-rate", type=float, default=50.0, help="calls/s placing them")
    parser.add_argument("--workers", type=int, default=2, help="hotline worker processes")
    parser.add_argument("--web-workers", type=int, default=2, help="gunicorn WEB_CONCURRENCY")
    parser.add_argument(
        "--web-class", default=None, help="override GUNICORN_WORKER_CLASS (sync, gthread)"
    )
    parser.add_argument("--web-threads", type=int, default=None, help="override GUNICORN_THREADS")
    parser.add_argument("--poll", type=float, default=30.0, help="seconds between waitUrl rounds")
    parser.add_argument("--talk", type=float, default=3.0, help="seconds a conversation lasts")
    parser.add_argument("--ring", type=float, default=0.3, help="seconds a counselor's phone rings")
    parser.add_argument("--abandon", type=float, default=0.1, help="share of new callers giving up")
    parser.add_argument("--bare-rate", type=float, default=10.0, help="requests/s to the bare app")
    parser.add_argument("--threads", type=int, default=48, help="harness threads")
    parser.add_argument("--counselors", default="80,40,2", help="mandarin,english,cantonese")
    args = parser.parse_args()
    calls_cap = args.calls if args.calls is not None else int(args.rate * args.duration)
    hard_deadline = (
        time.monotonic() + args.waiting / args.fill_rate + args.duration + HARD_LIMIT_EXTRA
    )

    tmp = Path(tempfile.mkdtemp(prefix="hotline-load-"))
    processes: list[subprocess.Popen[bytes]] = []
    print(f"hotline load test: logs in {tmp}", flush=True)
    with postgres_database() as db_url, redis_database() as redis_url:
        print(
            f"PostgreSQL database {urlsplit(db_url).path[1:]}, Redis db {urlsplit(redis_url).path[1:]}",
            flush=True,
        )
        mandarin, english, cantonese = (int(x) for x in args.counselors.split(","))
        database = Database(db_url)
        with database.session() as session:
            import_roster(session, parse_roster(roster(mandarin, english, cantonese), "load.yaml"))
        total_counselors = mandarin + english + cantonese

        sched = Scheduler(args.threads)
        stats = Stats()
        client = Client(stats)
        twilio_ref: list[Twilio] = []
        rest_counts: dict[str, int] = defaultdict(int)
        mock = rest_mock(twilio_ref, rest_counts)
        port, bare_port = free_port(), free_port()
        base = f"http://{HOST}:{port}"
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "HOTLINE_DOTENV": str(tmp / "no.env"),
            "HOTLINE_DATABASE_URL": db_url,
            "REDIS_URL": redis_url,
            "TWILIO_ACCOUNT_SID": ACCOUNT,
            "TWILIO_AUTH_TOKEN": TOKEN,
            "TWILIO_API_BASE_URL": f"http://{HOST}:{mock.server_address[1]}",
            "HOTLINE_PUBLIC_URL": base,
            "HOTLINE_FLOWS_DIR": str(flows_open_all_day(tmp / "flows")),
            "HOTLINE_INSTANCE_PATH": str(tmp / "instance"),
            "HOTLINE_SECRET_KEY": uuid.uuid4().hex,
            "HOTLINE_NUMBER_HASH_KEY": uuid.uuid4().hex,
            "HOTLINE_LOG_LEVEL": "WARNING",
            "HOTLINE_WRAP_UP_SECONDS": "1",
            "WEB_CONCURRENCY": str(args.web_workers),
            "BIND_HOST": HOST,
        }
        env.pop("HOTLINE_DEV_MODE", None)
        if args.web_threads:
            env["GUNICORN_THREADS"] = str(args.web_threads)
        if args.web_class:
            env["GUNICORN_WORKER_CLASS"] = args.web_class
        gunicorn = [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            str(ROOT / "deploy" / "gunicorn.conf.py"),
        ]
        try:
            processes.append(
                start([*gunicorn, "--bind", f"{HOST}:{port}", "wsgi:app"], env, tmp / "web.log")
            )
            processes.append(
                start(
                    [
                        *gunicorn,
                        "--bind",
                        f"{HOST}:{bare_port}",
                        "--chdir",
                        str(ROOT / "bench"),
                        "bare_wsgi:app",
                    ],
                    env,
                    tmp / "bare.log",
                )
            )
            for i in range(args.workers):
                processes.append(
                    start(
                        [sys.executable, "-m", "hotline.cli", "worker"],
                        env,
                        tmp / f"worker-{i}.log",
                    )
                )
            wait_http(f"{base}/readyz")
            wait_http(f"http://{HOST}:{bare_port}/healthz")
            conn = redis.Redis.from_url(redis_url)
            board = Board(conn)
            deadline = time.monotonic() + 40
            while len(board.counselors()) < total_counselors:
                if time.monotonic() > deadline:
                    raise SystemExit("the workers did not put the counselors on the board")
                time.sleep(0.5)
            twilio = Twilio(base, sched, client, args)
            twilio_ref.append(twilio)
            print(
                f"gunicorn: {args.web_workers} {env.get('GUNICORN_WORKER_CLASS', 'gthread')} workers "
                f"({env.get('GUNICORN_THREADS', '4')} threads if gthread); {args.workers} hotline workers; "
                f"{total_counselors} counselors ({mandarin} mandarin, {english} english, {cantonese} cantonese)",
                flush=True,
            )

            # Phase 1: callers who will wait (Cantonese: two counselors for all of them).
            t0 = time.monotonic()
            for i in range(args.waiting):
                sched.at(t0 + i / args.fill_rate, lambda: twilio.place("cantonese", None))
            while time.monotonic() < t0 + args.waiting / args.fill_rate + 2:
                time.sleep(0.5)
            waiting_now = sum(1 for c in list(twilio.calls.values()) if c.state == "queued")
            print(
                f"phase 1: {args.waiting} callers placed, {waiting_now} waiting ({time.monotonic() - t0:.0f} s)",
                flush=True,
            )

            # Phase 2: new calls at the target rate, measured; the bare app gets a trickle.
            stats.recording = True
            t1 = time.monotonic()
            rng = random.Random(11)
            for i in range(calls_cap):
                when = t1 + i / args.rate
                if when > t1 + args.duration:
                    break
                language = "mandarin" if rng.random() < 0.7 else "english"
                abandon = rng.uniform(0.5, 4.0) if rng.random() < args.abandon else None
                sched.at(when, lambda lang=language, ab=abandon: twilio.place(lang, ab))
            bare_url = f"http://{HOST}:{bare_port}/static"
            for i in range(int(args.duration * args.bare_rate)):
                sched.at(
                    t1 + i / args.bare_rate,
                    lambda: client.post(bare_url, {"CallSid": "CA" + "0" * 32}, "bare /static"),
                )
            end_of_arrivals = t1 + min(args.duration, calls_cap / args.rate)
            next_report = t1 + 10
            while time.monotonic() < end_of_arrivals + 0.5:
                time.sleep(0.5)
                if time.monotonic() >= next_report:
                    next_report += 10
                    print(
                        f"  {time.monotonic() - t1:3.0f} s: {progress(twilio, board)}", flush=True
                    )
            # Let the last arrivals get through the IVR before the window closes.
            time.sleep(3)
            stats.recording = False
            window = time.monotonic() - t1
            in_queue = sum(1 for c in list(twilio.calls.values()) if c.state == "queued")
            print(
                f"phase 2: {len(twilio.calls) - args.waiting} new calls in {window:.0f} s; {in_queue} waiting now",
                flush=True,
            )

            # Phase 3: conversations end; everyone still waiting hangs up; workers drain.
            twilio.closing = True
            for call in list(twilio.calls.values()):
                if call.state in ("queued", "ivr", "new"):
                    sched.soon(
                        rng.uniform(0, 5) + args.talk,
                        lambda c=call: twilio.leave_queue(c, "hangup"),
                    )
            settle_deadline = time.monotonic() + 120
            while not sched.idle() and time.monotonic() < min(settle_deadline, hard_deadline):
                # Waiting callers re-poll until they hang up; stop re-polling those done.
                time.sleep(0.5)
            # Stop the wait loops of anyone left (they are done) and let callbacks land.
            time.sleep(2)
            drained = wait_for_drain(conn, hard_deadline)
            mismatches, report = check_calls(database, twilio)
        finally:
            sched.stop()
            stop(processes)
            mock.shutdown()
        database.dispose()

    text_table, p99, bare_p99 = table(stats, window)
    lags = sorted(sched.lag)
    print()
    print(text_table)
    print(
        f"bare Flask app (same gunicorn settings, same window): p99 {bare_p99:.1f} ms; "
        f"hotline webhooks p99 {p99:.1f} ms; ratio {p99 / bare_p99 if bare_p99 else float('nan'):.1f}x"
    )
    print(
        f"harness lateness p50 {pct(lags, 0.5):.1f} ms, p99 {pct(lags, 0.99):.1f} ms; harness errors {len(sched.failures)}"
    )
    print(f"Twilio REST mock: {dict(rest_counts)}")
    print(f"workers drained: {'yes' if drained else 'NO (timed out)'}")
    print(report)
    print(f"mismatches: {mismatches}")
    for example in stats.error_examples + sched.failures[:10]:
        print(f"  error: {example}")
    ok = mismatches == 0 and not stats.errors
    if ok:
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        print(f"logs kept in {tmp}")
    return 0 if ok else 1


def progress(twilio: Twilio, board: Board) -> str:
    calls: dict[str, int] = defaultdict(int)
    for call in list(twilio.calls.values()):
        calls[call.state] += 1
    counselors: dict[str, int] = defaultdict(int)
    for state in board.counselors().values():
        counselors[state.get("state", "?")] += 1
    return f"callers {dict(calls)}; counselors {dict(counselors)}"


def wait_for_drain(conn: redis.Redis, hard_deadline: float) -> bool:
    from rq import Queue
    from rq.registry import StartedJobRegistry

    buffer = EventBuffer(conn)
    quiet_since = None
    while time.monotonic() < hard_deadline:
        busy = buffer.pending() + buffer.claimed()
        for name in QUEUE_NAMES:
            q = Queue(name, connection=conn)
            busy += len(q) + len(StartedJobRegistry(queue=q))
        if busy == 0:
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since > 2:
                return True
        else:
            quiet_since = None
        time.sleep(0.5)
    return False


def resummarize(database: Database, sid: str) -> str | None:
    """What the summary would be if rebuilt now: tells a lost event from a stale summary."""
    from hotline.calllog import summarize
    from hotline.models import CallEvent

    with database.session() as session:
        events = session.query(CallEvent).filter(CallEvent.call_sid == sid).all()
        return summarize(sid, events).outcome


def check_calls(database: Database, twilio: Twilio) -> tuple[int, str]:
    with database.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT call_sid, count(*), min(outcome) FROM calls GROUP BY call_sid")
        ).all()
    found = {sid: (n, outcome) for sid, n, outcome in rows}
    expected = {c.sid: c.expected or "unfinished" for c in twilio.calls.values()}
    outcomes: dict[str, int] = defaultdict(int)
    missing = duplicated = wrong = 0
    examples: list[str] = []
    for sid, want in expected.items():
        outcomes[want] += 1
        if sid not in found:
            missing += 1
            if len(examples) < 5:
                examples.append(f"{sid}: expected {want}, no row")
            continue
        n, got = found[sid]
        if n != 1:
            duplicated += 1
        if got != want:
            wrong += 1
            if len(examples) < 5:
                examples.append(
                    f"{sid}: expected {want}, got {got} (from its events now: {resummarize(database, sid)})"
                )
    strangers = len(set(found) - set(expected))
    report = (
        f"calls placed {len(expected)}: {dict(outcomes)}\n"
        f"calls table: {len(found)} rows; missing {missing}, more than once {duplicated}, "
        f"wrong outcome {wrong}, rows for calls never placed {strangers}"
    )
    if examples:
        report += "\n" + "\n".join(f"  {e}" for e in examples)
    return missing + duplicated + wrong + strangers, report


if __name__ == "__main__":
    sys.exit(main())
