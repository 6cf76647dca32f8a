"""Faults that really happen: Redis stopped mid-call, a worker SIGKILLed mid-drain, the
database stopped under a drain. Each starts real processes (private Redis / PostgreSQL on
free ports in temp dirs, never the shared servers) and stops them again, even on failure."""

from __future__ import annotations

import contextlib
import datetime as dt
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import time_machine
from rq.job import Job
from rq.registry import ScheduledJobRegistry
from sqlalchemy import create_engine, func, select

from hotline import create_app, jobs, migrate
from hotline import events as ev
from hotline.events import EventSink
from hotline.models import Call, CallEvent
from hotline.queues import EVENTS_QUEUE, connect, enqueue_drain
from hotline.worker import make_worker

from .conftest import AUTH_TOKEN, ROOT, RedisDb, Twilio, _truncate, drain, make_config
from .test_events import OPEN, place_answered_call

pytestmark = pytest.mark.slow

DEADLINE = 30.0  # generous: CI machines are slow and loaded; nothing here is a timing test


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(condition: Callable[[], bool], what: str, timeout: float = DEADLINE) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def stop_process(proc: subprocess.Popen[Any] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # its own session: takes any children too
    proc.wait(timeout=10)


@pytest.fixture
def emitted(monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """The id of every event a webhook emitted (pushed or spooled)."""
    ids: set[str] = set()
    original = EventSink.emit

    def spy(self: EventSink, events: Any) -> None:
        events = list(events)
        ids.update(e.event_id for e in events)
        original(self, events)

    monkeypatch.setattr(EventSink, "emit", spy)
    return ids


def stored_ids(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.scalars(select(CallEvent.event_id)))
    finally:
        engine.dispose()


def outcomes(url: str) -> dict[str, str | None]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {
                sid: outcome for sid, outcome in conn.execute(select(Call.call_sid, Call.outcome))
            }
    finally:
        engine.dispose()


# ---- a private Redis -----------------------------------------------------------------------
class PrivateRedis:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "yes", "--dir", str(self.directory)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        wait_for(self._answers, "the private Redis to start")

    def _answers(self) -> bool:
        try:
            return bool(redis.Redis(port=self.port, socket_timeout=1).ping())
        except redis.exceptions.ConnectionError:
            return False

    def shutdown(self) -> None:
        """SHUTDOWN: the append-only file is flushed, as on any orderly stop."""
        with contextlib.suppress(redis.exceptions.ConnectionError):
            redis.Redis(port=self.port, socket_timeout=5).shutdown()
        assert self.proc is not None
        self.proc.wait(timeout=DEADLINE)

    def stop(self) -> None:
        stop_process(self.proc)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed: cannot stop a private Redis")
    server = PrivateRedis(tmp_path / "redis")
    server.directory.mkdir()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_redis_stopped_mid_call_loses_nothing(
    tmp_path: Path, sqlite_url: str, private_redis: PrivateRedis, emitted: set[str]
) -> None:
    app = create_app(make_config(tmp_path, sqlite_url, private_redis.url))
    spool = tmp_path / "instance" / "spool"
    a, b, c = (Twilio(app.test_client()) for _ in range(3))

    def answered_at_once(twilio: Twilio, path: str, **params: str) -> None:
        started = time.monotonic()
        response = twilio.post(path, **params)
        assert response.status_code == 200 and b"<Response" in response.data
        assert time.monotonic() - started < 5  # "at once" on any machine: no hang, no retry loop

    try:
        with time_machine.travel(OPEN, tick=True):
            answered_at_once(a, "/voice/incoming", CallStatus="ringing")
            answered_at_once(a, "/voice/menu?n=language_menu&f=hotline", Digits="3")
            private_redis.shutdown()
            # Call A goes on and ends while Redis is away; call B comes and goes.
            answered_at_once(a, "/voice/queue/wait?n=queue&f=hotline&l=english", QueueTime="3")
            answered_at_once(
                a, "/voice/queue/done?n=queue&f=hotline&l=english",
                QueueResult="bridged", QueueTime="40",
            )  # fmt: skip
            answered_at_once(a, "/voice/status", CallStatus="completed", SequenceNumber="2")
            answered_at_once(b, "/voice/incoming")
            answered_at_once(b, "/voice/status", CallStatus="completed")
            assert list(spool.glob("*.jsonl"))
            private_redis.start()
        # Call C after the restart: its first event goes to Redis and replays the spool.
        place_answered_call(c)
        assert not list(spool.glob("*.jsonl"))
        drain(app)
        ids = stored_ids(sqlite_url)
        assert len(ids) == len(set(ids)) == len(emitted) and set(ids) == emitted
        assert outcomes(sqlite_url) == {
            a.call_sid: "answered",
            b.call_sid: "abandoned_ivr",
            c.call_sid: "answered",
        }
    finally:
        app.extensions["hotline.db"].dispose()


# ---- a worker SIGKILLed mid-drain ----------------------------------------------------------
@pytest.fixture
def pg_url(request: pytest.FixtureRequest) -> str:
    url = request.getfixturevalue("postgres_url")
    if url is None:
        pytest.skip("PostgreSQL is not reachable (the shared test server)")
    _truncate(url)
    return str(url)


def worker_env(tmp_path: Path, database_url: str, redis_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HOTLINE_", "TWILIO_"))}
    env.update(
        REDIS_URL=redis_url,
        HOTLINE_DATABASE_URL=database_url,
        HOTLINE_INSTANCE_PATH=str(tmp_path / "worker-instance"),
        HOTLINE_DOTENV=str(tmp_path / "none.env"),
        HOTLINE_FLOWS_DIR=str(ROOT / "ivr_flows"),
        HOTLINE_RECORDINGS_DIR=str(ROOT / "recordings"),
        HOTLINE_NUMBER_HASH_KEY="test-hash-key",
        TWILIO_AUTH_TOKEN=AUTH_TOKEN,
        HOTLINE_LOG_LEVEL="WARNING",
        PYTHONPATH=str(ROOT),
    )
    return env


def backlog(conn: redis.Redis, calls: int, per_call: int) -> set[str]:
    now = dt.datetime.now(dt.UTC)
    ids: set[str] = set()
    payload: list[str] = []
    for n in range(calls):
        sid = f"CA{n:032x}"
        for k in range(per_call):
            kind = "incoming" if k == 0 else "status" if k == per_call - 1 else "menu"
            data = {"status": "completed"} if kind == "status" else {"step": k}
            event = ev.make_event(sid, kind, data, now, discriminator=str(k), sequence=k)
            ids.add(event.event_id)
            payload.append(event.to_json())
    for start in range(0, len(payload), 2000):
        conn.rpush(ev.PENDING, *payload[start : start + 2000])
    return ids


def count_rows(engine: Any) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(CallEvent)) or 0)


def test_worker_killed_mid_drain_loses_nothing(
    tmp_path: Path, pg_url: str, need_real_redis: RedisDb
) -> None:
    conn = need_real_redis.connection()
    pushed = backlog(conn, calls=2000, per_call=10)
    enqueue_drain(conn)
    env = worker_env(tmp_path, pg_url, need_real_redis.url)
    log = (tmp_path / "worker.log").open("wb")
    engine = create_engine(pg_url)
    first = second = None
    try:
        first = subprocess.Popen(
            [sys.executable, "-m", "hotline.cli", "worker"],
            cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True,
        )  # fmt: skip
        wait_for(lambda: count_rows(engine) > 0, "the first worker to store some events")
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=DEADLINE)
        buffer = ev.EventBuffer(conn)
        at_kill = count_rows(engine)
        assert at_kill < len(pushed), "the worker finished before it was killed"
        assert buffer.pending() + buffer.claimed() > 0
        # The dead worker's claim is returned after CLAIM_TIMEOUT; age it rather than wait.
        for claim in conn.zrange(ev.CLAIM_TIMES, 0, -1):
            conn.zadd(ev.CLAIM_TIMES, {claim: time.time() - jobs.CLAIM_TIMEOUT - 1})
        second = subprocess.Popen(
            [sys.executable, "-m", "hotline.cli", "worker", "--burst"],
            cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True,
        )  # fmt: skip
        assert second.wait(timeout=45) == 0, (tmp_path / "worker.log").read_text()[-3000:]
        ids = stored_ids(pg_url)
        assert len(ids) == len(set(ids)) == len(pushed) and set(ids) == pushed
        assert buffer.pending() == 0 and buffer.claimed() == 0
        assert len(outcomes(pg_url)) == 2000
    finally:
        stop_process(first)
        stop_process(second)
        engine.dispose()
        log.close()


