"""Helpers for the close-of-business process tests (restart after a kill, real Celery workers).

Those tests run the real ``postloan`` command in subprocesses against a database of their own, so
this module is also a script, run with the project's Python and ``DATABASE_URL`` pointing at that
database (already migrated)::

    python tests/cob/helpers.py build     # a small varied portfolio, business date 2026-01-05
    python tests/cob/helpers.py dump      # JSON: what the close of business derived (to compare runs)

The test side (``env``, ``postloan``, ``run``) needs no Django.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

START = dt.date(2026, 1, 5)
HERE = Path(__file__).resolve()
BIN = Path(sys.executable).parent


def env(database_url: str, data_dir: Path, **extra: str | None) -> dict[str, str]:
    """The environment of a subprocess working on ``database_url`` in process (no broker) unless
    ``extra`` sets one; a value of None removes the variable."""
    result = {k: v for k, v in os.environ.items() if not k.startswith(("POSTLOAN_", "DJANGO_"))}
    result |= {"DATABASE_URL": database_url, "POSTLOAN_DATA_DIR": str(data_dir),
               "DJANGO_SETTINGS_MODULE": "postloan.config.settings", "POSTLOAN_LANGUAGE": "en",
               "PYTHONUNBUFFERED": "1"}
    for key, value in extra.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = value
    return result


def postloan(*args: str) -> list[str]:
    exe = BIN / "postloan"
    return [str(exe), *args] if exe.exists() else [sys.executable, "-m", "postloan.cli", *args]


def run(cmd: list[str], environ: dict[str, str], timeout: float = 300, check: bool = True
        ) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, env=environ, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited with {proc.returncode}\n--- stdout\n{proc.stdout[-3000:]}"
                             f"\n--- stderr\n{proc.stderr[-5000:]}")
    return proc


def script(command: str, environ: dict[str, str], timeout: float = 300) -> str:
    return run([sys.executable, str(HERE), command], environ, timeout=timeout).stdout


def is_postgres(url: str | None) -> bool:
    return bool(url) and url.split(":", 1)[0] in {"postgres", "postgresql", "pgsql"}


class ScratchPostgres:
    """Scratch databases next to the one ``DATABASE_URL`` names (same server, same credentials),
    created here and dropped by ``drop_all``."""

    def __init__(self, url: str) -> None:
        from urllib.parse import urlsplit, urlunsplit

        self._parts = urlsplit(url)
        self._unsplit = urlunsplit
        self.created: list[str] = []

    def url(self, name: str) -> str:
        return self._unsplit(self._parts._replace(path=f"/{name}"))

    def _admin(self):
        import psycopg

        return psycopg.connect(self.url("postgres"), autocommit=True)

    def create(self, name: str, template: str | None = None) -> str:
        with self._admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        self.created.append(name)
        return self.url(name)

    def drop_all(self) -> None:
        with self._admin() as conn:
            for name in reversed(self.created):
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.created.clear()


# --- run as a script, inside Django ------------------------------------------------------------


def build(loans: int = 40) -> None:
    """The portfolio of ``tests/cob/conftest.py`` (every method and day count, grace days, late payers,
    stopped payers, partial payers and overpayers), built through the ledger's services."""
    import random
    from decimal import Decimal

    from postloan.customers import services as customer_services
    from postloan.customers.identifiers import make_uscc
    from postloan.customers.models import Industry
    from postloan.kernel.models import BusinessDate
    from postloan.ledger import services
    from postloan.org import services as org_services

    ho = org_services.create_branch(actor=None, code="HO", name="总行", level="head_office")
    branches = [org_services.create_branch(actor=None, code=code, name=name, level="branch", parent=ho)
                for code, name in (("BJ", "北京分行"), ("SH", "上海分行"))]
    BusinessDate.objects.update_or_create(pk=1, defaults={"date": START})
    rng = random.Random(42)
    products = []
    for i, (method, day_count, basis, grace, rule) in enumerate([
        ("equal_installment", "ACT/360", "period", 0, "none"),
        ("equal_principal", "ACT/365F", "daily", 3, "following"),
        ("interest_only", "30/360", "period", 0, "following"),
        ("bullet", "ACT/ACT", "daily", 0, "none"),
        ("equal_installment", "30E/360", "daily", 5, "modified_following"),
    ]):
        products.append(services.create_product(
            actor=None, code=f"P{i}", name=f"产品{i}", segment="corporate", method=method, frequency="monthly",
            day_count=day_count, interest_basis=basis, holiday_rule=rule, grace_days=grace,
            min_rate=Decimal("0.01"), max_rate=Decimal("0.2"), max_term_months=120))
    industry = Industry.objects.get(code="13")
    for n in range(loans):
        customer = customer_services.create_customer(
            actor=None, customer_no=f"C{n}", kind="corporate", name=f"企业{n}", id_number=make_uscc(rng),
            branch=branches[n % 2], industry=industry)
        product = products[n % len(products)]
        start = dt.date(2025, 1, 1) + dt.timedelta(days=rng.randrange(0, 360))
        term = rng.choice([6, 12, 24, 36]) if product.method != "bullet" else rng.choice([3, 6, 12])
        loan = services.book_loan(actor=None, loan_no=f"L{n:03d}", customer=customer, product=product,
                                  principal=Decimal(rng.randrange(10_000, 2_000_000)), term_months=term,
                                  annual_rate=Decimal(rng.choice(["0.0345", "0.0435", "0.0600", "0.0875"])),
                                  start_date=start)
        services.disburse(actor=None, loan=loan, value_date=start, reference=f"D{n}")
        loan.refresh_from_db()
        behaviour = n % 4  # 0 pays on time, 1 pays late, 2 stops paying, 3 partial payer / overpayer
        for row in loan.installments.exclude(status="superseded").order_by("due_date"):
            if row.due_date >= START:
                break
            amount = Decimal(row.principal_fen + row.interest_fen) / 100
            if behaviour == 0:
                day = row.due_date
            elif behaviour == 1:
                day = row.due_date + dt.timedelta(days=rng.randrange(1, 40))
            elif behaviour == 2:
                if row.due_date > dt.date(2025, 8, 1):
                    break
                day = row.due_date
            else:
                day = row.due_date
                amount = (amount * Decimal(rng.choice(["0.5", "1.3"]))).quantize(Decimal("0.01"))
            if day >= START:
                continue
            try:
                services.post_repayment(actor=None, loan=loan, amount=amount, value_date=day,
                                        reference=f"R{row.pk}")
            except Exception:  # a late payment on a loan the earlier ones settled: as in the fixture
                pass


