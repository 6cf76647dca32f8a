"""The worker's own pieces."""

from __future__ import annotations

import datetime as dt

import fakeredis
from rq import Queue

from hotline.queues import EVENTS_QUEUE
from hotline.worker import move_due_scheduled_jobs


def test_due_scheduled_jobs_are_moved_for_the_in_process_stand_in() -> None:
    connection = fakeredis.FakeRedis()
    queue = Queue(EVENTS_QUEUE, connection=connection)
    due = queue.enqueue_in(dt.timedelta(seconds=-5), "hotline.jobs.drain_events")
    later = queue.enqueue_in(dt.timedelta(hours=1), "hotline.jobs.drain_events")
    assert queue.job_ids == []
    assert move_due_scheduled_jobs(connection) == 1
    assert queue.job_ids == [due.id]
    assert move_due_scheduled_jobs(connection) == 0
    assert later.id not in queue.job_ids
