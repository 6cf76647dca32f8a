"""The hotline's RQ worker: the app's queues, plus a periodic safety net for the event log
and the hourly retention run."""

from __future__ import annotations

import logging
from typing import Any

from rq import SimpleWorker, Worker

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
        # The pubsub thread only carries remote stop/kill commands, which a burst run has no
        # use for; and stopping it (redis-py joins without a timeout, RQ reads with a 60 s
        # one) can stall a short burst's exit for up to a minute.
        if not self._burst:
            super().subscribe()  # type: ignore[misc]

    def run_maintenance_tasks(self) -> None:
        super().run_maintenance_tasks()  # type: ignore[misc]
        try:
            jobs.maintain_events(self.connection)  # type: ignore[attr-defined]
        except Exception:
            log.exception("event maintenance failed")
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
    return cls(
        list(queues or QUEUE_NAMES),
        connection=connection,  # type: ignore[arg-type]
        maintenance_interval=MAINTENANCE_SECONDS,
        worker_ttl=30,
    )