LOAN_COLUMNS = ["id", "status", "state_as_of", "disbursed_fen", "principal_outstanding_fen", "principal_due_fen",
                "interest_due_fen", "penalty_due_fen", "compound_due_fen", "fee_due_fen", "overdue_principal_fen",
                "overdue_interest_fen", "interest_accrued_fen", "credit_fen", "days_past_due", "bucket",
                "next_due_date", "settled_on", "maturity_date"]


def dump() -> dict:
    """Everything the close of business derives, keyed so that two databases built alike compare equal."""
    from django.db import connection

    from postloan.cob.models import CobDay, CobPartition, CobRun
    from postloan.kernel import businessdate

    def rows(sql: str) -> list[list]:
        with connection.cursor() as cursor:
            cursor.execute(sql)
            return [[str(v) if isinstance(v, dt.date) else v for v in row] for row in cursor.fetchall()]

    snapshot_cols = ("date, loan_id, branch_id, product_id, industry, officer_id, status, principal_outstanding_fen, "
                     "principal_due_fen, interest_due_fen, penalty_due_fen, compound_due_fen, fee_due_fen, "
                     "overdue_principal_fen, overdue_interest_fen, interest_accrued_fen, credit_fen, "
                     "days_past_due, bucket, classification, stage")
    return {
        "business_date": str(businessdate.current()),
        "loans": rows(f"SELECT {', '.join(LOAN_COLUMNS)} FROM ledger_loan ORDER BY id"),
        "installments": rows("SELECT * FROM ledger_installment ORDER BY id"),
        "snapshots": rows(f"SELECT {snapshot_cols} FROM cob_loansnapshot ORDER BY date, loan_id"),
        "aggregates": rows("SELECT date, dimension, key, loans, principal_outstanding_fen, overdue_principal_fen, "
                           "overdue_interest_fen, penalty_due_fen, interest_accrued_fen FROM cob_portfolioaggregate "
                           "ORDER BY date, dimension, key"),
        # how the work was done: not compared between runs, but asserted on
        "runs": list(CobRun.objects.order_by("id").values_list("status", "pid", "host")),
        "days": [[str(d), s] for d, s in CobDay.objects.order_by("date").values_list("date", "status")],
        "partitions": [[str(d), name, number, status, worker] for d, name, number, status, worker in
                       CobPartition.objects.order_by("step__day__date", "step__order", "number").values_list(
                           "step__day__date", "step__name", "number", "status", "worker")],
    }


DERIVED = ("business_date", "loans", "installments", "snapshots", "aggregates")


def main(argv: list[str]) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "postloan.config.settings")
    import django

    django.setup()
    if argv == ["build"]:
        from django.db import transaction

        with transaction.atomic():
            build()
    elif argv == ["dump"]:
        json.dump(dump(), sys.stdout)
    else:
        print("usage: helpers.py build|dump", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
