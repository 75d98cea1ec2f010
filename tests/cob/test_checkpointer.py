"""SQLite: the close of business copies its log back into the database file on a thread of its own while it
goes on writing; the log must stay bounded and nothing written may be lost."""

from __future__ import annotations

import sqlite3

from postloan.cob.runner import Checkpointer

PAGE = 4096
ROWS = 20  # rows of about a page each: a transaction writes some twenty pages to the log


def _writer(path):
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA wal_autocheckpoint = 0")  # the writer never copies the log itself
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, round INTEGER, body BLOB)")
    conn.executemany("INSERT INTO t VALUES (?, 0, zeroblob(3500))", [(n,) for n in range(ROWS)])
    return conn


def _rounds(conn, path, rounds, checkpointer=None) -> int:
    """Rewrite every row ``rounds`` times, a transaction each; the log's largest size in pages."""
    wal = path.with_name(path.name + "-wal")
    largest = 0
    for n in range(1, rounds + 1):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("UPDATE t SET round = ?, body = zeroblob(3500 + ?)", [n, n % 7])
        conn.execute("COMMIT")
        if checkpointer is not None:
            checkpointer.committed()
        largest = max(largest, wal.stat().st_size // PAGE)
    return largest


def test_the_log_stays_bounded_while_the_writer_goes_on(tmp_path):
    path = tmp_path / "db.sqlite3"
    conn = _writer(path)
    checkpointer = Checkpointer(str(path), limit=100)
    try:
        largest = _rounds(conn, path, 200, checkpointer)
        checkpointer.committed(wait=True)
    finally:
        checkpointer.close()
    # 200 rounds of ~20 pages: 4,000 pages without checkpoints; the limit plus a few rounds with them
    assert largest < 100 + 10 * ROWS, largest
    # everything committed is there, and was copied: a checkpoint finds nothing left to copy
    assert conn.execute("SELECT COUNT(*), MIN(round), MAX(round) FROM t").fetchone() == (ROWS, 200, 200)
    busy, frames, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert busy == 0 and copied == frames
    conn.close()


def test_without_it_the_log_grows_with_every_round(tmp_path):
    """The measure above is meaningful: the same writer alone lets the log grow to every page it wrote."""
    path = tmp_path / "db.sqlite3"
    conn = _writer(path)
    assert _rounds(conn, path, 200) > 200 * ROWS * 0.9
    conn.close()


def test_a_checkpointer_on_a_database_it_cannot_open_does_not_hold_up_the_writer(tmp_path):
    import threading

    checkpointer = Checkpointer(str(tmp_path / "missing" / "db.sqlite3"), limit=0)
    writer = threading.Thread(target=checkpointer.committed, kwargs={"wait": True}, daemon=True)
    writer.start()
    writer.join(timeout=60)
    assert not writer.is_alive(), "the writer waits for a checkpointer that has stopped"
    checkpointer.close()
