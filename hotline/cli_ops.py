"""Operating commands: `hotline retention …` and `hotline jobs …` (attached in cli.py)."""

from __future__ import annotations

from pathlib import Path

import click
import redis

from .config import load_settings


def _connection(settings: dict[str, object]) -> redis.Redis:
    from .queues import connect

    url = settings["REDIS_URL"]
    return connect(str(url) if url else None, for_web=False)


# ---- retention ---------------------------------------------------------------------------
@click.group("retention")
def retention_group() -> None:
    """Remove recordings and caller numbers older than the configured limits."""


@retention_group.command("run")
@click.option("--dry-run", is_flag=True, help="count what would go; change nothing")
def retention_run(dry_run: bool) -> None:
    """Delete old recording files (rows marked deleted) and erase old caller numbers,
    keeping their keyed hash."""
    from . import retention
    from .db import Database

    settings = load_settings()
    database = Database(settings["HOTLINE_DATABASE_URL"])
    try:
        report = retention.run(
            database,
            Path(settings["HOTLINE_RECORDINGS_STORAGE"]),
            recordings_days=settings["HOTLINE_RETAIN_RECORDINGS_DAYS"],
            numbers_days=settings["HOTLINE_RETAIN_NUMBERS_DAYS"],
            dry_run=dry_run,
        )
    finally:
        database.dispose()
    for line in report.lines():
        click.echo(line)


# ---- failed jobs -------------------------------------------------------------------------
@click.group("jobs")
def jobs_group() -> None:
    """Failed jobs of the app's queues."""


@jobs_group.command("failed")
def jobs_failed() -> None:
    """List failed jobs: id, queue, function, when, last exception line."""
    from .jobfailures import failed

    settings = load_settings()
    secrets = [str(settings["TWILIO_AUTH_TOKEN"]), str(settings["HOTLINE_NUMBER_HASH_KEY"])]
    found = failed(_connection(settings), secrets)
    for job in found:
        when = job.failed_at.isoformat(timespec="seconds") if job.failed_at else "-"
        click.echo(f"{job.id}  {job.queue}  {job.function}  {when}  {job.last_error}")
    click.echo(f"{len(found)} failed job(s)")


def _each(job_ids: tuple[str, ...], all_: bool, action: str) -> None:
    from . import jobfailures

    if bool(job_ids) == all_:
        raise click.UsageError("give job ids or --all (not both)")
    connection = _connection(load_settings())
    if all_:
        job_ids = tuple(j.id for j in jobfailures.failed(connection))
    do = jobfailures.retry if action == "retry" else jobfailures.discard
    done = 0
    for job_id in job_ids:
        if do(connection, job_id):
            done += 1
            click.echo(f"{action}: {job_id}")
        else:
            click.echo(f"not a failed job: {job_id}", err=True)
    verb = "requeued" if action == "retry" else "discarded"
    click.echo(f"{verb} {done} job(s)")
    if done < len(job_ids):
        raise SystemExit(1)


@jobs_group.command("retry")
@click.argument("job_ids", nargs=-1)
@click.option("--all", "all_", is_flag=True, help="every failed job")
def jobs_retry(job_ids: tuple[str, ...], all_: bool) -> None:
    """Put failed jobs back on their queues."""
    _each(job_ids, all_, "retry")


@jobs_group.command("discard")
@click.argument("job_ids", nargs=-1)
@click.option("--all", "all_", is_flag=True, help="every failed job")
def jobs_discard(job_ids: tuple[str, ...], all_: bool) -> None:
    """Delete failed jobs for good."""
    _each(job_ids, all_, "discard")
