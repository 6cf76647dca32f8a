"""`hotline callbacks list|reschedule|cancel`: managers see and move callbacks. Numbers are
always masked."""

from __future__ import annotations

import datetime as dt

import click

from ..config import load_settings


def _database() -> object:
    from ..db import Database

    return Database(load_settings()["HOTLINE_DATABASE_URL"])


@click.group()
def callbacks() -> None:
    """Callbacks callers asked for."""


@callbacks.command("list")
@click.option(
    "--status",
    type=click.Choice(["pending", "scheduled", "in_progress", "done", "failed", "cancelled"]),
    multiple=True,
    help="Only these (repeatable).",
)
def list_callbacks(status: tuple[str, ...]) -> None:
    from sqlalchemy import select

    from ..db import Database
    from ..models import Callback
    from ..phone import mask

    database = _database()
    assert isinstance(database, Database)
    with database.session() as session:
        query = select(Callback).order_by(Callback.id)
        if status:
            query = query.where(Callback.status.in_(status))
        for c in session.scalars(query):
            due = c.next_attempt_at.isoformat() if c.next_attempt_at else "-"
            click.echo(
                f"{c.id}\t{c.status}\t{mask(c.number)}\t{c.language}\t"
                f"requested {c.requested_at.isoformat()}\tnext {due}\t"
                f"attempts {c.attempts}\t{c.last_outcome or '-'}"
            )


@callbacks.command("reschedule")
@click.argument("callback_id", type=int)
@click.option("--at", "at", required=True, help="ISO 8601 with offset, e.g. 2026-12-02T09:00+08:00")
def reschedule_callback(callback_id: int, at: str) -> None:
    from ..db import Database
    from .store import CallbackError, reschedule

    try:
        when = dt.datetime.fromisoformat(at)
    except ValueError:
        raise click.ClickException(f"{at!r} is not an ISO 8601 time") from None
    database = _database()
    assert isinstance(database, Database)
    try:
        with database.session() as session:
            row = reschedule(session, callback_id, when)
            click.echo(f"callback {row.id} due {row.next_attempt_at.isoformat()}")  # type: ignore[union-attr]
    except CallbackError as exc:
        raise click.ClickException(str(exc)) from None


@callbacks.command("cancel")
@click.argument("callback_id", type=int)
def cancel_callback(callback_id: int) -> None:
    from ..db import Database
    from .store import CallbackError, cancel

    database = _database()
    assert isinstance(database, Database)
    try:
        with database.session() as session:
            row = cancel(session, callback_id)
            caller_hash = row.caller_hash
            click.echo(f"callback {row.id} cancelled")
    except CallbackError as exc:
        raise click.ClickException(str(exc)) from None
    _clear_pending(caller_hash)


def _clear_pending(caller_hash: str) -> None:
    """The caller may ask again: a new request, not an update of the cancelled one."""
    import redis

    from ..queues import connect
    from .limits import clear_pending

    try:
        clear_pending(connect(load_settings()["REDIS_URL"], for_web=False), caller_hash)
    except redis.RedisError:
        click.echo("Redis unreachable: the caller's pending flag expires on its own", err=True)
