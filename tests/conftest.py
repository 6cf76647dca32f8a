"""Shared fixtures.

Each test run takes its own Redis database number (claimed in db 0 with SET NX, so parallel
runs on one machine never share one) and its own PostgreSQL database (created and dropped by
the run). Where Redis or PostgreSQL cannot be reached the run says so in its header and uses
the in-process Redis stand-in / skips the PostgreSQL variants; HOTLINE_TEST_REQUIRE_REDIS=1 and
HOTLINE_TEST_REQUIRE_POSTGRES=1 (set by .ci/run for what it found running) make that a failure.
"""

from __future__ import annotations

import os
import shutil
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
from hypothesis import HealthCheck, settings

from hotline import create_app
from hotline.db import Database
from hotline.migrate import upgrade
from hotline.models import Base
from hotline.telephony.signature import sign

settings.register_profile(
    "default", deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
# CI: the same examples every run, so a red run can be reproduced and never flickers.
settings.register_profile(
    "ci",
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.load_profile("ci" if os.environ.get("CI") else "default")

ROOT = Path(__file__).resolve().parent.parent
AUTH_TOKEN = "test-auth-token-0123456789abcdef"
ACCOUNT_SID = "AC" + "1" * 32
PUBLIC_URL = "https://hotline.example.org"
REDIS_URL = os.environ.get("HOTLINE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
PG_URL = os.environ.get(
    "HOTLINE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REQUIRE_REDIS = os.environ.get("HOTLINE_TEST_REQUIRE_REDIS") == "1"
REQUIRE_POSTGRES = os.environ.get("HOTLINE_TEST_REQUIRE_POSTGRES") == "1"


def pytest_report_header(config: pytest.Config) -> list[str]:
    redis_state = (
        "reachable, used"
        if _reachable(REDIS_URL)
        else "NOT reachable: stand-in, real-Redis tests skipped"
    )
    pg_state = (
        "reachable, used" if _reachable(PG_URL) else "NOT reachable: PostgreSQL variants skipped"
    )
    return [f"Redis {REDIS_URL}: {redis_state}", f"PostgreSQL {PG_URL}: {pg_state}"]


def _reachable(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or 0), timeout=0.5
        ):
            return True
    except OSError:
        return False


# ---- Redis ---------------------------------------------------------------------------------
class RedisDb:
    def __init__(self, url: str, number: int, claim: redis.Redis, key: str) -> None:
        self.url = url
        self.number = number
        self._claim = claim
        self._key = key

    def connection(self) -> redis.Redis:
        return redis.Redis.from_url(self.url)

    def release(self) -> None:
        self.connection().flushdb()
        self._claim.delete(self._key)


@pytest.fixture(scope="session")
def real_redis() -> Iterator[RedisDb | None]:
    if not _reachable(REDIS_URL):
        if REQUIRE_REDIS:
            pytest.fail(f"Redis required but not reachable at {REDIS_URL}")
        yield None
        return
    control = redis.Redis.from_url(REDIS_URL)
    token = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    for number in range(1, 16):
        key = f"hotline-test:claim:{number}"
        if control.set(key, token, nx=True, ex=3 * 3600):
            parts = urlsplit(REDIS_URL)
            url = urlunsplit((parts.scheme, parts.netloc, f"/{number}", "", ""))
            db = RedisDb(url, number, control, key)
            db.connection().flushdb()
            yield db
            db.release()
            return
    pytest.fail("no free Redis database number (1-15) for this test run")


@pytest.fixture
def redis_url(real_redis: RedisDb | None) -> Iterator[str | None]:
    """The real Redis (flushed per test) or None for the in-process stand-in."""
    if real_redis is None:
        from hotline import queues

        queues.reset_fake_server()
        yield None
        return
    real_redis.connection().flushdb()
    yield real_redis.url


@pytest.fixture
def need_real_redis(real_redis: RedisDb | None) -> RedisDb:
    if real_redis is None:
        pytest.skip("Redis is not reachable at " + REDIS_URL)
    real_redis.connection().flushdb()
    return real_redis


# ---- databases -------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str | None]:
    if not _reachable(PG_URL):
        if REQUIRE_POSTGRES:
            pytest.fail(f"PostgreSQL required but not reachable at {PG_URL}")
        yield None
        return
    from sqlalchemy import create_engine, text

    name = f"hotline_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    parts = urlsplit(PG_URL)
    url = urlunsplit((parts.scheme, parts.netloc, f"/{name}", "", ""))
    upgrade(url)
    yield url
    from sqlalchemy import create_engine as _ce

    _ce(url).dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _truncate(url: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:
        tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    """A migrated, empty database: SQLite, and PostgreSQL where reachable."""
    if request.param == "sqlite":
        path = tmp_path / "hotline.db"
        shutil.copy(sqlite_template, path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("postgres_url")
    if url is None:
        pytest.skip("PostgreSQL is not reachable at " + PG_URL)
    _truncate(url)
    return str(url)


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    path = tmp_path / "hotline.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


# ---- the app -----------------------------------------------------------------------------
def make_config(
    tmp_path: Path, database_url: str, redis_url: str | None, **extra: Any
) -> dict[str, Any]:
    return {
        "HOTLINE_DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_API_BASE_URL": "https://api.twilio.test",
        "HOTLINE_PUBLIC_URL": PUBLIC_URL,
        "HOTLINE_DEV_MODE": False,
        "HOTLINE_INSTANCE_PATH": str(tmp_path / "instance"),
        "HOTLINE_SECRET_KEY": "test-secret",
        "HOTLINE_NUMBER_HASH_KEY": "test-hash-key",
        "HOTLINE_FLOWS_DIR": str(ROOT / "ivr_flows"),
        "HOTLINE_RECORDINGS_DIR": str(ROOT / "recordings"),
        **extra,
    }


@pytest.fixture
def app(tmp_path: Path, sqlite_url: str, redis_url: str | None) -> Iterator[Any]:
    app = create_app(make_config(tmp_path, sqlite_url, redis_url))
    yield app
    app.extensions["hotline.db"].dispose()


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


class Twilio:
    """Sends requests the way Twilio does: form-encoded POSTs signed for the public URL."""

    def __init__(self, client: Any, call_sid: str | None = None) -> None:
        self.client = client
        self.call_sid = call_sid or "CA" + uuid.uuid4().hex
        self.base = {
            "CallSid": self.call_sid,
            "AccountSid": ACCOUNT_SID,
            "From": "+393331234567",
            "To": "+390212345678",
            "CallStatus": "in-progress",
            "Direction": "inbound",
            "ApiVersion": "2010-04-01",
        }

    def post(self, path: str, **params: str) -> Any:
        if path.startswith(PUBLIC_URL):
            path = path[len(PUBLIC_URL) :]
        form = {**self.base, **params}
        form = {k: v for k, v in form.items() if v is not None}
        headers = {"X-Twilio-Signature": sign(AUTH_TOKEN, PUBLIC_URL + path, form)}
        return self.client.post(path, data=form, headers=headers)


@pytest.fixture
def twilio(client: Any) -> Twilio:
    return Twilio(client)


def drain(app: Any) -> None:
    """Run the worker's job queue to the end, in this process."""
    from hotline import jobs
    from hotline.queues import connect
    from hotline.worker import make_worker

    jobs.bind_app(app)
    make_worker(connect(app.config["REDIS_URL"], for_web=False)).work(burst=True)


def database(url: str) -> Database:
    return Database(url)
