"""The steps this issue's close of business runs. Later apps register theirs the same way."""

from __future__ import annotations

import datetime as dt

from django.db import connection
from django.db.models import Sum

from postloan.ledger.close import attention, close_loans

from .models import CobPartition, LoanSnapshot, PortfolioAggregate, PortfolioPart, Status
from .registry import LoanRange, step


def _attention(day: dt.date, loans: LoanRange):
    return attention(day, loans.first, loans.last)


@step("ledger.close_day", order=100, prepare=_attention)
def ledger_close_day(day: dt.date, loans: LoanRange, prepared=None):
    """Accrue interest, fall due installments, age overdue amounts, accrue penalty and compound interest.
    ``prepared``: the range's loans needing attention, read ahead (on SQLite, on a second connection while the
    partition before is written)."""
    return close_loans(day, loans.first, loans.last, found=prepared)


SNAPSHOT_COLUMNS = ["principal_outstanding_fen", "principal_due_fen", "interest_due_fen", "penalty_due_fen",
                    "compound_due_fen", "fee_due_fen", "overdue_principal_fen", "overdue_interest_fen",
                    "interest_accrued_fen", "credit_fen", "days_past_due", "bucket", "status"]


DIMENSIONS = {"branch": "branch_id", "product": "product_id", "industry": "industry", "bucket": "bucket",
              "status": "status"}
MEASURES = ["principal_outstanding_fen", "overdue_principal_fen", "overdue_interest_fen", "penalty_due_fen",
            "interest_accrued_fen"]


def shares(day: dt.date, loans: LoanRange) -> list[tuple]:
    """The partition's share of the day's portfolio: (dimension, key, loans, *MEASURES) for each branch, product,
    industry, bucket and status among its snapshot rows — one GROUP BY of the rows by all five dimensions (the
    fine groups are a few hundred), then each dimension's sums from those. Only reads."""
    qn = connection.ops.quote_name
    fine = ", ".join(qn(c) for c in DIMENSIONS.values())
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {fine}, COUNT(*), " + ", ".join(f"SUM({qn(m)})" for m in MEASURES)
                       + f" FROM {qn(LoanSnapshot._meta.db_table)} WHERE date = %s AND loan_id BETWEEN %s AND %s "
                       f"GROUP BY {fine}", [day, loans.first, loans.last])
        groups = cursor.fetchall()
    width = len(DIMENSIONS)
    out = []
    for d, name in enumerate(DIMENSIONS):
        sums: dict[str, list[int]] = {}
        for row in groups:
            acc = sums.setdefault(str(row[d]), [0] * (len(MEASURES) + 1))
            for i, value in enumerate(row[width:]):
                acc[i] += value
        out += [(name, key, *acc) for key, acc in sums.items()]
    return out


def keep_shares(day: dt.date, found: list[tuple[LoanRange, list[tuple]]]) -> None:
    """Write partitions' shares (replacing any kept before)."""
    PortfolioPart.objects.filter(date=day, first_loan__in=[loans.first for loans, _rows in found]).delete()
    PortfolioPart.objects.bulk_create(
        [PortfolioPart(date=day, first_loan=loans.first, dimension=dimension, key=key, loans=n,
                       **dict(zip(MEASURES, measures, strict=True)))
         for loans, rows in found for dimension, key, n, *measures in rows], batch_size=1000)


@step("cob.snapshot", order=900, follow=shares, collect=keep_shares)
def snapshot(day: dt.date, loans: LoanRange):
    """One row per loan for the day (open loans, and loans settled that day), written set-based. The
    partition's share of the day's portfolio (``shares``) follows from the rows written: on SQLite on a
    second connection while the next partition is written."""
    qn = connection.ops.quote_name
    table = qn(LoanSnapshot._meta.db_table)
    cols = ", ".join(qn(c) for c in SNAPSHOT_COLUMNS)
    src = ", ".join(f"l.{qn(c)}" for c in SNAPSHOT_COLUMNS)
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE date = %s AND loan_id BETWEEN %s AND %s",
                       [day, loans.first, loans.last])
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
    return rows, {"snapshots": rows}


@step("cob.aggregates", order=950, per_partition=False)
def aggregates(day: dt.date, loans=None):
    """The day's portfolio by branch, product, industry, bucket and status: the partitions' shares summed
    (first the shares of snapshot partitions whose share was not kept: the process stopped in between)."""
    kept = set(PortfolioPart.objects.filter(date=day).values_list("first_loan", flat=True).distinct())
    missing = [LoanRange(day, first, last) for first, last in CobPartition.objects.filter(
        step__day__date=day, step__name="cob.snapshot", status=Status.DONE).values_list("first_loan", "last_loan")
        if first not in kept]
    keep_shares(day, [(loans, shares(day, loans)) for loans in missing])
    PortfolioAggregate.objects.filter(date=day).delete()
    sums = PortfolioPart.objects.filter(date=day).values("dimension", "key").annotate(
        n=Sum("loans"), **{f"sum_{m}": Sum(m) for m in MEASURES}).order_by()
    PortfolioAggregate.objects.bulk_create(
        [PortfolioAggregate(date=day, dimension=row["dimension"], key=row["key"], loans=row["n"],
                            **{m: row[f"sum_{m}"] for m in MEASURES}) for row in sums], batch_size=1000)
    PortfolioPart.objects.filter(date__lt=day).delete()  # yesterday's shares are in yesterday's aggregates
    count = PortfolioAggregate.objects.filter(date=day).count()
    return count, {"aggregate_rows": count}
