"""The steps this issue's close of business runs. Later apps register theirs the same way."""

from __future__ import annotations

import datetime as dt

from django.db import connection
from django.db.models import Sum

from postloan.ledger.close import close_loans

from .models import LoanSnapshot, PortfolioAggregate, PortfolioPart
from .registry import LoanRange, step


@step("ledger.close_day", order=100)
def ledger_close_day(day: dt.date, loans: LoanRange):
    """Accrue interest, fall due installments, age overdue amounts, accrue penalty and compound interest."""
    return close_loans(day, loans.first, loans.last)


SNAPSHOT_COLUMNS = ["principal_outstanding_fen", "principal_due_fen", "interest_due_fen", "penalty_due_fen",
                    "compound_due_fen", "fee_due_fen", "overdue_principal_fen", "overdue_interest_fen",
                    "interest_accrued_fen", "credit_fen", "days_past_due", "bucket", "status"]


DIMENSIONS = {"branch": "branch_id", "product": "product_id", "industry": "industry", "bucket": "bucket",
              "status": "status"}
MEASURES = ["principal_outstanding_fen", "overdue_principal_fen", "overdue_interest_fen", "penalty_due_fen",
            "interest_accrued_fen"]


@step("cob.snapshot", order=900)
def snapshot(day: dt.date, loans: LoanRange):
    """One row per loan for the day (open loans, and loans settled that day), written set-based; and the
    partition's share of the day's portfolio by branch, product, industry, bucket and status (one GROUP BY
    over the rows just written, summed per dimension: the fine groups are few)."""
    qn = connection.ops.quote_name
    table = qn(LoanSnapshot._meta.db_table)
    cols = ", ".join(qn(c) for c in SNAPSHOT_COLUMNS)
    src = ", ".join(f"l.{qn(c)}" for c in SNAPSHOT_COLUMNS)
    fine = ", ".join(qn(c) for c in DIMENSIONS.values())
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE date = %s AND loan_id BETWEEN %s AND %s",
                       [day, loans.first, loans.last])
        PortfolioPart.objects.filter(date=day, first_loan=loans.first).delete()
        cursor.execute(
            # the customer's industry by a lookup per loan: as a join, PostgreSQL hashed the whole customer
            # table for each partition (0.38 s of 0.45 s a partition at a million loans)
            f"INSERT INTO {table} (date, loan_id, branch_id, product_id, industry, officer_id, classification, "
            f"{cols}) SELECT %s, l.id, l.branch_id, l.product_id, COALESCE((SELECT c.industry_id FROM "
            f"{qn('customers_customer')} c WHERE c.id = l.customer_id), ''), l.officer_id, '', {src} "
            f"FROM {qn('ledger_loan')} l "
            "WHERE l.id BETWEEN %s AND %s AND (l.status IN ('active', 'overdue') OR l.settled_on = %s)",
            [day, loans.first, loans.last, day])
        rows = cursor.rowcount
        # the fine groups (all five dimensions) once, then each dimension's sums from them
        sums = ", ".join(["SUM(n)"] + [f"SUM({qn(m)})" for m in MEASURES])
        if connection.vendor == "postgresql":  # parameters in a UNION need their types there
            head, text = "CAST(%s AS date), CAST(%s AS bigint)", "varchar"
        else:
            head, text = "%s, %s", "TEXT"
        parts = " UNION ALL ".join(f"SELECT {head}, '{name}', CAST({qn(column)} AS {text}), {sums} FROM f "
                                   f"GROUP BY {qn(column)}" for name, column in DIMENSIONS.items())
        cursor.execute(
            f"WITH f AS MATERIALIZED (SELECT {fine}, COUNT(*) AS n, "
            + ", ".join(f"SUM({qn(m)}) AS {qn(m)}" for m in MEASURES)
            + f" FROM {table} WHERE date = %s AND loan_id BETWEEN %s AND %s GROUP BY {fine}) "
            f"INSERT INTO {qn(PortfolioPart._meta.db_table)} (date, first_loan, dimension, {qn('key')}, loans, "
            + ", ".join(qn(m) for m in MEASURES) + f") {parts}",
            [day, loans.first, loans.last] + [day, loans.first] * len(DIMENSIONS))
    return rows, {"snapshots": rows}


@step("cob.aggregates", order=950, per_partition=False)
def aggregates(day: dt.date, loans=None):
    """The day's portfolio by branch, product, industry, bucket and status: the partitions' shares summed."""
    PortfolioAggregate.objects.filter(date=day).delete()
    sums = PortfolioPart.objects.filter(date=day).values("dimension", "key").annotate(
        n=Sum("loans"), **{f"sum_{m}": Sum(m) for m in MEASURES}).order_by()
    PortfolioAggregate.objects.bulk_create(
        [PortfolioAggregate(date=day, dimension=row["dimension"], key=row["key"], loans=row["n"],
                            **{m: row[f"sum_{m}"] for m in MEASURES}) for row in sums], batch_size=1000)
    PortfolioPart.objects.filter(date__lt=day).delete()  # yesterday's shares are in yesterday's aggregates
    count = PortfolioAggregate.objects.filter(date=day).count()
    return count, {"aggregate_rows": count}
