"""Callback rows from events (idempotent, one per pending number) and the CLI."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import fakeredis
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from hotline.callbacks.runner import CallbackSettings, schedule_due
from hotline.callbacks.store import record_requests
from hotline.cli import main
from hotline.db import Database
from hotline.events import make_event
from hotline.flows.loader import load_flows
from hotline.models import Callback
from hotline.routing.board import Board

AT = dt.datetime(2026, 12, 2, 2, 0, tzinfo=dt.UTC)


def request(sid: str, number: str = "+393331234567", **data: Any) -> Any:
    payload = {
        "number": number, "caller_hash": "h" * 64, "language": "english",
        "safe_to_call": True, "may_leave_message": False, "to": "+390212345678",
        "flow": "hotline", **data,
    }  # fmt: skip
    return make_event(sid, "callback_requested", payload, AT, discriminator=sid)


def rows(db: Database) -> list[Callback]:
    with db.session() as s:
        out = list(s.scalars(select(Callback).order_by(Callback.id)))
        s.expunge_all()
        return out


def test_a_repeated_event_and_a_second_request_update_one_row(database_url: str) -> None:
    db = Database(database_url)
    with db.session() as s:
        assert record_requests(s, [request("CA1"), request("CA1")])
    with db.session() as s:
        record_requests(s, [request("CA2", "+393339999999", may_leave_message=True)])
    [row] = rows(db)
    assert row.call_sid == "CA1" and row.number == "+393339999999" and row.may_leave_message
    assert row.status == "pending" and row.next_attempt_at == AT
    with db.session() as s:
        s.get(Callback, row.id).status = "done"  # type: ignore[union-attr]
    with db.session() as s:
        record_requests(s, [request("CA3")])
    assert [r.status for r in rows(db)] == ["done", "pending"]
    db.dispose()


@pytest.fixture
def cli_db(tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Database:
    monkeypatch.setenv("HOTLINE_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("HOTLINE_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setenv("HOTLINE_DOTENV", str(tmp_path / "none.env"))
    db = Database(sqlite_url)
    with db.session() as s:
        record_requests(s, [request("CA1"), request("CA2", caller_hash="g" * 64)])
    return db


def test_cli_lists_masked_reschedules_and_cancels(cli_db: Database) -> None:
    listed = CliRunner().invoke(main, ["callbacks", "list", "--status", "pending"])
    assert listed.exit_code == 0, listed.output
    assert "+39 ••• ••• 4567" in listed.output and "3331234567" not in listed.output
    moved = CliRunner().invoke(
        main, ["callbacks", "reschedule", "1", "--at", "2026-12-03T09:00+08:00"]
    )
    assert moved.exit_code == 0, moved.output
    assert rows(cli_db)[0].next_attempt_at == dt.datetime(2026, 12, 3, 1, 0, tzinfo=dt.UTC)
    naive = CliRunner().invoke(main, ["callbacks", "reschedule", "1", "--at", "2026-12-03T09:00"])
    assert naive.exit_code != 0 and "offset" in naive.output
    assert CliRunner().invoke(main, ["callbacks", "cancel", "2"]).exit_code == 0
    assert rows(cli_db)[1].status == "cancelled"
    again = CliRunner().invoke(main, ["callbacks", "cancel", "2"])
    assert again.exit_code != 0 and "cancelled" in again.output
    missing = CliRunner().invoke(main, ["callbacks", "cancel", "99"])
    assert missing.exit_code != 0 and "no callback 99" in missing.output
    done = CliRunner().invoke(main, ["callbacks", "list", "--status", "cancelled"])
    assert done.output.count("\n") == 1


def test_due_requests_go_on_the_board_once_and_only_when_open(database_url: str) -> None:
    db = Database(database_url)
    with db.session() as s:
        record_requests(s, [request("CA" + "1" * 32)])
    flows = load_flows(Path(__file__).parent.parent / "ivr_flows")
    board = Board(fakeredis.FakeRedis())
    beijing = dt.timezone(dt.timedelta(hours=8))
    closed = dt.datetime(2026, 12, 3, 2, 0, tzinfo=beijing)
    open_ = dt.datetime(2026, 12, 3, 9, 0, tzinfo=beijing)
    with db.session() as s:
        assert schedule_due(s, board, flows, CallbackSettings(), closed) == []
    for _ in range(2):
        with db.session() as s:
            assert schedule_due(s, board, flows, CallbackSettings(), open_) == ["english"]
    [row] = rows(db)
    assert row.status == "scheduled"
    assert board.waiting("english") == [f"cb-{row.id}-1"]
    db.dispose()


def test_at_closing_a_waiting_callback_leaves_the_board_until_the_opening(
    database_url: str,
) -> None:
    db = Database(database_url)
    with db.session() as s:
        record_requests(s, [request("CA" + "2" * 32)])
    flows = load_flows(Path(__file__).parent.parent / "ivr_flows")
    board = Board(fakeredis.FakeRedis())
    beijing = dt.timezone(dt.timedelta(hours=8))
    evening = dt.datetime(2026, 12, 3, 23, 59, tzinfo=beijing)
    night = dt.datetime(2026, 12, 4, 0, 1, tzinfo=beijing)
    morning = dt.datetime(2026, 12, 4, 8, 31, tzinfo=beijing)
    with db.session() as s:
        assert schedule_due(s, board, flows, CallbackSettings(), evening) == ["english"]
    with db.session() as s:
        assert schedule_due(s, board, flows, CallbackSettings(), night) == []
    [row] = rows(db)
    assert row.status == "pending" and board.waiting("english") == []
    with db.session() as s:
        assert schedule_due(s, board, flows, CallbackSettings(), morning) == ["english"]
    assert board.waiting("english") == [f"cb-{row.id}-1"]
    db.dispose()


def test_an_attempt_whose_final_status_never_came_is_closed_not_redialled(
    database_url: str,
) -> None:
    from hotline.callbacks.runner import settle_stuck

    db = Database(database_url)
    with db.session() as s:
        record_requests(s, [request("CA" + "3" * 32)])
    with db.session() as s:
        row = s.scalars(select(Callback)).one()
        row.status = "in_progress"
    [row] = rows(db)
    with db.session() as s:
        assert settle_stuck(s, row.updated_at + dt.timedelta(hours=5)) == []
    with db.session() as s:
        assert [r.id for r in settle_stuck(s, row.updated_at + dt.timedelta(hours=7))] == [row.id]
    [row] = rows(db)
    assert (row.status, row.last_outcome) == ("failed", "status_lost")
    db.dispose()
