"""Failed RQ jobs of the app's queues: listed without secrets or numbers, retried, discarded."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import redis
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job
from rq.registry import FailedJobRegistry

from .phone import mask
from .queues import QUEUE_NAMES

_URL_CREDENTIALS = re.compile(r"(\b[a-zA-Z][\w+.-]*://)[^/\s@]+@")
_E164 = re.compile(r"\+\d{7,15}\b")
_LONG_DIGITS = re.compile(r"\b\d{9,}\b")  # a number without its +: hide it all


@dataclass(frozen=True)
class FailedJob:
    id: str
    queue: str
    function: str
    failed_at: dt.datetime | None
    last_error: str


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """What may be shown of an exception: no credentials, no full phone numbers."""
    for secret in secrets:
        if secret and len(secret) >= 6:
            text = text.replace(secret, "***")
    text = _URL_CREDENTIALS.sub(r"\1***@", text)
    text = _E164.sub(lambda m: mask(m.group(0)), text)
    return _LONG_DIGITS.sub("•••", text)


def _last_line(job: Job) -> str:
    text = ""
    try:
        result = job.latest_result()
    except Exception:  # an unreadable result must not hide the job
        result = None
    if result is not None and result.exc_string:
        text = result.exc_string
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1] if lines else "(no exception recorded)"


def registries(connection: redis.Redis) -> Iterator[FailedJobRegistry]:
    for name in QUEUE_NAMES:
        yield FailedJobRegistry(name, connection=connection)


def failed(connection: redis.Redis, secrets: Iterable[str] = ()) -> list[FailedJob]:
    secrets = list(secrets)
    out: list[FailedJob] = []
    for registry in registries(connection):
        for job_id in registry.get_job_ids():
            try:
                job = Job.fetch(job_id, connection=connection)
            except NoSuchJobError:
                registry.remove(job_id)  # its data expired; the entry alone is noise
                continue
            out.append(
                FailedJob(
                    id=job.id,
                    queue=registry.name,
                    function=job.func_name,
                    failed_at=job.ended_at,
                    last_error=scrub(_last_line(job), secrets)[:300],
                )
            )
    return sorted(out, key=lambda f: f.failed_at or dt.datetime.min.replace(tzinfo=dt.UTC))


def _find(connection: redis.Redis, job_id: str) -> FailedJobRegistry | None:
    for registry in registries(connection):
        if job_id in registry:
            return registry
    return None


def retry(connection: redis.Redis, job_id: str) -> bool:
    """Put a failed job back on its queue. False if it is not a failed job (any more)."""
    registry = _find(connection, job_id)
    if registry is None:
        return False
    try:
        registry.requeue(job_id)
    except (InvalidJobOperation, NoSuchJobError):
        registry.remove(job_id)
        return False
    return True


def discard(connection: redis.Redis, job_id: str) -> bool:
    registry = _find(connection, job_id)
    if registry is None:
        return False
    try:
        registry.remove(job_id, delete_job=True)
    except NoSuchJobError:
        registry.remove(job_id)
    return True
