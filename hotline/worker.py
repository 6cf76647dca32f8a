"""The hotline's RQ worker: the app's queues, plus a periodic safety net for the event log
and the hourly retention run."""

from __future__ import annotations

import logging
from typing import Any

from rq import Queue, SimpleWorker, Worker
from rq.job import Job
from rq.registry import ScheduledJobRegistry
from rq.utils import current_timestamp

from . import jobs
from .queues import QUEUE_NAMES

log = logging.getLogger(__name__)

# Short enough that a backlog left by a dead worker is picked up within seconds.
MAINTENANCE_SECONDS = 10


class _Maintained:
    _burst = False

    def work(self, burst: bool = False, *args: Any, **kwargs: Any) -> bool:
        self._burst = burst
        return bool(super().work(burst, *args, **kwargs))  # type: ignore[misc]

    def subscribe(self) -> None:
        """RQ listens for commands (stop a job, shut down) polling every 60 s, and redis-py
        8 waits for that poll to end when the worker stops: every worker took up to a
        minute to exit. A one-second poll ends that; a burst run (tests, the simulator)
        has no use for remote commands and does not listen at all."""
        if self._burst:
            self.pubsub_thread = None
            return
        self.pubsub = self.connection.pubsub()  # type: ignore[attr-defined]
        self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})  # type: ignore[attr-defined]
        self.pubsub_thread = self.pubsub.run_in_thread(  # type: ignore[attr-defined]
            sleep_time=1,
            daemon=True,
            exception_handler=self._pubsub_exception_handler,  # type: ignore[attr-defined]
        )

    def run_maintenance_tasks(self) -> None:
        super().run_maintenance_tasks()  # type: ignore[misc]
        try:
            jobs.maintain_events(self.connection)  # type: ignore[attr-defined]
        except Exception:
            log.exception("event maintenance failed")
        try:
            jobs.sync_routing(self.connection)  # type: ignore[attr-defined]
        except Exception:
            log.exception("routing maintenance failed")
        try:
            jobs.schedule_callbacks(self.connection)  # type: ignore[attr-defined]
        except Exception:
            log.exception("could not schedule callbacks")
        try:
            jobs.maintain_retention(self.connection)  # type: ignore[attr-defined]
        except Exception:
            log.exception("could not schedule retention")


class HotlineWorker(_Maintained, SimpleWorker):
    """Runs jobs in its own process: no fork per job, so thousands of small jobs a second
    are possible; a crash loses no work (claims are returned by the next maintenance)."""


class ForkingHotlineWorker(_Maintained, Worker):
    """RQ's classic fork-per-job worker, for jobs that must not share a process."""


def make_worker(connection: object, queues: list[str] | None = None, fork: bool = False) -> Worker:
    cls = ForkingHotlineWorker if fork else HotlineWorker
    worker = cls(
        list(queues or QUEUE_NAMES),
        connection=connection,  # type: ignore[arg-type]
        maintenance_interval=MAINTENANCE_SECONDS,
        worker_ttl=30,
    )
    return worker


def move_due_scheduled_jobs(connection: object, queue_names: list[str] | None = None) -> int:
    """What RQ's scheduler does, for the in-process Redis stand-in: RQ runs its scheduler
    in a forked process, which would only ever see a copy of an in-process stand-in, so
    jobs scheduled for later (wrap-up ends, retries with backoff) would never run."""
    moved = 0
    for name in queue_names or QUEUE_NAMES:
        registry = ScheduledJobRegistry(name, connection=connection)  # type: ignore[arg-type]
        queue = Queue(name, connection=connection)  # type: ignore[arg-type]
        for job_id in registry.get_jobs_to_schedule(current_timestamp()):
            try:
                job = Job.fetch(job_id, connection=connection)  # type: ignore[arg-type]
            except Exception:
                registry.remove(job_id)
                continue
            queue.enqueue_job(job)
            registry.remove(job)
            moved += 1
    return moved
