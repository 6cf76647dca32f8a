"""The `hotline` command."""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from pathlib import Path
from typing import Any

import click

from .callbacks import cli as callbacks_cli
from .config import load_settings, redacted
from .dashboard import cli as dashboard_cli


def _app(**overrides: Any) -> Any:
    from . import create_app
    from .flows import FlowError

    try:
        return create_app(overrides or None)
    except FlowError as exc:
        raise click.ClickException(f"flow rejected: {exc}") from None


@click.group()
def main() -> None:
    """心理援助热线 · hotline: run, operate and test the hotline."""


# ---- configuration and database --------------------------------------------------------
@main.command("config")
def show_config() -> None:
    """Print the effective configuration, secrets hidden."""
    for name, value in sorted(redacted(load_settings()).items()):
        click.echo(f"{name}={value}")


@main.group()
def db() -> None:
    """Database schema (Alembic migrations)."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Migrate the database to the newest schema."""
    from . import migrate

    url = load_settings()["HOTLINE_DATABASE_URL"]
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(url, revision)
    click.echo(f"database at revision {migrate.current(url)}")


@db.command("current")
def db_current() -> None:
    """Show the schema revision of the database."""
    from . import migrate

    click.echo(migrate.current(load_settings()["HOTLINE_DATABASE_URL"]) or "empty")


# ---- flows and audio ---------------------------------------------------------------------
@main.group()
def flows() -> None:
    """IVR flow files."""


@flows.command("validate")
@click.argument("directory", required=False, type=click.Path(path_type=Path))
def flows_validate(directory: Path | None) -> None:
    """Check every flow file; exit 1 naming the file, line and reason of the first error."""
    from .flows import FlowError, load_flows

    settings = load_settings()
    directory = directory or Path(settings["HOTLINE_FLOWS_DIR"])
    try:
        flowset = load_flows(directory, Path(settings["HOTLINE_RECORDINGS_DIR"]))
    except FlowError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    for flow in flowset.flows.values():
        numbers = ", ".join(flow.numbers) or "every other number"
        recorded = len(flow.recorded)
        click.echo(
            f"ok: {flow.source.name}: flow {flow.name!r}, {len(flow.nodes)} nodes, "
            f"{len(flow.prompts)} prompts in {', '.join(flow.languages)}, "
            f"{recorded} recorded prompt(s); answers {numbers}"
        )


@main.group()
def audio() -> None:
    """Audio files in recordings/."""


@audio.command("hold-music")
@click.option("--out", type=click.Path(path_type=Path), default=None)
@click.option("--seconds", type=float, default=40.0, show_default=True)
def audio_hold_music(out: Path | None, seconds: float) -> None:
    """Generate the hold music (our own composition, CC0)."""
    from .audio import write_hold_music

    out = out or Path(load_settings()["HOTLINE_RECORDINGS_DIR"]) / "hold" / "hold-music.wav"
    out.parent.mkdir(parents=True, exist_ok=True)
    write_hold_music(out, seconds=seconds)
    click.echo(f"wrote {out}")


# ---- counselors and demo data ------------------------------------------------------------
@main.group()
def counselors() -> None:
    """The counselor roster."""


def _import_roster(path: Path, dry_run: bool) -> None:
    from .counselors import RosterError, import_roster, parse_roster
    from .db import Database

    try:
        specs = parse_roster(path.read_text(encoding="utf-8"), path.name)
    except RosterError as exc:
        raise click.ClickException(str(exc)) from None
    database = Database(load_settings()["HOTLINE_DATABASE_URL"])
    try:
        with database.session() as session:
            changes = import_roster(session, specs, dry_run=dry_run)
    finally:
        database.dispose()
    for change in changes:
        details = f" ({'; '.join(change.details)})" if change.details else ""
        click.echo(f"{change.action:9} {change.name} {change.phone_masked}{details}")
    verb = "would change" if dry_run else "changed"
    changed = sum(1 for c in changes if c.action != "unchanged")
    click.echo(f"{verb} {changed} of {len(changes)} counselors")


@counselors.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="show what would change; change nothing")
def counselors_import(file: Path, dry_run: bool) -> None:
    """Create or update counselors from a YAML or CSV roster (keyed by phone number)."""
    _import_roster(file, dry_run)


@counselors.command("list")
def counselors_list() -> None:
    """Each counselor: languages, state, and whether they are on call now."""
    import datetime as dt

    from sqlalchemy import select

    from .counselors import roster_entries
    from .db import Database
    from .models import Counselor
    from .phone import mask
    from .schedule import is_on_call

    database = Database(load_settings()["HOTLINE_DATABASE_URL"])
    now = dt.datetime.now(dt.UTC)
    try:
        with database.session() as session:
            entries = {e.counselor_id: e for e in roster_entries(session)}
            for c in session.scalars(select(Counselor).order_by(Counselor.name)):
                entry = entries.get(c.id)
                on_call = bool(entry and c.active and is_on_call(entry, now))
                click.echo(
                    f"{c.id:4} {c.name:12} {mask(c.phone):18} {','.join(c.languages):28} "
                    f"{c.state:9} {'on call' if on_call else 'off'}{'' if c.active else ' (inactive)'}"
                )
    finally:
        database.dispose()


