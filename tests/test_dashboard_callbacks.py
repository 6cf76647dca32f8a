"""Managers see callbacks (numbers masked), reschedule and cancel them: CSRF and audit."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from hotline.callbacks.limits import pending_key, set_pending
from hotline.db import Database
from hotline.models import AuditEntry, Callback
from hotline.phone import mask
from hotline.queues import get_redis

from . import test_dashboard
from .dashboard_fixtures import csrf
from .test_dashboard import as_role

dash = test_dashboard.dash  # the fixture: a seeded dashboard on SQLite and PostgreSQL


def add_callback(app: Any, status: str = "failed") -> int:
    with Database(app.config["HOTLINE_DATABASE_URL"]).session() as s:
        row = Callback(
            call_sid="CA" + "9" * 32,
            number="+393331234567",
            caller_hash="c" * 64,
            hotline_number="+390212345678",
            flow="hotline",
            language="english",
            requested_at=dt.datetime(2026, 12, 2, 2, 0, tzinfo=dt.UTC),
            next_attempt_at=None,
            status=status,
            attempts=3,
            last_outcome="no-answer",
            call_sids=[],
        )
        s.add(row)
        s.flush()
        return row.id


def the_row(app: Any, callback_id: int) -> Callback:
    with Database(app.config["HOTLINE_DATABASE_URL"]).session() as s:
        row = s.get(Callback, callback_id)
        assert row is not None
        s.expunge(row)
        return row


def audited(app: Any, action: str) -> int:
    with Database(app.config["HOTLINE_DATABASE_URL"]).session() as s:
        return len(s.scalars(select(AuditEntry).where(AuditEntry.action == action)).all())


def test_managers_see_masked_callbacks_and_reschedule_or_cancel_them(dash: Any) -> None:
    callback_id = add_callback(dash)
    client = as_role(dash, "manager")
    html = client.get("/dashboard/callbacks").get_data(as_text=True)
    assert "+393331234567" not in html and mask("+393331234567") in html
    token = csrf(client, "/dashboard/callbacks")
    path = f"/dashboard/callbacks/{callback_id}/reschedule"
    assert client.post(path, data={"at": "2026-12-05T09:00"}).status_code == 400  # no CSRF
    assert client.post(path, data={"csrf_token": token, "at": "soon"}).status_code == 400
    response = client.post(path, data={"csrf_token": token, "at": "2026-12-05T09:00"})
    assert response.status_code == 302
    row = the_row(dash, callback_id)
    assert (row.status, row.attempts) == ("pending", 0)  # a failed one gets its attempts back
    assert row.next_attempt_at == dt.datetime(2026, 12, 5, 1, 0, tzinfo=dt.UTC)  # 09:00 Beijing
    assert audited(dash, "callback_reschedule") == 1

    set_pending(get_redis(dash), row.caller_hash, callback_id)
    cancel = f"/dashboard/callbacks/{callback_id}/cancel"
    assert client.post(cancel, data={"csrf_token": token}).status_code == 302
    assert the_row(dash, callback_id).status == "cancelled"
    assert get_redis(dash).get(pending_key(row.caller_hash)) is None
    assert audited(dash, "callback_cancel") == 1
    # A cancelled one cannot be moved again; an unknown one is not found.
    assert client.post(cancel, data={"csrf_token": token}).status_code == 409
    assert (
        client.post("/dashboard/callbacks/999/cancel", data={"csrf_token": token}).status_code
        == 404
    )


def test_counselors_cannot_change_callbacks(dash: Any) -> None:
    callback_id = add_callback(dash, "pending")
    client = as_role(dash, "counselor")
    token = csrf(client, "/dashboard/me")
    path = f"/dashboard/callbacks/{callback_id}/cancel"
    assert client.post(path, data={"csrf_token": token}).status_code == 403
    assert the_row(dash, callback_id).status == "pending"