# ---- the database stopped under a drain ----------------------------------------------------
def _pg_binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


class PrivatePostgres:
    """initdb refuses to run as root: as root, everything runs as the postgres user."""

    def __init__(self, initdb: str, pg_ctl: str) -> None:
        self.initdb, self.pg_ctl = initdb, pg_ctl
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="hotline-pg-"))
        self.data = self.root / "data"
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.root, user.pw_uid, user.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        subprocess.run(
            [*self.as_user, *args], check=True, capture_output=True, timeout=60, cwd=self.root
        )

    def init(self) -> None:
        self._run(self.initdb, "-D", str(self.data), "-A", "trust", "-U", "postgres",
                  "-E", "UTF8", "--no-sync")  # fmt: skip

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} -c fsync=off"
        self._run(self.pg_ctl, "-D", str(self.data), "-l", str(self.root / "log"),
                  "-o", options, "-w", "-t", "30", "start")  # fmt: skip

    def stop(self) -> None:
        self._run(self.pg_ctl, "-D", str(self.data), "-m", "fast", "-w", "-t", "30", "stop")

    def cleanup(self) -> None:
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(Exception):
                self._run(self.pg_ctl, "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    initdb, pg_ctl = _pg_binary("initdb"), _pg_binary("pg_ctl")
    if initdb is None or pg_ctl is None:
        pytest.skip("PostgreSQL's initdb/pg_ctl are not installed: cannot stop a private one")
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            pytest.skip("running as root without runuser: initdb cannot run")
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no postgres user for initdb")
    server = PrivatePostgres(initdb, pg_ctl)
    try:
        server.init()
        server.start()
        yield server
    finally:
        server.cleanup()


def test_database_stopped_under_a_drain_loses_nothing(
    tmp_path: Path, private_postgres: PrivatePostgres, need_real_redis: RedisDb, emitted: set[str]
) -> None:
    url = private_postgres.url
    migrate.upgrade(url)
    app = create_app(make_config(tmp_path, url, need_real_redis.url))
    conn = connect(need_real_redis.url, for_web=False)
    buffer = ev.EventBuffer(conn)
    try:
        calls = [Twilio(app.test_client()) for _ in range(3)]
        for twilio in calls:
            place_answered_call(twilio)
        assert buffer.pending() == len(emitted)
        private_postgres.stop()
        drain(app)  # the drain job fails: the database is gone
        assert buffer.pending() == len(emitted) and buffer.claimed() == 0
        [job_id] = ScheduledJobRegistry(EVENTS_QUEUE, connection=conn).get_job_ids()
        job = Job.fetch(job_id, connection=conn)
        assert job.get_status() == "scheduled" and job.func_name == "hotline.jobs.drain_events"
        private_postgres.start()

        def retried() -> bool:
            jobs.bind_app(app)
            make_worker(conn).work(burst=True, with_scheduler=True)
            return Job.fetch(job_id, connection=conn).get_status() == "finished"

        wait_for(retried, "RQ's retry of the drain to land")
        ids = stored_ids(url)
        assert len(ids) == len(set(ids)) == len(emitted) and set(ids) == emitted
        assert set(outcomes(url).values()) == {"answered"} and len(outcomes(url)) == 3
        assert buffer.pending() == 0 and buffer.claimed() == 0
    finally:
        app.extensions["hotline.db"].dispose()