@counselors.command("presence")
@click.argument("counselor")
@click.argument("state", type=click.Choice(["available", "away", "offline"]))
def counselors_presence(counselor: str, state: str) -> None:
    """Mark a counselor (id or phone number) available, away or offline. Routing uses it
    at once; during an offer or a call it takes effect afterwards."""
    from sqlalchemy import select

    from .db import get_db
    from .models import Counselor
    from .phone import InvalidNumber, mask, parse_number
    from .routing import set_presence

    app = _app()
    with get_db(app).session() as session:
        if counselor.isdigit():
            found = session.get(Counselor, int(counselor))
        else:
            try:
                phone = parse_number(counselor)
            except InvalidNumber:
                raise click.ClickException("give a counselor id or phone number") from None
            found = session.scalars(select(Counselor).where(Counselor.phone == phone)).first()
        if found is None:
            raise click.ClickException(
                f"no counselor {mask(counselor) if not counselor.isdigit() else counselor}"
            )
        counselor_id, name, phone_masked = found.id, found.name, mask(found.phone)
    now = set_presence(app, counselor_id, state)
    click.echo(
        f"{name} {phone_masked}: {state}" + (f" (after the current {now})" if now != state else "")
    )


@main.group()
def demo() -> None:
    """Demo data for a local run."""


@demo.command("load")
def demo_load() -> None:
    """Load the demo counselors and their shifts (safe to run again)."""
    _import_roster(Path(__file__).parent / "data" / "demo_counselors.yaml", dry_run=False)


# ---- running -----------------------------------------------------------------------------
@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--with-worker/--no-worker", default=True, show_default=True)
def serve(host: str, port: int, with_worker: bool) -> None:
    """Run the web server for local use (production: gunicorn wsgi:app)."""
    from werkzeug.serving import make_server

    app = _app()
    public = app.config["HOTLINE_PUBLIC_URL"] or f"http://{host}:{port}"
    redis_kind = "Redis at REDIS_URL" if app.config["REDIS_URL"] else "in-process Redis stand-in"
    server = make_server(host, port, app, threaded=True)
    click.echo(f"hotline listening on http://{host}:{port} (public URL {public})")
    click.echo(f"database {redacted(app.config)['HOTLINE_DATABASE_URL']}; {redis_kind}")
    if app.config["HOTLINE_DEV_MODE"]:
        click.echo("development mode: Twilio signatures are not checked")
    click.echo(f"place a simulated call:  hotline simulate --url http://{host}:{port} --keys 1")
    if not with_worker:
        server.serve_forever()
        return
    if app.config["REDIS_URL"]:
        import subprocess

        worker = subprocess.Popen([sys.executable, "-m", "hotline.cli", "worker"])
        click.echo(f"RQ worker running beside the server (pid {worker.pid})")
        try:
            server.serve_forever()
        finally:
            worker.terminate()
        return
    # The stand-in lives in this process, so the worker must too: RQ wants the main thread
    # (signals), the web server takes a thread of its own.
    threading.Thread(target=server.serve_forever, daemon=True, name="web").start()
    click.echo("RQ worker running in this process")
    _run_worker(app, burst=False, queues=None, fork=False)


@main.command("worker")
@click.option("--burst", is_flag=True, help="work off what is queued, then exit")
@click.option("--queue", "queues", multiple=True, help="queue names (default: all of the app's)")
@click.option("--fork", is_flag=True, help="fork a work horse per job (RQ's classic worker)")
def worker(burst: bool, queues: tuple[str, ...], fork: bool) -> None:
    """Run an RQ worker on the app's queues."""
    _run_worker(_app(), burst=burst, queues=list(queues) or None, fork=fork)


def _run_worker(app: Any, *, burst: bool, queues: list[str] | None, fork: bool) -> None:
    from . import jobs
    from .queues import connect, enqueue_drain
    from .worker import make_worker

    jobs.bind_app(app)
    connection = connect(app.config["REDIS_URL"], for_web=False)
    # Whatever a dead worker left behind is picked up first.
    app.extensions["hotline.events"].replay_spool()
    enqueue_drain(connection)
    if app.config["REDIS_URL"]:
        make_worker(connection, queues, fork=fork).work(burst=burst, with_scheduler=True)
        return
    # The in-process stand-in: RQ's scheduler (a forked process) cannot see it.
    from .worker import move_due_scheduled_jobs

    def schedule_forever() -> None:
        while True:
            try:
                move_due_scheduled_jobs(connection, queues)
            except Exception:
                logging.getLogger(__name__).exception("moving scheduled jobs failed")
            time.sleep(1)

    threading.Thread(target=schedule_forever, daemon=True, name="scheduler").start()
    make_worker(connection, queues, fork=fork).work(burst=burst, with_scheduler=False)


@main.group()
def events() -> None:
    """The call-event pipeline."""


@events.command("status")
def events_status() -> None:
    """Events waiting, claimed by workers, or set aside as unreadable; spooled on disk."""
    from .events import DEAD, EventBuffer

    app = _app()
    connection = app.extensions["hotline.redis"]
    buffer = EventBuffer(connection)
    spool = Path(app.config["HOTLINE_INSTANCE_PATH"]) / "spool"
    spooled = sum(
        len(p.read_text().splitlines()) for p in spool.glob("*.jsonl*")
    ) if spool.exists() else 0  # fmt: skip
    click.echo(
        json.dumps(
            {
                "pending": buffer.pending(),
                "claimed_batches": buffer.claimed(),
                "dead": int(connection.llen(DEAD)),
                "spooled_here": spooled,
            }
        )
    )


@events.command("replay-spool")
def events_replay() -> None:
    """Push events spooled while Redis was away."""
    app = _app()
    click.echo(f"replayed {app.extensions['hotline.events'].replay_spool()} events")


def _attach_simulate() -> None:
    from .simulate import simulate_command

    main.add_command(simulate_command)


_attach_simulate()

from .cli_ops import jobs_group, retention_group  # noqa: E402 - attached after the core commands

main.add_command(retention_group)
main.add_command(jobs_group)


dashboard_cli.attach(main)  # `hotline users ...`, `hotline calls export`
main.add_command(callbacks_cli.callbacks)  # `hotline callbacks list|reschedule|cancel`


if __name__ == "__main__":
    main()
