"""Celery tasks: thin wrappers around the runner's unit of work."""

from __future__ import annotations

import time
from collections.abc import Callable

from celery import group, shared_task
from celery.exceptions import TimeoutError as ResultTimeout

# The configured application (broker and result backend from the settings): importing it makes it Celery's
# current app, which the shared tasks below bind to. Without it a process that only imports this module (the
# ``postloan cob run`` command, the web server) would send the tasks to Celery's default broker.
from postloan.config.celery import app  # noqa: F401


@shared_task(name="postloan.cob.partition", bind=True, acks_late=True, reject_on_worker_lost=True)
def run_partition(self, partition_id: int) -> int:
    """One partition. Acknowledged only when done, and put back on the queue if the worker process dies, so
    a killed worker's partition is done by another (or again: ``execute_partition`` is idempotent)."""
    import os

    from .runner import crash_hook_after, execute_partition

    rows = execute_partition(partition_id, worker=f"{self.request.hostname or 'worker'}:{os.getpid()}")
    crash_hook_after(partition_id)
    return rows


def run_partitions_on_workers(partition_ids: list[int], timeout: float = 3600,
                              on_wait: Callable[[], None] | None = None, poll: float = 10) -> int:
    """Run one step's partitions in parallel on the workers and wait for all of them; ``on_wait`` is called
    every ``poll`` seconds meanwhile (the runner's heartbeat and progress)."""
    if not partition_ids:
        return 0
    result = group(run_partition.s(pid) for pid in partition_ids).apply_async()
    deadline = time.monotonic() + timeout
    while True:
        try:
            return sum(result.get(timeout=max(0.1, min(poll, deadline - time.monotonic())),
                                  disable_sync_subtasks=False))
        except ResultTimeout:
            if time.monotonic() >= deadline:
                raise
            if on_wait is not None:
                on_wait()


@shared_task(name="postloan.cob.run")
def run_cob(to: str | None = None, actor_id: int | None = None) -> int:
    """Run (or resume) the close of business on a worker, for the button and the API."""
    import datetime as dt

    from postloan.org.models import User

    from .runner import run

    actor = User.objects.filter(pk=actor_id).first() if actor_id else None
    return run(to=dt.date.fromisoformat(to) if to else None, actor=actor).pk
