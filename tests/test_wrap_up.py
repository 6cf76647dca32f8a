"""A counselor's wrap-up always ends, even when its timer job runs early or is lost."""

from __future__ import annotations

import time
from typing import Any

from rq import Queue
from rq.registry import ScheduledJobRegistry

from hotline import jobs
from hotline.queues import ROUTING_QUEUE
from hotline.routing import get_board

from .conftest import RedisDb
from .test_routing import counselor_ids, routed  # noqa: F401 - the fixture


def in_a_call(board: Any, counselor_id: int) -> None:
    # As after an accepted offer (the accept path is tests/test_routing.py's).
    board.r.hset(f"{board.p}:c:{counselor_id}", "state", "busy")


def test_a_wrap_up_job_that_runs_early_tries_again(routed: Any, need_real_redis: RedisDb) -> None:  # noqa: F811
    # RQ schedules in whole seconds, so the job can come up to a second before the end.
    counselor_id = counselor_ids(routed)["陈静"]
    board = get_board(routed)
    in_a_call(board, counselor_id)
    assert board.call_ended(counselor_id, 0.8)
    assert not jobs.end_wrap_up(counselor_id)
    queue = Queue(ROUTING_QUEUE, connection=need_real_redis.connection())
    [job_id] = ScheduledJobRegistry(queue=queue).get_job_ids()
    job = queue.fetch_job(job_id)
    assert job is not None
    assert job.func_name == "hotline.jobs.end_wrap_up" and tuple(job.args) == (counselor_id,)
    time.sleep(0.9)
    assert jobs.end_wrap_up(counselor_id)
    assert board.counselor(counselor_id)["state"] == "available"


def test_maintenance_frees_a_counselor_whose_wrap_up_timer_was_lost(
    routed: Any,  # noqa: F811
    need_real_redis: RedisDb,
) -> None:
    ids = counselor_ids(routed)
    board = get_board(routed)
    for counselor_id in ids.values():
        in_a_call(board, counselor_id)
    assert board.call_ended(ids["陈静"], 60, now=time.time() - 120)  # over a minute ago
    assert board.call_ended(ids["王敏"], 60)  # still wrapping up
    jobs.sync_routing(need_real_redis.connection())
    assert board.counselor(ids["陈静"])["state"] == "available"
    assert board.counselor(ids["王敏"])["state"] == "wrap_up"
