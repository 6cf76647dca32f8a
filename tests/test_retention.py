"""Retention: old recordings and caller numbers go, recent ones and the keyed hash stay."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from hotline import jobs
from hotline.cli import main
from hotline.db import Database
from hotline.events import make_event
from hotline.eventstore import refresh_calls, store_events
from hotline.models import Call, CallEvent, Recording
from hotline.queues import TASKS_QUEUE, connect, queue

NOW = dt.datetime.now(dt.UTC)
OLD = NOW - dt.timedelta(days=400)
RECENT = NOW - dt.timedelta(days=10)
OLD_SID = "CA" + "0" * 32
NEW_SID = "CA" + "1" * 32


@pytest.fixture
def env(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = {
        "HOTLINE_DATABASE_URL": database_url,
        "HOTLINE_INSTANCE_PATH": str(tmp_path / "instance"),
        "HOTLINE_RECORDINGS_STORAGE": str(tmp_path / "store"),
        "HOTLINE_DOTENV": str(tmp_path / "none.env"),
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    for key in ("REDIS_URL", "HOTLINE_RETAIN_RECORDINGS_DAYS", "HOTLINE_RETAIN_NUMBERS_DAYS"):
        monkeypatch.delenv(key, raising=False)
    return values


def populate(url: str, store: Path) -> Database:
    database = Database(url)
    with database.session() as s:
        for sid, at, number in (
            (OLD_SID, OLD, "+393331234567"),
            (NEW_SID, RECENT, "+393339999999"),
        ):
            incoming = make_event(
                sid,
                "incoming",
                {"from": number, "caller_hash": f"hash-{sid[-1]}", "region": "IT"},
                at,
                discriminator="i",
            )
            status = make_event(sid, "status", {"status": "completed"}, at, discriminator="s")
            refresh_calls(s, store_events(s, [incoming, status]))
        for n, (sid, at) in enumerate(((OLD_SID, OLD), (NEW_SID, RECENT))):
            rel = f"x/RE{n:032d}.wav"
            (store / "x").mkdir(parents=True, exist_ok=True)
            (store / rel).write_bytes(b"RIFF" + b"\0" * 100)
            s.add(
                Recording(
                    recording_sid=f"RE{n:032d}",
                    call_sid=sid,
                    kind="call",
                    path=rel,
                    bytes=104,
                    duration=1,
                    created_at=at,
                )
            )
    return database


def snapshot(database: Database) -> Any:
    with database.session() as s:
        calls = {c.call_sid: (c.caller_number, c.caller_hash) for c in s.scalars(select(Call))}
        events = {
            e.call_sid: e.data.get("from")
            for e in s.scalars(select(CallEvent).where(CallEvent.kind == "incoming"))
        }
        recs = {r.recording_sid: r.deleted_at for r in s.scalars(select(Recording))}
    return calls, events, recs


def run(*args: str) -> Any:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_dry_run_changes_nothing(env: dict[str, str], tmp_path: Path) -> None:
    store = tmp_path / "store"
    database = populate(env["HOTLINE_DATABASE_URL"], store)
    before = snapshot(database)
    result = run("retention", "run", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "would remove 1 (104 bytes), oldest " + OLD.date().isoformat() in result.output
    assert "would erase on 1 call(s) and 1 event(s)" in result.output
    assert snapshot(database) == before
    assert len(list(store.rglob("*.wav"))) == 2
    database.dispose()


def test_run_erases_old_data_only_and_keeps_the_hash(env: dict[str, str], tmp_path: Path) -> None:
    store = tmp_path / "store"
    database = populate(env["HOTLINE_DATABASE_URL"], store)
    result = run("retention", "run")
    assert result.exit_code == 0, result.output
    assert "removed 1 (104 bytes)" in result.output and "erased on 1 call(s)" in result.output
    assert "393331234567" not in result.output
    calls, events, recs = snapshot(database)
    assert calls == {OLD_SID: (None, "hash-0"), NEW_SID: ("+393339999999", "hash-1")}
    assert events == {OLD_SID: None, NEW_SID: "+393339999999"}
    assert recs[f"RE{0:032d}"] is not None and recs[f"RE{1:032d}"] is None
    assert [p.name for p in store.rglob("*.wav")] == [f"RE{1:032d}.wav"]
    # A late event for the old call rebuilds its summary: the number does not come back.
    with database.session() as s:
        late = make_event(OLD_SID, "status", {"status": "completed"}, NOW, discriminator="late")
        refresh_calls(s, store_events(s, [late]))
    assert snapshot(database)[0][OLD_SID] == (None, "hash-0")
    again = run("retention", "run")
    assert "removed 0 (0 bytes), oldest -" in again.output
    assert "erased on 0 call(s) and 0 event(s), oldest -" in again.output
    database.dispose()


def test_missing_files_do_not_stop_retention(env: dict[str, str], tmp_path: Path) -> None:
    store = tmp_path / "store"
    database = populate(env["HOTLINE_DATABASE_URL"], store)
    (store / "x" / f"RE{0:032d}.wav").unlink()
    result = run("retention", "run")
    assert "1 file(s) were already missing" in result.output
    assert snapshot(database)[2][f"RE{0:032d}"] is not None
    database.dispose()


def test_limits_come_from_the_settings(
    env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = populate(env["HOTLINE_DATABASE_URL"], tmp_path / "store")
    monkeypatch.setenv("HOTLINE_RETAIN_RECORDINGS_DAYS", "5")
    monkeypatch.setenv("HOTLINE_RETAIN_NUMBERS_DAYS", "5")
    result = run("retention", "run", "--dry-run")
    assert "would remove 2" in result.output and "would erase on 2 call(s)" in result.output
    database.dispose()


def test_workers_schedule_retention_once_an_hour(app: Any) -> None:
    conn = connect(app.config["REDIS_URL"], for_web=False)
    assert jobs.maintain_retention(conn) is True
    assert jobs.maintain_retention(conn) is False  # another worker, same hour
    [job] = queue(conn, TASKS_QUEUE).get_jobs()
    assert job.func_name == "hotline.jobs.run_retention"
    jobs.bind_app(app)
    assert jobs.run_retention(dry_run=True)["report"][0].startswith("recordings: would remove 0")
