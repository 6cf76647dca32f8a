"""The dashboard through Flask's test client: every route for every role, and its defences."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from hotline import create_app
from hotline.db import Database
from hotline.export import EXPORT_COLUMNS
from hotline.models import AuditEntry, Call, CallNote, Counselor, User

from .conftest import make_config
from .dashboard_fixtures import (
    LI,
    MANAGER,
    PASSWORD,
    SECRET_NUMBER,
    WANG,
    Seeded,
    csrf,
    login,
    seed,
)


@pytest.fixture
def dash(tmp_path: Path, database_url: str, redis_url: str | None) -> Iterator[Any]:
    app = create_app(
        make_config(tmp_path, database_url, redis_url, HOTLINE_DASHBOARD_CHEAP_HASHES=True)
    )
    app.config["SEEDED"] = seed(database_url)
    yield app
    app.extensions["hotline.db"].dispose()


def seeded(app: Any) -> Seeded:
    s: Seeded = app.config["SEEDED"]
    return s


def as_role(app: Any, role: str) -> Any:
    client = app.test_client()
    if role != "anonymous":
        email = {"manager": MANAGER, "counselor": WANG}[role]
        assert login(client, email).status_code == 302
    return client


def query(app: Any, stmt: Any) -> Any:
    with Database(app.config["HOTLINE_DATABASE_URL"]).session() as s:
        return s.execute(stmt).all()


MANAGER_PAGES = [
    "/dashboard/calls",
    "/dashboard/calls?language=mandarin&outcome=answered&last=4567&sort=oldest",
    "/dashboard/calls/export.csv",
    "/dashboard/calls/{wang_call}",
    "/dashboard/live",
    "/dashboard/live.json",
    "/dashboard/stats",
    "/dashboard/stats/export.csv",
    "/dashboard/counselors",
    "/dashboard/counselors/new",
    "/dashboard/counselors/{wang}",
    "/dashboard/schedule",
    "/dashboard/users",
    "/dashboard/audit",
    "/dashboard/jobs",
    "/dashboard/callbacks",
    "/dashboard/callbacks?status=failed",
]
COUNSELOR_PAGES = ["/dashboard/me", "/dashboard/me/calls/{wang_call}/note"]


@pytest.mark.parametrize("role", ["anonymous", "counselor", "manager"])
def test_access_matrix(dash: Any, role: str) -> None:
    ids = seeded(dash)
    fill = {"wang_call": ids.wang_call_id, "wang": ids.wang_id}
    client = as_role(dash, role)
    expected_manager = {"anonymous": 302, "counselor": 403, "manager": 200}[role]
    expected_counselor = {"anonymous": 302, "counselor": 200, "manager": 403}[role]
    got = {}
    for path in MANAGER_PAGES:
        got[path] = (client.get(path.format(**fill)).status_code, expected_manager)
    for path in COUNSELOR_PAGES:
        got[path] = (client.get(path.format(**fill)).status_code, expected_counselor)
    assert {p: g for p, (g, _) in got.items()} == {p: e for p, (_, e) in got.items()}
    # The landing page and the login page never fail.
    assert client.get("/dashboard/").status_code == 302
    assert client.get("/login").status_code in (200, 302)
    if role == "anonymous":
        response = client.get("/dashboard/calls?language=english")
        assert response.location == "/login?next=/dashboard/calls?language%3Denglish"


def test_forbidden_is_a_page_not_a_crash(dash: Any) -> None:
    response = as_role(dash, "counselor").get("/dashboard/audit")
    assert response.status_code == 403
    assert "无权" in response.get_data(as_text=True)


def test_a_counselor_sees_only_their_own_calls_notes(dash: Any) -> None:
    ids = seeded(dash)
    client = as_role(dash, "counselor")
    assert client.get(f"/dashboard/me/calls/{ids.li_call_id}/note").status_code == 403
    token = csrf(client, "/dashboard/me")
    denied = client.post(
        f"/dashboard/me/calls/{ids.li_call_id}/note",
        data={"csrf_token": token, "category": "grief", "risk": "low", "text": "x"},
    )
    assert denied.status_code == 403
    ok = client.post(
        f"/dashboard/me/calls/{ids.wang_call_id}/note",
        data={
            "csrf_token": token,
            "category": "covid",
            "risk": "high",
            "follow_up": "1",
            "text": "担心家人",
        },
    )
    assert ok.status_code == 302
    [(note,)] = query(dash, select(CallNote))
    assert (note.category, note.risk, note.follow_up, note.text) == (
        "covid",
        "high",
        True,
        "担心家人",
    )
    me = client.get("/dashboard/me").get_data(as_text=True)
    assert SECRET_NUMBER not in me and "+39 ••• ••• 4567" in me
    # The manager reads it on the call's page.
    manager_view = as_role(dash, "manager").get(f"/dashboard/calls/{ids.wang_call_id}")
    assert "担心家人" in manager_view.get_data(as_text=True)
    # Li, another counselor, cannot read Wang's note.
    li = dash.test_client()
    login(li, LI)
    assert li.get(f"/dashboard/me/calls/{ids.wang_call_id}/note").status_code == 403


def test_every_post_needs_the_csrf_token(dash: Any) -> None:
    ids = seeded(dash)
    manager = as_role(dash, "manager")
    counselor = as_role(dash, "counselor")
    posts = [
        (manager, f"/dashboard/calls/{ids.wang_call_id}/reveal", {}),
        (manager, f"/dashboard/counselors/{ids.wang_id}/active", {"active": "0"}),
        (manager, "/dashboard/counselors/new", {"name": "x"}),
        (manager, f"/dashboard/counselors/{ids.wang_id}", {"name": "x"}),
        (manager, "/dashboard/users", {"email": "a@b.c"}),
        (manager, "/logout", {}),
        (counselor, "/dashboard/me/state", {"state": "away"}),
        (counselor, f"/dashboard/me/calls/{ids.wang_call_id}/note", {"category": "other"}),
        (dash.test_client(), "/login", {"email": MANAGER, "password": PASSWORD}),
        (dash.test_client(), "/lang", {"lang": "en"}),
    ]
    for client, path, data in posts:
        assert client.post(path, data=data).status_code == 400, path
        bad = client.post(path, data={**data, "csrf_token": "forged"})
        assert bad.status_code == 400, path
    assert query(
        dash,
        select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "reveal_number"),
    ) == [(0,)]
    [(state,)] = query(dash, select(Counselor.state).where(Counselor.id == ids.wang_id))
    assert state == "available"  # the default, untouched by the forged posts


def test_login_rotates_the_session(dash: Any) -> None:
    client = dash.test_client()
    token = csrf(client)
    with client.session_transaction() as planted:
        planted["sid"] = "attacker-chosen"
        planted["evil"] = "1"
    before = client.get_cookie("hotline_session").value
    client.post("/login", data={"email": MANAGER, "password": PASSWORD, "csrf_token": token})
    with client.session_transaction() as after:
        assert after["sid"] != "attacker-chosen" and "evil" not in after
        assert after.get("csrf") != token  # a new token is made on the next form
    assert client.get_cookie("hotline_session").value != before
    # The pre-login cookie is not a logged-in session.
    other = dash.test_client()
    other.set_cookie("hotline_session", before)
    assert other.get("/dashboard/calls").status_code == 302


def test_session_cookie_flags(dash: Any) -> None:
    client = dash.test_client()
    response = login(client, MANAGER)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" in cookie  # HOTLINE_PUBLIC_URL is https in the tests


def test_logout_ends_the_session(dash: Any) -> None:
    client = as_role(dash, "manager")
    token = csrf(client, "/dashboard/calls")
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/dashboard/calls").status_code == 302


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example",
        "\\\\evil.example",
        "javascript:alert(1)",
        "http:/evil.example",
        "/\t/evil.example",
        " //evil.example",
    ],
)
def test_no_open_redirect(dash: Any, target: str) -> None:
    client = dash.test_client()
    response = login(client, MANAGER, next=target)
    assert response.status_code == 302
    location = response.location
    assert urlsplit(location).netloc in ("", "localhost")
    assert location.startswith("/") and not location.startswith(("//", "/\\"))
    assert "evil" not in location


def test_next_within_the_site_is_honoured(dash: Any) -> None:
    response = login(dash.test_client(), MANAGER, next="/dashboard/stats?from=2026-11-01")
    assert response.location == "/dashboard/stats?from=2026-11-01"


def test_security_headers(dash: Any) -> None:
    ids = seeded(dash)
    client = as_role(dash, "manager")
    for path in ("/login", "/dashboard/calls", f"/dashboard/calls/{ids.wang_call_id}"):
        headers = client.get(path).headers
        csp = headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "same-origin"
    assert "no-store" in client.get("/dashboard/calls").headers["Cache-Control"]
    html = client.get("/dashboard/stats").get_data(as_text=True)
    assert "<script>" not in html and " style=" not in html


INJECTIONS = [
    "' OR '1'='1",
    "1; DROP TABLE calls; --",
    "0' UNION SELECT password_hash FROM users --",
    "%",
    "_",
    "\\",
    "4567' --",
    "\x00",
    "9" * 400,
]


def test_sql_injection_in_every_filter(dash: Any) -> None:
    client = as_role(dash, "manager")
    for param in (
        "from",
        "to",
        "number",
        "language",
        "outcome",
        "counselor",
        "last",
        "sort",
        "after",
    ):
        for payload in INJECTIONS:
            for path in ("/dashboard/calls", "/dashboard/calls/export.csv", "/dashboard/stats"):
                response = client.get(path, query_string={param: payload})
                assert response.status_code in (200, 400), (path, param, payload)
                body = response.get_data(as_text=True)
                assert "$argon2" not in body and SECRET_NUMBER not in body
    assert query(dash, select(func.count()).select_from(Call)) == [(4,)]


def test_filters_find_the_right_calls(dash: Any) -> None:
    ids = seeded(dash)
    client = as_role(dash, "manager")

    def sids(**params: str) -> set[str]:
        body = client.get("/dashboard/calls", query_string=params).get_data(as_text=True)
        return {f"/dashboard/calls/{i}" for i in range(1, 10) if f'"/dashboard/calls/{i}"' in body}

    wang = f"/dashboard/calls/{ids.wang_call_id}"
    li = f"/dashboard/calls/{ids.li_call_id}"
    assert sids(last="4567") == {wang}
    assert sids(last="67") == {wang}
    assert sids(language="cantonese") == {li}
    assert sids(number="+81300000000") == {li}
    assert sids(counselor=str(ids.li_id)) == {li}
    assert len(sids(outcome="answered")) == 2
    today = dt.datetime.now(dt.UTC).astimezone(dt.timezone(dt.timedelta(hours=8))).date()
    assert sids(**{"from": str(today + dt.timedelta(days=2))}) == set()


def test_reveal_is_audited(dash: Any) -> None:
    ids = seeded(dash)
    client = as_role(dash, "manager")
    page = client.get(f"/dashboard/calls/{ids.wang_call_id}").get_data(as_text=True)
    assert SECRET_NUMBER not in page and "+39 ••• ••• 4567" in page
    assert "language_chosen" in page and "+20" not in page  # no number leaks via events
    token = csrf(client, f"/dashboard/calls/{ids.wang_call_id}")
    shown = client.post(f"/dashboard/calls/{ids.wang_call_id}/reveal", data={"csrf_token": token})
    assert shown.status_code == 200 and SECRET_NUMBER in shown.get_data(as_text=True)
    [(entry,)] = query(dash, select(AuditEntry).where(AuditEntry.action == "reveal_number"))
    assert entry.actor == MANAGER and entry.target_id == ids.wang_call_sid
    assert SECRET_NUMBER not in str(entry.detail)
    audit_page = client.get("/dashboard/audit").get_data(as_text=True)
    assert "reveal_number" in audit_page and ids.wang_call_sid in audit_page
    assert SECRET_NUMBER not in audit_page


def test_call_log_csv_is_the_export_contract(dash: Any) -> None:
    client = as_role(dash, "manager")
    text = client.get("/dashboard/calls/export.csv").get_data(as_text=True)
    header, *rows = text.splitlines()
    assert header.split(",") == list(EXPORT_COLUMNS) and len(rows) == 4
    assert SECRET_NUMBER not in text and "+39 ••• ••• 4567" in text
    figures = client.get("/dashboard/stats/export.csv").get_data(as_text=True)
    assert figures.startswith("group,key,calls,answered")


def test_stats_page_and_chart_data(dash: Any) -> None:
    html = as_role(dash, "manager").get("/dashboard/stats").get_data(as_text=True)
    assert 'id="chart-hour"' in html and 'id="stats-data"' in html
    assert 'id="total-calls">4<' in html


def test_live_board_json(dash: Any) -> None:
    data = as_role(dash, "manager").get("/dashboard/live.json").get_json()
    english = next(q for q in data["queues"] if q["language"] == "english")
    assert english["waiting"] == 1 and 60 <= english["longest_wait"] <= 200
    assert {c["name"] for c in data["counselors"]} == {"王敏", "李华"}


def test_live_board_shows_the_routing_board(dash: Any) -> None:
    import time

    from hotline.routing import get_board

    ids = seeded(dash)
    board = get_board(dash)
    board.register_counselor(ids.wang_id, ["mandarin"], "available")
    for i in range(3):
        board.register_caller(f"CA-live-{i}", "mandarin", urgent=False, since=time.time() - 300 - i)
    offer = board.match("mandarin", [ids.wang_id])
    assert offer is not None and board.accept(offer.offer_id).result == "ok"
    data = as_role(dash, "manager").get("/dashboard/live.json").get_json()
    mandarin = next(q for q in data["queues"] if q["language"] == "mandarin")
    assert mandarin["waiting"] == 2 and mandarin["longest_wait"] >= 300
    wang = next(c for c in data["counselors"] if c["id"] == ids.wang_id)
    assert wang["state"] == "busy" and wang["in_state"] is not None


def test_counselor_switches_state(dash: Any) -> None:
    ids = seeded(dash)
    client = as_role(dash, "counselor")
    token = csrf(client, "/dashboard/me")
    assert (
        client.post("/dashboard/me/state", data={"csrf_token": token, "state": "away"}).status_code
        == 302
    )
    [(state, since)] = query(
        dash, select(Counselor.state, Counselor.state_since).where(Counselor.id == ids.wang_id)
    )
    assert state == "away" and since is not None
    assert (
        client.post("/dashboard/me/state", data={"csrf_token": token, "state": "busy"}).status_code
        == 400
    )
    assert 'id="my-state">away<' in client.get("/dashboard/me").get_data(as_text=True)


def test_manager_edits_counselors_and_users(dash: Any) -> None:
    ids = seeded(dash)
    client = as_role(dash, "manager")
    token = csrf(client, "/dashboard/counselors")
    bad = client.post(
        "/dashboard/counselors/new",
        data={"csrf_token": token, "name": "张伟", "phone": "123", "languages": "mandarin"},
    )
    assert bad.status_code == 400 and "phone" in bad.get_data(as_text=True)
    created = client.post(
        "/dashboard/counselors/new",
        data={
            "csrf_token": token,
            "name": "张伟",
            "phone": "+8613800000003",
            "languages": ["mandarin", "english"],
            "timezone": "Asia/Shanghai",
            "shifts": "sat-sun 20:00-02:00",
            "overrides": "2026-12-24 off",
        },
    )
    assert created.status_code == 302
    listing = client.get("/dashboard/counselors").get_data(as_text=True)
    assert "张伟" in listing and "sat,sun 20:00-02:00" in listing
    assert "13800000003" not in listing
    edited = client.post(
        f"/dashboard/counselors/{ids.wang_id}",
        data={
            "csrf_token": token,
            "name": "王敏",
            "phone": "",
            "languages": ["mandarin"],
            "timezone": "Europe/Rome",
            "shifts": "mon-fri 09:00-18:00",
            "overrides": "none",
        },
    )
    assert edited.status_code == 302
    [(tz, phone)] = query(
        dash, select(Counselor.timezone, Counselor.phone).where(Counselor.id == ids.wang_id)
    )
    assert tz == "Europe/Rome" and phone == "+8613800000001"
    assert (
        client.post(
            f"/dashboard/counselors/{ids.wang_id}/active", data={"csrf_token": token, "active": "0"}
        ).status_code
        == 302
    )
    [(active,)] = query(dash, select(Counselor.active).where(Counselor.id == ids.wang_id))
    assert active is False
    made = client.post(
        "/dashboard/users",
        data={
            "csrf_token": token,
            "email": "new@example.org",
            "role": "manager",
            "password": "x" * 12,
        },
    )
    assert made.status_code == 302
    assert query(dash, select(func.count()).select_from(User)) == [(4,)]
    actions = {a for (a,) in query(dash, select(AuditEntry.action))}
    assert {
        "create_counselor",
        "update_counselor",
        "deactivate_counselor",
        "create_user",
    } <= actions
    schedule = client.get("/dashboard/schedule").get_data(as_text=True)
    assert 'id="coverage-mandarin"' in schedule and 'class="c0"' in schedule


def test_language_switch(dash: Any) -> None:
    client = as_role(dash, "manager")
    assert "通话记录" in client.get("/dashboard/calls").get_data(as_text=True)
    token = csrf(client, "/dashboard/calls")
    response = client.post(
        "/lang", data={"csrf_token": token, "lang": "en", "next": "/dashboard/calls"}
    )
    assert response.location == "/dashboard/calls"
    assert "Call log" in client.get("/dashboard/calls").get_data(as_text=True)


def test_login_failures_are_throttled(dash: Any) -> None:
    client = dash.test_client()
    for _ in range(5):
        assert login(client, MANAGER, password="wrong password").status_code == 401
    throttled = login(client, MANAGER)  # even the right password, for now
    assert throttled.status_code == 429
    # Another account from the same address is still allowed (under the address limit).
    assert login(dash.test_client(), WANG).status_code == 302


def test_login_throttled_per_address(dash: Any) -> None:
    for i in range(30):
        login(dash.test_client(), f"nobody{i}@example.org", password="x")
    assert login(dash.test_client(), WANG).status_code == 429


def test_login_fails_closed_without_redis(tmp_path: Path, sqlite_url: str) -> None:
    app = create_app(
        make_config(
            tmp_path, sqlite_url, "redis://127.0.0.1:1/0", HOTLINE_DASHBOARD_CHEAP_HASHES=True
        )
    )
    seed(sqlite_url)
    response = login(app.test_client(), MANAGER)
    assert response.status_code == 503
    assert "暂时无法登录" in response.get_data(as_text=True)
    app.extensions["hotline.db"].dispose()


def test_a_password_change_ends_other_sessions(dash: Any) -> None:
    client = as_role(dash, "manager")
    with Database(dash.config["HOTLINE_DATABASE_URL"]).session() as s:
        user = s.scalars(select(User).where(User.email == MANAGER)).one()
        user.password_hash = user.password_hash + "x"
    assert client.get("/dashboard/calls").status_code == 302


def test_nul_bytes_are_refused_politely(dash: Any) -> None:
    client = dash.test_client()
    token = csrf(client)
    response = client.post(
        "/login", data={"email": "a\x00@b.c", "password": "x", "csrf_token": token}
    )
    assert response.status_code == 400
    assert as_role(dash, "manager").get("/dashboard/calls?number=%00").status_code == 400


def test_state_switch_reaches_the_routing_board_at_once(dash: Any) -> None:
    from hotline.routing import get_board

    wang = seeded(dash).wang_id
    client = as_role(dash, "counselor")
    token = csrf(client, "/dashboard/me")
    client.post("/dashboard/me/state", data={"csrf_token": token, "state": "away"})
    assert get_board(dash).counselor(wang)["state"] == "away"
    token = csrf(client, "/dashboard/me")
    client.post("/dashboard/me/state", data={"csrf_token": token, "state": "available"})
    assert get_board(dash).counselor(wang)["state"] == "available"


def test_jobs_page_lists_failed_jobs_scrubbed_and_retries_them(dash: Any) -> None:
    from rq import Queue

    from hotline.queues import EVENTS_QUEUE, get_redis

    connection = get_redis(dash)
    job = Queue(EVENTS_QUEUE, connection=connection).enqueue("hotline.jobs.drain_events")
    # Fail it as a worker would, with a phone number and the auth token in the message.
    token = dash.config["TWILIO_AUTH_TOKEN"]
    job.set_status("failed")
    from rq.registry import FailedJobRegistry

    FailedJobRegistry(EVENTS_QUEUE, connection=connection).add(
        job, exc_string=f"Traceback\nValueError: +393331234567 {token}"
    )
    Queue(EVENTS_QUEUE, connection=connection).remove(job)
    client = as_role(dash, "manager")
    html = client.get("/dashboard/jobs").get_data(as_text=True)
    assert job.id in html and "hotline-events" in html
    assert "+393331234567" not in html and token not in html
    token_csrf = csrf(client, "/dashboard/jobs")
    response = client.post(f"/dashboard/jobs/{job.id}/retry", data={"csrf_token": token_csrf})
    assert response.status_code == 302
    assert job.id in Queue(EVENTS_QUEUE, connection=connection).job_ids
    assert (
        client.post("/dashboard/jobs/nope/discard", data={"csrf_token": token_csrf}).status_code
        == 404
    )
    assert client.post(f"/dashboard/jobs/{job.id}/retry", data={}).status_code == 400
    [(count,)] = query(
        dash, select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "job_retry")
    )
    assert count == 1


def test_recordings_play_from_the_call_page_and_each_listen_is_audited(dash: Any) -> None:
    from hotline.models import Recording

    ids = seeded(dash)
    [(call_sid,)] = query(dash, select(Call.call_sid).where(Call.id == ids.wang_call_id))
    storage = Path(dash.config["HOTLINE_RECORDINGS_STORAGE"])
    (storage / "2026").mkdir(parents=True, exist_ok=True)
    (storage / "2026" / "RE1.wav").write_bytes(b"RIFF....WAVEfmt fake audio")
    with Database(dash.config["HOTLINE_DATABASE_URL"]).session() as s:
        s.add(
            Recording(
                recording_sid="RE1",
                call_sid=call_sid,
                kind="voicemail",
                path="2026/RE1.wav",
                bytes=26,
                duration=12,
            )
        )
        s.add(
            Recording(
                recording_sid="RE2",
                call_sid=call_sid,
                kind="voicemail",
                path="../../etc/passwd",
                bytes=1,
                duration=1,
            )
        )
    client = as_role(dash, "manager")
    html = client.get(f"/dashboard/calls/{ids.wang_call_id}").get_data(as_text=True)
    assert "<audio" in html and "/dashboard/recordings/" in html
    [(rec_id,)] = query(dash, select(Recording.id).where(Recording.recording_sid == "RE1"))
    audio = client.get(f"/dashboard/recordings/{rec_id}")
    assert audio.status_code == 200 and audio.mimetype == "audio/wav"
    assert audio.data.startswith(b"RIFF") and "no-store" in audio.headers["Cache-Control"]
    [(bad_id,)] = query(dash, select(Recording.id).where(Recording.recording_sid == "RE2"))
    assert client.get(f"/dashboard/recordings/{bad_id}").status_code == 404  # outside storage
    assert as_role(dash, "counselor").get(f"/dashboard/recordings/{rec_id}").status_code == 403
    assert client.get("/dashboard/recordings/999999").status_code == 404
    [(count,)] = query(
        dash,
        select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "play_recording"),
    )
    assert count == 1
