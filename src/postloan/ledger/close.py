"""Closing a business date for a set of loans: the ledger's hot step of the close of business.

For each open loan whose stored state is as of the day before, the state as of
``day`` follows from yesterday's by time alone — unless something happens that
day. So loans are split:

* **replayed** through the reference engine (``ledger.state``), in bulk: an
  installment falls due today or fell due yesterday (status changes), credit
  is held (it is applied on due dates and may settle the loan), or the stored
  state is older than yesterday (a missed day, a new loan);
* **advanced** incrementally, for everyone else (the great majority): contractual
  interest accrued to the end of ``day`` (``accrual.accrued_to``, so no drift),
  one more day of penalty interest on each overdue installment's unpaid principal
  and of compound interest on its unpaid interest (``accrual.penalty_per_day``,
  from the due date + 1 + grace days), one more day past due;
* skipped when already as of ``day`` (a posting today refreshed it).

Both paths apply the same rules (the engine's docstring), and a test runs the
close of business over a varied portfolio and checks every loan against a full
replay (``postloan ledger check``) to the fen. Work is done on chunks of loans
with a few queries and ``executemany`` updates, never one ORM save per loan.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import connection

from . import engine
from .accrual import accrued_to, penalty_per_day
from .models import Installment, Loan
from .state import DAY_BASIS, INSTALLMENT_FIELDS, LOAN_FIELDS, expected, inputs_bulk

ONE_DAY = dt.timedelta(days=1)
OPEN = (Loan.Status.ACTIVE, Loan.Status.OVERDUE)


def close_loans(day: dt.date, loan_ids: list[int]) -> tuple[int, dict]:
    """Bring the open loans among ``loan_ids`` to their state at the end of ``day``. Returns (rows, totals)."""
    loans = list(Loan.objects.filter(id__in=loan_ids, status__in=OPEN).select_related("product"))
    if not loans:
        return 0, {}
    yesterday = day - ONE_DAY
    stale = {loan.pk for loan in loans if loan.state_as_of != yesterday and loan.state_as_of != day}
    current = {loan.pk for loan in loans if loan.state_as_of == day}
    # An unpaid installment falling due today changes what is due; one that fell due yesterday and is still
    # unpaid becomes overdue today. Paid ones change nothing the incremental path does not cover.
    ids = [loan.pk for loan in loans]
    unpaid = (Installment.Status.FUTURE, Installment.Status.DUE, Installment.Status.PARTLY_PAID)
    falling = set(Installment.objects.filter(loan_id__in=ids, due_date=day, status__in=unpaid)
                  .values_list("loan_id", flat=True))
    falling |= set(Installment.objects.filter(loan_id__in=ids, due_date=yesterday, status__in=unpaid)
                   .values_list("loan_id", flat=True))
    replay_set = [loan for loan in loans if loan.pk not in current
                  and (loan.pk in stale or loan.pk in falling or loan.credit_fen > 0)]
    replay_ids = {loan.pk for loan in replay_set}
    advance_set = [loan for loan in loans if loan.pk not in current and loan.pk not in replay_ids]
    totals = {"loans": len(loans), "replayed": len(replay_set), "advanced": len(advance_set),
              "skipped": len(current), "penalty_accrued": 0, "compound_accrued": 0}
    if replay_set:
        _replay(day, replay_set, totals)
    if advance_set:
        _advance(day, advance_set, totals)
    return len(replay_set) + len(advance_set), totals


def _replay(day: dt.date, loans: list[Loan], totals: dict) -> None:
    data_by = inputs_bulk(loans)
    loan_rows, inst_rows = [], []
    loan_fields = list(LOAN_FIELDS) + ["status", "state_as_of"]
    inst_fields = list(INSTALLMENT_FIELDS)
    for loan in loans:
        loan_values, rows, state, data = expected(loan, day, data_by[loan.pk])
        totals["penalty_accrued"] += sum(s.penalty for s in state.installments) - sum(
            r.penalty_fen for r in data.installments.values() if r.status != Installment.Status.SUPERSEDED)
        totals["compound_accrued"] += sum(s.compound for s in state.installments) - sum(
            r.compound_fen for r in data.installments.values() if r.status != Installment.Status.SUPERSEDED)
        loan_rows.append([loan_values[f] for f in loan_fields] + [loan.pk])
        for seq, values in rows.items():
            row = data.installments[seq]
            if any(getattr(row, f) != v for f, v in values.items()):
                inst_rows.append([values[f] for f in inst_fields] + [row.pk])
    _update("ledger_loan", loan_fields, loan_rows)
    _update("ledger_installment", inst_fields, inst_rows)


def _advance(day: dt.date, loans: list[Loan], totals: dict) -> None:
    by_id = {loan.pk: loan for loan in loans}
    accrued = dict.fromkeys(by_id, 0)
    penalty = dict.fromkeys(by_id, 0)
    compound = dict.fromkeys(by_id, 0)
    inst_rows = []
    rates = {}
    for loan in loans:
        rates[loan.pk] = (Decimal(loan.annual_rate), Decimal(loan.product.penalty_markup),
                          Decimal(loan.product.compound_markup), DAY_BASIS.get(loan.day_count, 360),
                          loan.product.grace_days)
    rows = Installment.objects.filter(loan_id__in=list(by_id), period_start__lte=day).exclude(
        status__in=(Installment.Status.SUPERSEDED, Installment.Status.PAID)).values_list(
        "id", "loan_id", "due_date", "period_start", "period_end", "principal_fen", "interest_fen",
        "paid_principal_fen", "paid_interest_fen", "penalty_fen", "compound_fen")
    for (pk, loan_id, due, ps, pe, principal, interest, paid_p, paid_i, pen, comp) in rows:
        rate, pen_markup, comp_markup, basis, grace = rates[loan_id]
        if due < day:
            if day >= due + dt.timedelta(days=1 + grace):
                p = penalty_per_day(principal - paid_p, rate, pen_markup, basis) if principal > paid_p else 0
                c = penalty_per_day(interest - paid_i, rate, comp_markup, basis) if interest > paid_i else 0
                if p or c:
                    penalty[loan_id] += p
                    compound[loan_id] += c
                    inst_rows.append([pen + p, comp + c, pk])
        elif ps <= day:
            accrued[loan_id] += max(0, accrued_to(interest, ps, pe or due, day) - paid_i)
    loan_rows = []
    for loan_id, loan in by_id.items():
        dpd = loan.days_past_due + 1 if loan.days_past_due > 0 else 0
        loan_rows.append([accrued[loan_id], loan.penalty_due_fen + penalty[loan_id],
                          loan.compound_due_fen + compound[loan_id], dpd, engine.bucket_for(dpd), day, loan_id])
        totals["penalty_accrued"] += penalty[loan_id]
        totals["compound_accrued"] += compound[loan_id]
    _update("ledger_installment", ["penalty_fen", "compound_fen"], inst_rows)
    _update("ledger_loan", ["interest_accrued_fen", "penalty_due_fen", "compound_due_fen", "days_past_due", "bucket",
                            "state_as_of"], loan_rows)


def _update(table: str, fields: list[str], rows: list[list]) -> None:
    if not rows:
        return
    qn = connection.ops.quote_name
    sql = f"UPDATE {qn(table)} SET " + ", ".join(f"{qn(f)} = %s" for f in fields) + " WHERE id = %s"
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)
