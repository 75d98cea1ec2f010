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

Cost (``docs/performance.md``): the incremental path reads loans and installments as plain rows (no model
instances, no ORM query building for the long ``IN`` lists) and computes each daily penalty rate once per
rate; only the replayed loans are loaded as models, for the engine.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from operator import attrgetter, itemgetter

from django.db import connection

from . import engine
from .accrual import accrued_to, daily_rate, per_day_amount
from .models import Installment, Loan, Product
from .state import DAY_BASIS, INSTALLMENT_FIELDS, LOAN_FIELDS, expected, inputs_bulk

ONE_DAY = dt.timedelta(days=1)
OPEN = (Loan.Status.ACTIVE, Loan.Status.OVERDUE)
UNPAID = (Installment.Status.FUTURE, Installment.Status.DUE, Installment.Status.PARTLY_PAID)
CHUNK = 2000  # loans per round of queries (bounded IN lists and memory whatever the partition size)


def close_loans(day: dt.date, loan_ids: list[int]) -> tuple[int, dict]:
    """Bring the open loans among ``loan_ids`` to their state at the end of ``day``. Returns (rows, totals)."""
    rows = 0
    totals: dict = {}
    for i in range(0, len(loan_ids), CHUNK):
        chunk_rows, chunk_totals = _close_chunk(day, loan_ids[i:i + CHUNK])
        rows += chunk_rows
        for key, value in chunk_totals.items():
            totals[key] = totals.get(key, 0) + value
    return rows, totals


def _close_chunk(day: dt.date, loan_ids: list[int]) -> tuple[int, dict]:
    if not loan_ids:
        return 0, {}
    yesterday = day - ONE_DAY
    loans = _select(f"SELECT id, state_as_of, credit_fen, days_past_due, penalty_due_fen, compound_due_fen, "
                    f"annual_rate, day_count, product_id FROM {_qn('ledger_loan')} "
                    f"WHERE id IN ({_marks(loan_ids)}) AND status IN (%s, %s)", [*loan_ids, *OPEN])
    if not loans:
        return 0, {}
    current = {row[0] for row in loans if row[1] == day}
    # An unpaid installment falling due today changes what is due; one that fell due yesterday and is still
    # unpaid becomes overdue today. Paid ones change nothing the incremental path does not cover.
    ids = [row[0] for row in loans]
    falling = {row[0] for row in _select(
        f"SELECT DISTINCT loan_id FROM {_qn('ledger_installment')} WHERE loan_id IN ({_marks(ids)}) "
        "AND due_date IN (%s, %s) AND status IN (%s, %s, %s)", [*ids, day, yesterday, *UNPAID])}
    replay_ids, advance = [], []
    for row in loans:
        loan_id, state_as_of, credit = row[0], row[1], row[2]
        if loan_id in current:
            continue
        if state_as_of != yesterday or loan_id in falling or credit > 0:
            replay_ids.append(loan_id)
        else:
            advance.append(row)
    totals = {"loans": len(loans), "replayed": len(replay_ids), "advanced": len(advance),
              "skipped": len(current), "penalty_accrued": 0, "compound_accrued": 0}
    if replay_ids:
        _replay(day, list(Loan.objects.filter(id__in=replay_ids).select_related("product").order_by("id")),
                totals)
    if advance:
        _advance(day, advance, totals)
    return len(replay_ids) + len(advance), totals


def _qn(name: str) -> str:
    return connection.ops.quote_name(name)


def _marks(values: list) -> str:
    return ", ".join(["%s"] * len(values))


def _select(sql: str, params: list) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _decimal(value) -> Decimal:
    """A DecimalField read with raw SQL: PostgreSQL gives a Decimal, SQLite a float (NUMERIC affinity) whose
    shortest repr is the stored decimal (at most 8 significant digits here)."""
    if isinstance(value, Decimal):
        return value
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


def _replay(day: dt.date, loans: list[Loan], totals: dict) -> None:
    data_by = inputs_bulk(loans)
    loan_rows, inst_rows = [], []
    loan_fields = list(LOAN_FIELDS) + ["status", "state_as_of"]
    inst_fields = list(INSTALLMENT_FIELDS)
    new_values, stored_values = itemgetter(*inst_fields), attrgetter(*inst_fields)  # tuples, in C
    for loan in loans:
        loan_values, rows, state, data = expected(loan, day, data_by[loan.pk])
        totals["penalty_accrued"] += sum(s.penalty for s in state.installments) - sum(
            r.penalty_fen for r in data.installments.values() if r.status != Installment.Status.SUPERSEDED)
        totals["compound_accrued"] += sum(s.compound for s in state.installments) - sum(
            r.compound_fen for r in data.installments.values() if r.status != Installment.Status.SUPERSEDED)
        loan_rows.append([loan_values[f] for f in loan_fields] + [loan.pk])
        for seq, values in rows.items():
            row = data.installments[seq]
            new = new_values(values)
            if stored_values(row) != new:
                inst_rows.append([*new, row.pk])
    _update("ledger_loan", loan_fields, loan_rows)
    _update("ledger_installment", inst_fields, inst_rows)


