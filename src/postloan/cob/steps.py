"""The steps this issue's close of business runs. Later apps register theirs the same way."""

from __future__ import annotations

import datetime as dt

from django.db import connection

from postloan.ledger.close import close_loans

from .models import LoanSnapshot, PortfolioAggregate
from .registry import LoanRange, step


@step("ledger.close_day", order=100)
def ledger_close_day(day: dt.date, loans: LoanRange):
    """Accrue interest, fall due installments, age overdue amounts, accrue penalty and compound interest."""
    return close_loans(day, loans.first, loans.last)


SNAPSHOT_COLUMNS = ["principal_outstanding_fen", "principal_due_fen", "interest_due_fen", "penalty_due_fen",
                    "compound_due_fen", "fee_due_fen", "overdue_principal_fen", "overdue_interest_fen",
                    "interest_accrued_fen", "credit_fen", "days_past_due", "bucket", "status"]


@step("cob.snapshot", order=900)
def snapshot(day: dt.date, loans: LoanRange):
    """One row per loan for the day (open loans, and loans settled that day), written set-based."""
    qn = connection.ops.quote_name
    table = qn(LoanSnapshot._meta.db_table)
    cols = ", ".join(qn(c) for c in SNAPSHOT_COLUMNS)
    src = ", ".join(f"l.{qn(c)}" for c in SNAPSHOT_COLUMNS)
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE date = %s AND loan_id BETWEEN %s AND %s",
                       [day, loans.first, loans.last])
        cursor.execute(
            f"INSERT INTO {table} (date, loan_id, branch_id, product_id, industry, officer_id, classification, "
            f"{cols}) SELECT %s, l.id, l.branch_id, l.product_id, COALESCE(c.industry_id, ''), l.officer_id, '', "
            f"{src} FROM {qn('ledger_loan')} l JOIN {qn('customers_customer')} c ON c.id = l.customer_id "
            "WHERE l.id BETWEEN %s AND %s AND (l.status IN ('active', 'overdue') OR l.settled_on = %s)",
            [day, loans.first, loans.last, day])
        rows = cursor.rowcount
    return rows, {"snapshots": rows}


DIMENSIONS = {"branch": "branch_id", "product": "product_id", "industry": "industry", "bucket": "bucket",
              "status": "status"}
MEASURES = ["principal_outstanding_fen", "overdue_principal_fen", "overdue_interest_fen", "penalty_due_fen",
            "interest_accrued_fen"]


@step("cob.aggregates", order=950, per_partition=False)
def aggregates(day: dt.date, loans=None):
    """The day's portfolio by branch, product, industry, bucket and status: one pass over the day's snapshots
    grouped by all five, then summed per dimension (the fine groups are few)."""
    qn = connection.ops.quote_name
    PortfolioAggregate.objects.filter(date=day).delete()
    columns = list(DIMENSIONS.values())
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join(qn(c) for c in columns)}, COUNT(*), "
            + ", ".join(f"SUM({qn(m)})" for m in MEASURES)
            + f" FROM {qn(LoanSnapshot._meta.db_table)} WHERE date = %s GROUP BY "
            + ", ".join(qn(c) for c in columns), [day])
        groups = cursor.fetchall()
    sums: dict[tuple[str, str], list[int]] = {}
    width = len(columns)
    for row in groups:
        values = row[width:]
        for name, key in zip(DIMENSIONS, row[:width], strict=True):
            total = sums.setdefault((name, str(key)), [0] * len(values))
            for i, value in enumerate(values):
                total[i] += int(value)
    PortfolioAggregate.objects.bulk_create(
        [PortfolioAggregate(date=day, dimension=name, key=key, loans=values[0],
                            **dict(zip(MEASURES, values[1:], strict=True))) for (name, key), values in sums.items()],
        batch_size=1000)
    return len(sums), {"aggregate_rows": len(sums)}
