"""Upgrading a database that holds snapshots: migration cob 0005 keys the snapshot by (date, loan) and keeps
every row (SQLite: a table without rowid; PostgreSQL: the surrogate id and its index gone)."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location("cob_helpers", Path(__file__).with_name("helpers.py"))
helpers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(helpers)

COLUMNS = ("id, date, loan_id, branch_id, product_id, industry, officer_id, status, principal_outstanding_fen, "
           "principal_due_fen, interest_due_fen, penalty_due_fen, compound_due_fen, fee_due_fen, "
           "overdue_principal_fen, overdue_interest_fen, interest_accrued_fen, credit_fen, days_past_due, bucket, "
           "classification, stage")
ROWS = [(3, "2026-01-06", 7, 1, 2, "C13", None, "overdue", 500_000, 0, 0, 12, 3, 0, 1_000, 200, 45, 0, 12, "M1", "",
         None),
        (1, "2026-01-05", 9, 1, 2, "", 4, "active", 900_000, 0, 0, 0, 0, 0, 0, 0, 30, 0, 0, "M0", "", None),
        (2, "2026-01-05", 7, 1, 2, "C13", None, "overdue", 500_000, 0, 0, 10, 2, 0, 1_000, 200, 40, 0, 11, "M1",
         "", None)]


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path):
    """(environment, connect) of an empty database of the test's own."""
    if request.param == "sqlite":
        import sqlite3

        path = tmp_path / "old.sqlite3"
        yield helpers.env(f"sqlite:///{path}", tmp_path), lambda: sqlite3.connect(path)
        return
    url = os.environ.get("DATABASE_URL")
    if not helpers.is_postgres(url):
        pytest.skip("DATABASE_URL does not name PostgreSQL")
    import psycopg

    scratch = helpers.ScratchPostgres(url)
    try:
        target = scratch.create(f"postloan_migrate_{os.getpid()}")
        yield helpers.env(target, tmp_path), lambda: psycopg.connect(target, autocommit=True)
    finally:
        scratch.drop_all()


def test_snapshots_keep_every_row_under_their_new_key(database):
    environ, connect = database
    helpers.run(helpers.postloan("migrate", "cob", "0004", "-v", "0"), environ)
    conn = connect()
    marks = ", ".join(["?" if "sqlite" in type(conn).__module__ else "%s"] * len(ROWS[0]))
    cur = conn.cursor()
    cur.executemany(f"INSERT INTO cob_loansnapshot ({COLUMNS}) VALUES ({marks})", ROWS)
    if hasattr(conn, "commit"):
        conn.commit()
    conn.close()

    helpers.run(helpers.postloan("migrate", "-v", "0"), environ)

    conn = connect()
    cur = conn.cursor()
    cur.execute(f"SELECT {COLUMNS.removeprefix('id, ')} FROM cob_loansnapshot ORDER BY date, loan_id")
    assert [tuple(str(v) if hasattr(v, "isoformat") else v for v in row) for row in cur.fetchall()] == [
        row[1:] for row in sorted(ROWS, key=lambda r: (r[1], r[2]))]
    if "sqlite" in type(conn).__module__:
        cur.execute("SELECT sql FROM sqlite_master WHERE name = 'cob_loansnapshot'")
        ddl = cur.fetchone()[0]
        assert ddl.endswith("WITHOUT ROWID") and 'PRIMARY KEY ("date", "loan_id")' in ddl
        assert '"id"' not in ddl
    else:
        cur.execute("SELECT indexdef FROM pg_indexes WHERE tablename = 'cob_loansnapshot'")
        assert [row[0] for row in cur.fetchall()] == [
            "CREATE UNIQUE INDEX cob_loansnapshot_pkey ON public.cob_loansnapshot USING btree (date, loan_id)"]
        cur.execute("SELECT 1 FROM information_schema.columns WHERE table_name = 'cob_loansnapshot' "
                    "AND column_name = 'id'")
        assert cur.fetchone() is None
    conn.close()
