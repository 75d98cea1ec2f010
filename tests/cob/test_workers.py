"""The close of business on two real Celery worker processes equals a single-process run, to the fen.

Needs PostgreSQL (``DATABASE_URL``) and Redis on 127.0.0.1:6379: skipped without PostgreSQL; without
Redis, skipped — or failed when ``POSTLOAN_REQUIRE_WORKERS`` is set (CI). The workers cannot see
pytest-django's test database, so the test makes two scratch PostgreSQL databases of its own next to
it (the portfolio built in one, the other a copy) and drives everything through subprocesses: the real
``postloan cob run`` with a broker on one, without on the other.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location("cob_helpers", Path(__file__).with_name("helpers.py"))
helpers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(helpers)

TO = "2026-01-07"  # three business dates
PARTITION = "4"  # 40 loans: ten partitions per step and day
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
READY_TIMEOUT = 90.0


def _redis(db: int):
    import redis

    return redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=db, socket_connect_timeout=2, socket_timeout=5)


def _require_redis(db: int) -> None:
    try:
        _redis(db).ping()
    except Exception as exc:
        message = f"Redis is not reachable at {REDIS_HOST}:{REDIS_PORT} ({exc}): start it (redis-server) to run " \
                  "the Celery worker test"
        if os.environ.get("POSTLOAN_REQUIRE_WORKERS"):
            pytest.fail(message)
        pytest.skip(message)


def _wait_for_workers(broker: str, backend: str, names: set[str], procs: list, logs: list[Path]) -> None:
    """Poll the workers with ``ping`` until all of them answer, or fail at the deadline."""
    from celery import Celery

    probe = Celery("postloan-probe", broker=broker, backend=backend, set_as_current=False)
    deadline = time.monotonic() + READY_TIMEOUT
    answered: set[str] = set()
    try:
        while time.monotonic() < deadline:
            for proc, log in zip(procs, logs, strict=True):
                if proc.poll() is not None:
                    pytest.fail(f"a worker exited with {proc.returncode} before it was ready:\n"
                                f"{log.read_text()[-4000:]}")
            for reply in probe.control.ping(timeout=1.0) or []:
                answered |= set(reply)
            if names <= answered:
                return
        pytest.fail(f"workers {sorted(names - answered)} did not answer within {READY_TIMEOUT:.0f} s:\n"
                    + "\n".join(log.read_text()[-2000:] for log in logs))
    finally:
        probe.close()


def _stop(procs: list[subprocess.Popen]) -> None:
    """Warm shutdown (SIGTERM to each worker's own process group), then SIGKILL what is left."""
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def test_waiting_for_the_workers_beats_the_heart_until_all_are_done(monkeypatch):
    """While the runner waits for a step's partitions it keeps signalling it is alive (no real broker)."""
    from celery.exceptions import TimeoutError as ResultTimeout

    from postloan.cob import tasks

    class Pending:
        waits = 0

        def get(self, timeout, disable_sync_subtasks):
            assert timeout <= 0.5 and disable_sync_subtasks is False
            Pending.waits += 1
            if Pending.waits < 3:
                raise ResultTimeout("still running")
            return [3, 4]

    sent = []
    monkeypatch.setattr(tasks, "group", lambda sigs: sent.append(list(sigs)) or type(
        "G", (), {"apply_async": lambda self: Pending()})())
    beats = []
    assert tasks.run_partitions_on_workers([7, 8], on_wait=lambda: beats.append(1), poll=0.5) == 7
    assert [s.args for s in sent[0]] == [(7,), (8,)] and len(beats) == 2

    class Never:
        def get(self, timeout, disable_sync_subtasks):
            time.sleep(timeout)
            raise ResultTimeout("no worker")

    monkeypatch.setattr(tasks, "group", lambda sigs: type("G", (), {"apply_async": lambda self: Never()})())
    with pytest.raises(ResultTimeout):  # the step's time limit still holds
        tasks.run_partitions_on_workers([7], on_wait=lambda: None, poll=0.05, timeout=0.2)


@pytest.mark.celery
def test_two_workers_give_the_single_process_result(tmp_path):
    url = os.environ.get("DATABASE_URL")
    if not helpers.is_postgres(url):
        pytest.skip("the Celery workers run the close of business on PostgreSQL: set DATABASE_URL")
    db = 8 + 2 * (os.getpid() % 4)  # broker and result backend: Redis databases 8..15, flushed here
    _require_redis(db)
    broker = f"redis://{REDIS_HOST}:{REDIS_PORT}/{db}"
    backend = f"redis://{REDIS_HOST}:{REDIS_PORT}/{db + 1}"
    for n in (db, db + 1):
        _redis(n).flushdb()
    scratch = helpers.ScratchPostgres(url)
    name = f"postloan_workers_{os.getpid()}"
    procs: list[subprocess.Popen] = []
    try:
        parallel = helpers.env(scratch.create(name), tmp_path, POSTLOAN_COB_PARTITION=PARTITION)
        helpers.run(helpers.postloan("migrate", "-v", "0"), parallel)
        helpers.script("build", parallel)
        single = helpers.env(scratch.create(f"{name}_single", template=name), tmp_path,
                             POSTLOAN_COB_PARTITION=PARTITION)
        parallel |= {"POSTLOAN_BROKER_URL": broker, "POSTLOAN_RESULT_BACKEND": backend}
        # One worker process is killed (SIGKILL) right after it committed the first date's ledger partition 3,
        # before it could acknowledge the task: the task goes back on the queue and is done (again) elsewhere.
        killed_marker = tmp_path / "killed"
        worker_env = parallel | {"POSTLOAN_COB_KILL_AFTER": "ledger.close_day:3",
                                 "POSTLOAN_COB_KILL_ONCE": str(killed_marker)}

        host = socket.gethostname()
        names = {f"w1-{os.getpid()}@{host}", f"w2-{os.getpid()}@{host}"}
        logs = []
        for worker in sorted(names):
            log = tmp_path / f"{worker.split('@')[0]}.log"
            logs.append(log)
            with log.open("w") as out:
                procs.append(subprocess.Popen(
                    [str(helpers.BIN / "celery"), "-A", "postloan.config.celery", "worker", "--concurrency", "1",
                     "-n", worker, "--without-gossip", "--without-mingle", "--without-heartbeat", "-Q", "celery",
                     "-l", "INFO"],
                    env=worker_env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True))
        _wait_for_workers(broker, backend, names, procs, logs)

        proc = helpers.run(helpers.postloan("cob", "run", "--to", TO, "--no-progress"), parallel, timeout=600)
        assert "done" in proc.stdout
        helpers.run(helpers.postloan("cob", "run", "--to", TO, "--no-progress"), single)

        on_workers = json.loads(helpers.script("dump", parallel))
        in_process = json.loads(helpers.script("dump", single))
        for key in helpers.DERIVED:
            assert on_workers[key] == in_process[key], f"{key}: the workers' result differs from one process's"
        assert on_workers["business_date"] == "2026-01-08"
        assert len(in_process["snapshots"]) >= 3 * 30

        # The partitions really ran on both workers, not in the process that ran the close of business, and
        # one worker process was killed mid-step without changing the result.
        partitions = on_workers["partitions"]
        assert len(partitions) >= 3 * 2 * 10 and all(p[3] == "done" for p in partitions)
        nodes = {p[4].rsplit(":", 1)[0] for p in partitions}
        assert nodes == names, f"partitions ran on {sorted(nodes)}; expected both workers"
        assert killed_marker.exists()
        logs_text = "\n".join(log.read_text() for log in logs)
        assert "WorkerLostError" in logs_text or "SIGKILL" in logs_text
        host_pid = f"{host}:{on_workers['runs'][0][1]}"
        assert {p[4] for p in in_process["partitions"]} == {f"{host}:{in_process['runs'][0][1]}"} != {host_pid}
        for environ in (parallel, single):
            assert "stored balances equal" in helpers.run(helpers.postloan("ledger", "check"), environ).stdout
    finally:
        _stop(procs)
        scratch.drop_all()
        for n in (db, db + 1):
            try:
                _redis(n).flushdb()
            except Exception:
                pass
