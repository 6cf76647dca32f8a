"""`hotline jobs failed|retry|discard`: failed jobs are visible (without secrets) and replayable."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from rq import Queue, SimpleWorker
from rq.job import Job
from rq.registry import FailedJobRegistry

from hotline.cli import main
from hotline.jobfailures import scrub
from hotline.queues import EVENTS_QUEUE, TASKS_QUEUE

from .conftest import RedisDb

TOKEN = "jobs-cli-secret-token-0123"


def explode(number: str) -> None:
    raise RuntimeError(
        f"cannot reach postgresql://hotline:pw@db.internal/hotline for {number}, token {TOKEN}"
    )


@pytest.fixture
def env(tmp_path: Path, need_real_redis: RedisDb, monkeypatch: pytest.MonkeyPatch) -> RedisDb:
    monkeypatch.setenv("REDIS_URL", need_real_redis.url)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", TOKEN)
    monkeypatch.setenv("HOTLINE_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setenv("HOTLINE_DOTENV", str(tmp_path / "none.env"))
    return need_real_redis


def fail_jobs(redis_db: RedisDb, n: int = 2) -> list[str]:
    conn = redis_db.connection()
    ids = []
    for i, name in enumerate([EVENTS_QUEUE, TASKS_QUEUE][:n]):
        ids.append(Queue(name, connection=conn).enqueue(explode, f"+39333123456{i}").id)
    SimpleWorker([EVENTS_QUEUE, TASKS_QUEUE], connection=conn).work(burst=True)
    return ids


def run(*args: str) -> Any:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_failed_jobs_are_listed_without_secrets(env: RedisDb) -> None:
    ids = fail_jobs(env)
    result = run("jobs", "failed")
    assert result.exit_code == 0, result.output
    for job_id in ids:
        assert job_id in result.output
    assert "tests.test_jobs_cli.explode" in result.output
    assert "RuntimeError: cannot reach" in result.output
    assert "+39 ••• ••• 4560" in result.output
    for secret in (TOKEN, "3331234560", ":pw@", "hotline:pw"):
        assert secret not in result.output
    assert "2 failed job(s)" in result.output


def test_retry_one_and_discard_all(env: RedisDb) -> None:
    conn = env.connection()
    first, second = fail_jobs(env)
    result = run("jobs", "retry", first)
    assert result.exit_code == 0 and "requeued 1 job(s)" in result.output
    assert Queue(EVENTS_QUEUE, connection=conn).job_ids == [first]
    assert first not in FailedJobRegistry(EVENTS_QUEUE, connection=conn)
    assert run("jobs", "retry", first).exit_code == 1  # not failed any more
    result = run("jobs", "discard", "--all")
    assert "discarded 1 job(s)" in result.output
    assert not Job.exists(second, connection=conn)
    assert "0 failed job(s)" in run("jobs", "failed").output


def test_retry_all_and_usage_errors(env: RedisDb) -> None:
    fail_jobs(env)
    assert "requeued 2 job(s)" in run("jobs", "retry", "--all").output
    assert run("jobs", "retry").exit_code == 2
    assert run("jobs", "discard", "x", "--all").exit_code == 2
    assert run("jobs", "discard", "no-such-job").exit_code == 1


def test_scrub() -> None:
    text = "redis://:hunter2@h:6379/0 +8613800000001 call 13800000001 at port 5432"
    assert scrub(text, ["hunter2"]) == "redis://***@h:6379/0 +86 ••• ••• 0001 call ••• at port 5432"
