"""Known dashboard data: a manager, two counselors with accounts, calls and events."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from hotline.dashboard.passwords import hash_password
from hotline.db import Database, utcnow
from hotline.models import Call, CallEvent, Counselor, Shift, User

PASSWORD = "correct horse battery"
MANAGER = "boss@example.org"
WANG = "wang@example.org"
LI = "li@example.org"
SECRET_NUMBER = "+393331234567"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Seeded:
    wang_id: int
    li_id: int
    wang_call_id: int
    li_call_id: int
    wang_call_sid: str


def seed(url: str) -> Seeded:
    database = Database(url)
    now = utcnow().replace(microsecond=0)
    try:
        with database.session() as s:
            wang = Counselor(
                name="王敏",
                phone="+8613800000001",
                languages=["mandarin", "english"],
                shifts=[Shift(weekday=d, start="08:30", end="17:00") for d in range(5)],
            )
            li = Counselor(name="李华", phone="+8613800000002", languages=["cantonese"])
            s.add_all([wang, li])
            s.flush()
            h = hash_password(PASSWORD, cheap=True)
            s.add_all(
                [
                    User(email=MANAGER, role="manager", password_hash=h),
                    User(email=WANG, role="counselor", counselor_id=wang.id, password_hash=h),
                    User(email=LI, role="counselor", counselor_id=li.id, password_hash=h),
                ]
            )
            start = now - dt.timedelta(hours=2)
            wang_call = Call(
                call_sid="CA" + "a" * 32,
                hotline_number="+390212345678",
                caller_number=SECRET_NUMBER,
                caller_country="IT",
                language="mandarin",
                started_at=start,
                queued_at=start + dt.timedelta(seconds=40),
                answered_at=start + dt.timedelta(seconds=70),
                ended_at=start + dt.timedelta(seconds=670),
                wait_seconds=30,
                talk_seconds=600,
                outcome="answered",
                counselor_id=wang.id,
            )
            li_call = Call(
                call_sid="CA" + "b" * 32,
                hotline_number="+81300000000",
                caller_number="+819012345678",
                caller_country="JP",
                language="cantonese",
                started_at=start + dt.timedelta(minutes=5),
                queued_at=start + dt.timedelta(minutes=6),
                answered_at=start + dt.timedelta(minutes=7),
                ended_at=start + dt.timedelta(minutes=9),
                wait_seconds=60,
                talk_seconds=120,
                outcome="answered",
                counselor_id=li.id,
            )
            waiting = Call(
                call_sid="CA" + "c" * 32,
                hotline_number="+390212345678",
                caller_number="+393339999999",
                language="english",
                started_at=now - dt.timedelta(seconds=90),
                queued_at=now - dt.timedelta(seconds=75),
            )
            abandoned = Call(
                call_sid="CA" + "d" * 32,
                hotline_number="+390212345678",
                caller_number="+393338888888",
                language="mandarin",
                started_at=start - dt.timedelta(days=1),
                queued_at=start - dt.timedelta(days=1) + dt.timedelta(seconds=30),
                ended_at=start - dt.timedelta(days=1) + dt.timedelta(seconds=200),
                wait_seconds=170,
                outcome="abandoned_queue",
            )
            s.add_all([wang_call, li_call, waiting, abandoned])
            for i, (kind, offset) in enumerate(
                [("incoming", 0), ("language_chosen", 20), ("queued", 40), ("bridged", 70)]
            ):
                s.add(
                    CallEvent(
                        event_id=f"ev{i}",
                        call_sid=wang_call.call_sid,
                        kind=kind,
                        occurred_at=start + dt.timedelta(seconds=offset),
                        sequence=i,
                        data={"from": SECRET_NUMBER, "language": "mandarin"},
                    )
                )
            s.flush()
            return Seeded(wang.id, li.id, wang_call.id, li_call.id, wang_call.call_sid)
    finally:
        database.dispose()


def csrf(client: Any, path: str = "/login") -> str:
    html = client.get(path).get_data(as_text=True)
    match = CSRF_RE.search(html)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def login(client: Any, email: str, password: str = PASSWORD, **extra: str) -> Any:
    token = csrf(client)
    return client.post(
        "/login", data={"email": email, "password": password, "csrf_token": token, **extra}
    )