def _advance(day: dt.date, loans: list[tuple], totals: dict) -> None:
    """``loans``: (id, state_as_of, credit, days_past_due, penalty_due, compound_due, annual_rate, day_count,
    product_id) rows, each as of yesterday with nothing falling due."""
    products = {pk: (Decimal(pen), Decimal(comp), grace) for pk, pen, comp, grace in Product.objects.values_list(
        "id", "penalty_markup", "compound_markup", "grace_days")}
    daily: dict[tuple, tuple] = {}  # (annual rate, day count, product) -> (penalty rate, compound rate, grace)
    terms = {}
    for loan_id, _as_of, _credit, _dpd, _pen, _comp, rate, day_count, product_id in loans:
        key = (rate, day_count, product_id)
        if key not in daily:
            pen_markup, comp_markup, grace = products[product_id]
            annual, basis = _decimal(rate), DAY_BASIS.get(day_count, 360)
            daily[key] = (daily_rate(annual, pen_markup, basis), daily_rate(annual, comp_markup, basis), grace)
        terms[loan_id] = daily[key]
    accrued = dict.fromkeys(terms, 0)
    penalty = dict.fromkeys(terms, 0)
    compound = dict.fromkeys(terms, 0)
    inst_rows = []
    ids = list(terms)
    rows = _select(
        "SELECT id, loan_id, due_date, period_start, period_end, principal_fen, interest_fen, paid_principal_fen, "
        f"paid_interest_fen, penalty_fen, compound_fen FROM {_qn('ledger_installment')} "
        f"WHERE loan_id IN ({_marks(ids)}) AND period_start <= %s AND status NOT IN (%s, %s)",
        [*ids, day, Installment.Status.SUPERSEDED, Installment.Status.PAID])
    for (pk, loan_id, due, ps, pe, principal, interest, paid_p, paid_i, pen, comp) in rows:
        if due < day:
            pen_rate, comp_rate, grace = terms[loan_id]
            if day >= due + dt.timedelta(days=1 + grace):
                p = per_day_amount(principal - paid_p, pen_rate) if principal > paid_p else 0
                c = per_day_amount(interest - paid_i, comp_rate) if interest > paid_i else 0
                if p or c:
                    penalty[loan_id] += p
                    compound[loan_id] += c
                    inst_rows.append([pen + p, comp + c, pk])
        else:
            accrued[loan_id] += max(0, accrued_to(interest, ps, pe or due, day) - paid_i)
    loan_rows = []
    for loan_id, _as_of, _credit, days_past_due, penalty_due, compound_due, *_rest in loans:
        dpd = days_past_due + 1 if days_past_due > 0 else 0
        loan_rows.append([accrued[loan_id], penalty_due + penalty[loan_id], compound_due + compound[loan_id], dpd,
                          engine.bucket_for(dpd), day, loan_id])
        totals["penalty_accrued"] += penalty[loan_id]
        totals["compound_accrued"] += compound[loan_id]
    _update("ledger_installment", ["penalty_fen", "compound_fen"], inst_rows)
    _update("ledger_loan", ["interest_accrued_fen", "penalty_due_fen", "compound_due_fen", "days_past_due", "bucket",
                            "state_as_of"], loan_rows)


def _update(table: str, fields: list[str], rows: list[list]) -> None:
    """``UPDATE table SET fields WHERE id`` for each row (the id last). On PostgreSQL one statement per 1,000
    rows joins a ``VALUES`` list (a round trip and an executor start per row cost more than the writes); on
    SQLite, in process, ``executemany`` is as fast."""
    if not rows:
        return
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            sql = f"UPDATE {qn(table)} SET " + ", ".join(f"{qn(f)} = %s" for f in fields) + " WHERE id = %s"
            cursor.executemany(sql, rows)
            return
        model = {"ledger_loan": Loan, "ledger_installment": Installment}[table]
        names = [*fields, "id"]
        casts = [model._meta.get_field(f).db_type(connection) for f in fields] + ["bigint"]
        row_sql = "(" + ", ".join(f"CAST(%s AS {t})" for t in casts) + ")"
        head = (f"UPDATE {qn(table)} AS t SET " + ", ".join(f"{qn(f)} = v.{qn(f)}" for f in fields)
                + " FROM (VALUES ")
        tail = f") AS v ({', '.join(qn(n) for n in names)}) WHERE t.id = v.id"
        for i in range(0, len(rows), 1000):
            batch = rows[i:i + 1000]
            cursor.execute(head + ", ".join([row_sql] * len(batch)) + tail, [v for row in batch for v in row])
