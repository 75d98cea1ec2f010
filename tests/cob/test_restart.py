"""Kill the close of business mid-step, run it again: it resumes from the last committed partition and
ends with the same result as an uninterrupted run, to the fen.

Everything runs in subprocesses (the real ``postloan cob run``) on a database of the test's own: a
SQLite file in a temporary directory, and — when ``DATABASE_URL`` names PostgreSQL — also a scratch
PostgreSQL database (in process, no broker). The portfolio is built once and copied, so both runs start
from the same bytes.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import sqlite3
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location("cob_helpers", Path(__file__).with_name("helpers.py"))
helpers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(helpers)

TO = "2026-01-09"  # five business dates from 2026-01-05
PARTITION = "5"  # 40 loans: eight partitions per step


def _sqlite_copy(src: Path, dst: Path) -> None:
    """A consistent copy of a SQLite database in WAL mode (the backup API, not a file copy)."""
    with sqlite3.connect(src) as source, sqlite3.connect(dst) as target:
        source.backup(target)


@pytest.fixture(params=["sqlite", "postgresql"])
def databases(request, tmp_path):
    """Two identical databases with the portfolio built, as (environment interrupted, environment plain)."""
    if request.param == "sqlite":
        first = tmp_path / "killed.sqlite3"
        base = helpers.env(f"sqlite:///{first}", tmp_path)
        helpers.run(helpers.postloan("migrate", "-v", "0"), base)
        helpers.script("build", base)
        _sqlite_copy(first, tmp_path / "plain.sqlite3")
        yield base, helpers.env(f"sqlite:///{tmp_path / 'plain.sqlite3'}", tmp_path)
        return
    url = os.environ.get("DATABASE_URL")
    if not helpers.is_postgres(url):
        pytest.skip("DATABASE_URL does not name PostgreSQL")
    scratch = helpers.ScratchPostgres(url)
    name = f"postloan_restart_{os.getpid()}"
    try:
        base = helpers.env(scratch.create(name), tmp_path)
        helpers.run(helpers.postloan("migrate", "-v", "0"), base)
        helpers.script("build", base)
        plain = helpers.env(scratch.create(f"{name}_plain", template=name), tmp_path)
        yield base, plain
    finally:
        scratch.drop_all()


def _cob(environ: dict, **extra) -> object:
    return helpers.run(helpers.postloan("cob", "run", "--to", TO, "--no-progress"),
                       environ | {"POSTLOAN_COB_PARTITION": PARTITION} | extra, check=False)


def _assert_killed(proc) -> None:
    assert proc.returncode == -signal.SIGKILL, (proc.returncode, proc.stdout, proc.stderr)


def test_killed_mid_step_resumes_to_the_same_result(databases):
    killed, plain = databases

    # 1. Killed right after partition 1 of the ledger step of the first date committed.
    proc = _cob(killed, POSTLOAN_COB_KILL_AFTER="ledger.close_day:1")
    _assert_killed(proc)
    state = json.loads(helpers.script("dump", killed))
    assert state["business_date"] == "2026-01-05"  # the date is not closed
    assert state["days"] == [["2026-01-05", "running"]]
    assert [r[0] for r in state["runs"]] == ["running"]  # what the dead process left behind
    first_pid = state["runs"][0][1]
    done = [(p[1], p[2]) for p in state["partitions"] if p[3] == "done"]
    # partition 1 committed, and only ledger partitions (on PostgreSQL partitions run on two threads: the one
    # beside it may or may not have committed)
    assert ("ledger.close_day", 1) in done
    assert {name for name, _n in done} == {"ledger.close_day"}
    if not helpers.is_postgres(killed["DATABASE_URL"]):  # one after another: exactly 0 and 1
        assert done == [("ledger.close_day", 0), ("ledger.close_day", 1)]
    first_done = {n for _name, n in done}
    assert len([p for p in state["partitions"] if p[1] == "ledger.close_day"]) == 8

    # 2. Run again: the stale run is noticed (its process is gone), the work resumes; killed again, now in
    #    the middle of the snapshot step.
    proc = _cob(killed, POSTLOAN_COB_KILL_AFTER="cob.snapshot:2")
    _assert_killed(proc)
    state = json.loads(helpers.script("dump", killed))
    assert [r[0] for r in state["runs"]] == ["interrupted", "running"]
    assert state["business_date"] == "2026-01-05"
    by_step = {}
    for _day, name, number, status, worker in state["partitions"]:
        by_step.setdefault(name, []).append((number, status, worker))
    assert all(status == "done" for _n, status, _w in by_step["ledger.close_day"])
    # the partitions committed before the first kill were not done again
    assert {w.rsplit(":", 1)[1] for n, _s, w in by_step["ledger.close_day"] if n in first_done} == {str(first_pid)}
    assert 2 in {n for n, status, _w in by_step["cob.snapshot"] if status == "done"}

    # 3. Run again to the end; the copy runs once, uninterrupted.
    _finish_and_compare(killed, plain, ["interrupted", "interrupted", "done"])


def _finish_and_compare(resumed_env: dict, plain_env: dict, runs: list[str]) -> None:
    """Run the interrupted database to the end and the copy once, uninterrupted: the same result, to the fen,
    and both consistent with their postings."""
    proc = _cob(resumed_env)
    assert proc.returncode == 0, proc.stderr
    proc = _cob(plain_env)
    assert proc.returncode == 0, proc.stderr

    resumed = json.loads(helpers.script("dump", resumed_env))
    straight = json.loads(helpers.script("dump", plain_env))
    assert [r[0] for r in resumed["runs"]] == runs
    assert [r[0] for r in straight["runs"]] == ["done"]
    assert resumed["business_date"] == straight["business_date"] == "2026-01-10"
    assert resumed["days"] == straight["days"] == [[f"2026-01-{d:02d}", "done"] for d in range(5, 10)]
    for key in helpers.DERIVED:
        assert resumed[key] == straight[key], f"{key} differ between the resumed and the uninterrupted run"
    assert len(straight["snapshots"]) >= 5 * 30  # the comparison is not vacuous
    # and the day's portfolio figures are the sums of its snapshot rows (however the partitions' shares were
    # gathered: on SQLite on a second connection, after a kill by the aggregates step)
    assert resumed["aggregates"] == _aggregates_of(straight["snapshots"])
    for environ in (resumed_env, plain_env):
        check = helpers.run(helpers.postloan("ledger", "check"), environ)
        assert "stored balances equal their postings" in check.stdout


def _aggregates_of(snapshots: list[list]) -> list[list]:
    """The portfolio aggregates as the dump lists them, summed from the dump's snapshot rows."""
    columns = {"branch": 2, "product": 3, "industry": 4, "bucket": 18, "status": 6}
    measures = (7, 13, 14, 10, 15)  # outstanding, overdue principal, overdue interest, penalty, accrued
    sums: dict[tuple, list[int]] = {}
    for row in snapshots:
        for dimension, column in columns.items():
            acc = sums.setdefault((row[0], dimension, str(row[column])), [0] * 6)
            acc[0] += 1
            for i, m in enumerate(measures, start=1):
                acc[i] += row[m]
    return [[*key, *acc] for key, acc in sorted(sums.items())]


def test_database_lost_mid_step_stops_reports_and_resumes(databases):
    """PostgreSQL ends the connection in the middle of a partition (its work done, not committed), as a
    database that goes away would: the run stops with a clear report, the date stays open, nothing of that
    partition is kept, and the next run resumes to the same result as an uninterrupted one."""
    lost, plain = databases
    if not helpers.is_postgres(lost["DATABASE_URL"]):
        pytest.skip("ending the server connection mid-partition is PostgreSQL's (SQLite is a file in process)")
    proc = _cob(lost, POSTLOAN_COB_LOSE_CONNECTION="ledger.close_day:3")
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
    assert "database connection was lost during step ledger.close_day on 2026-01-05" in proc.stderr
    state = json.loads(helpers.script("dump", lost))
    assert state["business_date"] == "2026-01-05"
    assert [r[0] for r in state["runs"]] == ["failed"]
    done = [(p[1], p[2]) for p in state["partitions"] if p[3] == "done"]
    # partition 3's work was not kept; partitions on the other thread (one per CPU) may have been committed
    assert ("ledger.close_day", 3) not in done
    assert {name for name, _n in done} == {"ledger.close_day"}

    _finish_and_compare(lost, plain, ["failed", "done"])
