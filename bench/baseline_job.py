"""The baseline's job for bench/events.py: one RQ job per event. A module of its own with no
imports of its own, so a forked work horse imports nothing the worker has not imported."""

from __future__ import annotations


def store_one(raw: str) -> None:
    from hotline import jobs
    from hotline.db import get_db
    from hotline.events import CallEventData
    from hotline.eventstore import refresh_calls, store_events

    with get_db(jobs.app()).session() as session:
        refresh_calls(session, store_events(session, [CallEventData.from_json(raw)]))
