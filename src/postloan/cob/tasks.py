"""Celery tasks: thin wrappers around the runner's unit of work."""

from __future__ import annotations

from celery import group, shared_task


@shared_task(name="postloan.cob.partition", acks_late=True, reject_on_worker_lost=True)
def run_partition(partition_id: int) -> int:
    from .runner import execute_partition

    return execute_partition(partition_id)


def run_partitions_on_workers(partition_ids: list[int], timeout: float = 3600) -> int:
    """Run one step's partitions in parallel on the workers and wait for all of them."""
    if not partition_ids:
        return 0
    result = group(run_partition.s(pid) for pid in partition_ids).apply_async()
    return sum(result.get(timeout=timeout, disable_sync_subtasks=False))


@shared_task(name="postloan.cob.run")
def run_cob(to: str | None = None, actor_id: int | None = None) -> int:
    """Run (or resume) the close of business on a worker, for the button and the API."""
    import datetime as dt

    from postloan.org.models import User

    from .runner import run

    actor = User.objects.filter(pk=actor_id).first() if actor_id else None
    return run(to=dt.date.fromisoformat(to) if to else None, actor=actor).pk
