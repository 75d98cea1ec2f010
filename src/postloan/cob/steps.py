"""The steps this issue's close of business runs. Later apps register theirs the same way."""

from __future__ import annotations

import datetime as dt

from django.db import connection

from postloan.ledger.close import close_loans

from .models import LoanSnapshot, PortfolioAggregate
from .registry import step


@step("ledger.close_day", order=100)
def ledger_close_day(day: dt.date, loan_ids: list[int]):
    """Accrue interest, fall due installments, age overdue amounts, accrue penalty and compound interest."""
    return close_loans(day, loan_ids)


SNAPSHOT_COLUMNS = ["principal_outstanding_fen", "principal_due_fen", "interest_due_fen", "penalty_due_fen",
                    "compound_due_fen", "fee_due_fen", "overdue_principal_fen", "overdue_interest_fen",
                    "interest_accrued_fen", "credit_fen", "days_past_due", "bucket", "status"]


@step("cob.snapshot", order=900)
def snapshot(day: dt.date, loan_ids: list[int]):
    """One row per loan for the day (open loans, and loans settled that day), written set-based."""
    qn = connection.ops.quote_name
    LoanSnapshot.objects.filter(date=day, loan_id__in=loan_ids).delete()
    cols = ", ".join(qn(c) for c in SNAPSHOT_COLUMNS)
    src = ", ".join(f"l.{qn(c)}" for c in SNAPSHOT_COLUMNS)
    marks = ", ".join(["%s"] * len(loan_ids))
    sql = (
        f"INSERT INTO {qn('cob_loansnapshot')} (date, loan_id, branch_id, product_id, industry, officer_id, "
        f"classification, {cols}) "
        f"SELECT %s, l.id, l.branch_id, l.product_id, COALESCE(c.industry_id, ''), l.officer_id, '', {src} "
        f"FROM {qn('ledger_loan')} l JOIN {qn('customers_customer')} c ON c.id = l.customer_id "
        f"WHERE l.id IN ({marks}) AND (l.status IN ('active', 'overdue') OR l.settled_on = %s)"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [day, *loan_ids, day])
        rows = cursor.rowcount
    return rows, {"snapshots": rows}


DIMENSIONS = {"branch": "branch_id", "product": "product_id", "industry": "industry", "bucket": "bucket",
              "status": "status"}


@step("cob.aggregates", order=950, per_partition=False)
def aggregates(day: dt.date, loan_ids=None):
    """The day's portfolio by branch, product, industry, bucket and status, from the snapshots."""
    qn = connection.ops.quote_name
    PortfolioAggregate.objects.filter(date=day).delete()
    total = 0
    with connection.cursor() as cursor:
        for name, column in DIMENSIONS.items():
            cursor.execute(
                f"INSERT INTO {qn('cob_portfolioaggregate')} (date, dimension, {qn('key')}, loans, "
                "principal_outstanding_fen, overdue_principal_fen, overdue_interest_fen, penalty_due_fen, "
                "interest_accrued_fen) "
                f"SELECT %s, %s, CAST({qn(column)} AS VARCHAR(40)), COUNT(*), SUM(principal_outstanding_fen), "
                "SUM(overdue_principal_fen), SUM(overdue_interest_fen), SUM(penalty_due_fen), "
                f"SUM(interest_accrued_fen) FROM {qn('cob_loansnapshot')} WHERE date = %s "
                f"GROUP BY {qn(column)}", [day, name, day])
            total += cursor.rowcount
    return total, {"aggregate_rows": total}
