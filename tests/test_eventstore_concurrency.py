"""Two workers writing events of the same call at once still give a complete summary."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from sqlalchemy import select

from hotline.db import Database
from hotline.events import make_event
from hotline.eventstore import refresh_calls, store_events
from hotline.models import Call

from .conftest import _truncate

SID = "CA" + "c" * 32
T0 = dt.datetime(2026, 12, 2, 2, 0, tzinfo=dt.UTC)


@pytest.fixture
def pg(postgres_url: str | None) -> Any:
    if postgres_url is None:
        pytest.skip("PostgreSQL is not reachable")
    _truncate(postgres_url)
    database = Database(postgres_url)
    yield database
    database.dispose()


def test_a_second_drain_waits_and_sees_the_first_ones_events(pg: Database) -> None:
    incoming = make_event(SID, "incoming", {"to": "+390212345678"}, T0, discriminator="a")
    queued = make_event(SID, "queued", {"language": "english"}, T0, discriminator="b")
    bridged = make_event(
        SID, "bridged", {"counselor_id": None}, T0 + dt.timedelta(seconds=30), discriminator="c"
    )
    ended = make_event(
        SID, "status", {"status": "completed"}, T0 + dt.timedelta(seconds=90), discriminator="d"
    )
    first = pg.sessions()
    store_events(first, [incoming, queued, bridged])
    refresh_calls(first, [SID])  # holds the call's lock until it commits

    second_done = threading.Event()

    def second_worker() -> None:
        with pg.session() as session:
            store_events(session, [ended])
            refresh_calls(session, [SID])
        second_done.set()

    thread = threading.Thread(target=second_worker)
    thread.start()
    # Without the lock the second would finish now, from its own event alone.
    assert not second_done.wait(1.0)
    first.commit()
    first.close()
    thread.join(10)
    assert second_done.is_set()
    with pg.session() as session:
        call = session.scalars(select(Call).where(Call.call_sid == SID)).one()
    assert call.outcome == "answered"
    assert call.ended_at is not None and call.queued_at is not None
