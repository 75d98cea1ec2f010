"""Closing a business date for a range of loans: the ledger's hot step of the close of business.

For an open loan whose stored state is as of the day before, the state as of
``day`` follows from yesterday's by time alone, unless a posting dated ``day``
was made (then the service already brought the loan to ``day``, and it is
skipped). So loans are split:

* **replayed** through the reference engine (``ledger.state``), in bulk: the
  stored state is older than yesterday (a missed day, a new loan), credit is
  held and an installment falls due today (the credit is applied on due dates
  and may settle the loan), or a posting is valued today (the services bring
  a loan up to date when they post, so this only guards against a posting
  written without that);
* **advanced set-based**, for everyone else, by a few SQL statements over the
  whole range — the same rules as the engine's docstring, in integer fen:

  1. installments due yesterday and still unpaid become ``overdue``; those due
     today and unpaid become ``due`` (or stay ``partly_paid``);
  2. loans with a new overdue installment add its unpaid principal and interest
     to the overdue amounts, and their next due date moves to the next unpaid
     installment; loans with an installment falling due today add its unpaid
     principal and interest to what is due;
  3. one day of penalty interest on each overdue installment's unpaid principal
     and of compound interest on its unpaid interest, from the due date + 1 +
     grace days (``accrual.per_day_amount``; computed here in Python, on the
     overdue installments only, once per rate);
  4. every loan: contractual interest accrued through the end of ``day``
     (``accrual.accrued_to`` of each installment whose period has started and
     that is not yet due or paid, less its interest paid ahead, written as SQL
     integer arithmetic — no drift), days past due (one more, or 1 for a loan
     whose first installment fell overdue), bucket, status, ``state_as_of``.

A test closes a varied portfolio day by day and checks every loan against a
full replay (``postloan ledger check``) to the fen, on SQLite and PostgreSQL.
Two partial indexes on ``ledger_installment`` keep the per-loan lookups to a
seek: open future installments by (loan, period start) for the accrual, and
overdue installments by loan for the penalty.

Costs and figures: ``docs/performance.md``.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from operator import attrgetter, itemgetter

from django.db import connection

from . import engine
from .accrual import daily_rate, per_day_amount
from .models import Installment, Loan, Posting, Product
from .state import DAY_BASIS, INSTALLMENT_FIELDS, LOAN_FIELDS, expected, inputs_bulk

ONE_DAY = dt.timedelta(days=1)
OPEN = (Loan.Status.ACTIVE, Loan.Status.OVERDUE)
REPLAY_CHUNK = 500  # loans replayed per round (bounded memory)


def close_loans(day: dt.date, first: int, last: int) -> tuple[int, dict]:
    """Bring the open loans with ids in ``first``…``last`` to their state at the end of ``day``.

    Returns (loans closed, totals for the batch's audit record)."""
    yesterday = day - ONE_DAY
    with connection.cursor() as cursor:
        return _Close(cursor, day, yesterday, first, last).run()


class _Close:
    def __init__(self, cursor, day: dt.date, yesterday: dt.date, first: int, last: int) -> None:
        self.cursor, self.day, self.yesterday, self.first, self.last = cursor, day, yesterday, first, last
        self.pg = connection.vendor == "postgresql"
        qn = connection.ops.quote_name
        self.loan, self.inst = qn(Loan._meta.db_table), qn(Installment._meta.db_table)
        self.post = qn(Posting._meta.db_table)
        # the loans this range advances by time: open, stored as of yesterday
        self.mine = "id BETWEEN %s AND %s AND status IN (%s, %s) AND state_as_of = %s"
        self.mine_params = [first, last, *OPEN, yesterday]

    def sql(self, sql: str, params: list) -> int:
        self.cursor.execute(sql, params)
        return self.cursor.rowcount

    def rows(self, sql: str, params: list) -> list[tuple]:
        self.cursor.execute(sql, params)
        return self.cursor.fetchall()

    def run(self) -> tuple[int, dict]:
        day, yesterday = self.day, self.yesterday
        totals = {"loans": 0, "replayed": 0, "advanced": 0, "skipped": 0, "fell_due": 0, "became_overdue": 0,
                  "penalty_accrued": 0, "compound_accrued": 0}
        (loans, skipped), = self.rows(
            f"SELECT COUNT(*), COALESCE(SUM(CASE WHEN state_as_of = %s THEN 1 ELSE 0 END), 0) FROM {self.loan} "
            "WHERE id BETWEEN %s AND %s AND status IN (%s, %s)", [day, self.first, self.last, *OPEN])
        totals["loans"], totals["skipped"] = loans, skipped
        if loans == skipped:
            return 0, totals
        replay_ids = [row[0] for row in self.rows(
            f"SELECT id FROM {self.loan} l WHERE l.id BETWEEN %s AND %s AND l.status IN (%s, %s) "
            "AND (l.state_as_of IS NULL OR l.state_as_of < %s) AND (l.state_as_of IS NULL OR l.state_as_of < %s "
            "OR (l.credit_fen > 0 AND EXISTS (SELECT 1 FROM "
            f"{self.inst} i WHERE i.loan_id = l.id AND i.due_date = %s AND i.status <> %s)) "
            f"OR l.id IN (SELECT loan_id FROM {self.post} WHERE value_date = %s AND loan_id BETWEEN %s AND %s)) "
            "ORDER BY l.id",
            [self.first, self.last, *OPEN, day, yesterday, day, Installment.Status.SUPERSEDED, day, self.first,
             self.last])]
        for i in range(0, len(replay_ids), REPLAY_CHUNK):
            loans = list(Loan.objects.filter(id__in=replay_ids[i:i + REPLAY_CHUNK]).select_related("product")
                         .order_by("id"))
            _replay(day, loans, totals)
        totals["replayed"] = len(replay_ids)
        self.fall_due(totals)
        self.penalty(totals)
        totals["advanced"] = self.advance()
        return totals["replayed"] + totals["advanced"], totals

    def in_mine(self) -> str:
        """Condition on an installment row: its loan is one this range advances (a primary-key lookup per
        candidate row, cheaper than building the set of the range's loans)."""
        return (f"loan_id BETWEEN %s AND %s AND EXISTS (SELECT 1 FROM {self.loan} l WHERE l.id = loan_id "
                "AND l.status IN (%s, %s) AND l.state_as_of = %s)")

    def fall_due(self, totals: dict) -> None:
        """Installments due yesterday and unpaid are overdue; those due today are due (steps 1–2)."""
        S = Installment.Status
        day, yesterday = self.day, self.yesterday
        totals["became_overdue"] = self.sql(
            f"UPDATE {self.inst} SET status = %s WHERE due_date = %s AND status IN (%s, %s) AND {self.in_mine()}",
            [S.OVERDUE, yesterday, S.DUE, S.PARTLY_PAID, *self.mine_params])
        self.sql(f"UPDATE {self.inst} SET status = %s WHERE due_date = %s AND status = %s AND {self.in_mine()}",
                 [S.DUE, day, S.FUTURE, *self.mine_params])
        if totals["became_overdue"]:
            # days past due: −1 marks "first overdue installment today" for advance() (same transaction)
            self.sql(
                f"UPDATE {self.loan} SET "
                f"overdue_principal_fen = overdue_principal_fen + (SELECT SUM(principal_fen - paid_principal_fen) "
                f"FROM {self.inst} i WHERE i.loan_id = {self.loan}.id AND i.due_date = %s AND i.status = %s), "
                f"overdue_interest_fen = overdue_interest_fen + (SELECT SUM(interest_fen - paid_interest_fen) "
                f"FROM {self.inst} i WHERE i.loan_id = {self.loan}.id AND i.due_date = %s AND i.status = %s), "
                f"next_due_date = (SELECT i.due_date FROM {self.inst} i WHERE i.loan_id = {self.loan}.id "
                "AND i.due_date >= %s AND i.status IN (%s, %s, %s) ORDER BY i.due_date LIMIT 1), "
                "days_past_due = CASE WHEN days_past_due = 0 THEN -1 ELSE days_past_due END "
                f"WHERE {self.mine} AND id IN (SELECT loan_id FROM {self.inst} WHERE due_date = %s AND status = %s "
                "AND loan_id BETWEEN %s AND %s)",
                [yesterday, S.OVERDUE, yesterday, S.OVERDUE, day, S.DUE, S.FUTURE, S.PARTLY_PAID, *self.mine_params,
                 yesterday, S.OVERDUE, self.first, self.last])
        falling = [S.DUE, S.PARTLY_PAID]
        totals["fell_due"] = self.sql(
            f"UPDATE {self.loan} SET "
            f"principal_due_fen = principal_due_fen + (SELECT SUM(principal_fen - paid_principal_fen) "
            f"FROM {self.inst} i WHERE i.loan_id = {self.loan}.id AND i.due_date = %s AND i.status IN (%s, %s)), "
            f"interest_due_fen = interest_due_fen + (SELECT SUM(interest_fen - paid_interest_fen) "
            f"FROM {self.inst} i WHERE i.loan_id = {self.loan}.id AND i.due_date = %s AND i.status IN (%s, %s)) "
            f"WHERE {self.mine} AND id IN (SELECT loan_id FROM {self.inst} WHERE due_date = %s AND status IN (%s, %s) "
            "AND loan_id BETWEEN %s AND %s)",
            [day, *falling, day, *falling, *self.mine_params, day, *falling, self.first, self.last])

    def penalty(self, totals: dict) -> None:
        """One day of penalty and compound interest on each overdue installment past its grace days (step 3)."""
        rows = self.rows(
            "SELECT i.id, i.loan_id, i.due_date, i.principal_fen - i.paid_principal_fen, "
            "i.interest_fen - i.paid_interest_fen, l.annual_rate, l.day_count, l.product_id "
            f"FROM {self.inst} i JOIN {self.loan} l ON l.id = i.loan_id "
            f"WHERE i.status = '{Installment.Status.OVERDUE}' AND i.loan_id BETWEEN %s AND %s "
            "AND l.status IN (%s, %s) AND l.state_as_of = %s",
            [self.first, self.last, *OPEN, self.yesterday])
        if not rows:
            return
        products = {pk: (Decimal(pen), Decimal(comp), grace) for pk, pen, comp, grace in Product.objects.values_list(
            "id", "penalty_markup", "compound_markup", "grace_days")}
        daily: dict[tuple, tuple] = {}  # (annual rate, day count, product) -> (penalty rate, compound rate, grace)
        per_loan: dict[int, list[int]] = {}
        inst_rows = []
        day = self.day
        for pk, loan_id, due, principal, interest, rate, day_count, product_id in rows:
            key = (rate, day_count, product_id)
            terms = daily.get(key)
            if terms is None:
                pen_markup, comp_markup, grace = products[product_id]
                annual, basis = _decimal(rate), DAY_BASIS.get(day_count, 360)
                terms = daily[key] = (daily_rate(annual, pen_markup, basis), daily_rate(annual, comp_markup, basis),
                                      dt.timedelta(days=1 + grace))
            if day < due + terms[2]:
                continue
            p = per_day_amount(principal, terms[0]) if principal > 0 else 0
            c = per_day_amount(interest, terms[1]) if interest > 0 else 0
            if p or c:
                inst_rows.append([p, c, pk])
                sums = per_loan.setdefault(loan_id, [0, 0])
                sums[0] += p
                sums[1] += c
        _update("ledger_installment", ["penalty_fen", "compound_fen"], inst_rows, add=True)
        _update("ledger_loan", ["penalty_due_fen", "compound_due_fen"],
                [[p, c, loan_id] for loan_id, (p, c) in per_loan.items()], add=True)
        totals["penalty_accrued"] += sum(p for p, _c in per_loan.values())
        totals["compound_accrued"] += sum(c for _p, c in per_loan.values())

    def advance(self) -> int:
        """Accrued interest, days past due, bucket, status, as-of date of every loan still as of yesterday (4)."""
        S = Installment.Status
        tomorrow = self.day + ONE_DAY
        # literals, not parameters: SQLite uses a partial index only when the query repeats its condition
        # verbatim, and the date arithmetic differs between the databases (the values come from date objects)
        if self.pg:
            days = f"(DATE '{tomorrow.isoformat()}' - i.period_start)"
            span = "(i.period_end - i.period_start)"
            least, greatest = "LEAST", "GREATEST"
        else:
            days = f"CAST({_julianday(tomorrow)!r} - julianday(i.period_start) AS INTEGER)"
            span = "CAST(julianday(i.period_end) - julianday(i.period_start) AS INTEGER)"
            least, greatest = "MIN", "MAX"
        # accrual.accrued_to(I, period_start, period_end, day): with N = end − start > 0 days and
        # elapsed = min(day + 1 − start, N) ≥ 1 here, round_half_up(I × elapsed / N) = (2·I·elapsed + N) div 2N,
        # which is I when elapsed = N; a period of no days (N ≤ 0) has accrued all of I
        accrued = (f"CASE WHEN {span} <= 0 THEN i.interest_fen "
                   f"ELSE (2 * i.interest_fen * {least}({days}, {span}) + {span}) / (2 * {span}) END")
        dpd = "days_past_due"
        # loans in arrears (and those whose first installment fell overdue today, marked −1): age them. Only
        # these rows write the indexed columns (status, days past due).
        self.sql(
            f"UPDATE {self.loan} SET {dpd} = CASE WHEN {dpd} > 0 THEN {dpd} + 1 ELSE 1 END, "
            f"bucket = CASE WHEN {dpd} > 0 THEN {_bucket_sql(dpd + ' + 1')} ELSE %s END, status = %s "
            f"WHERE {self.mine} AND {dpd} <> 0",
            [engine.bucket_for(1), Loan.Status.OVERDUE, *self.mine_params])
        return self.sql(
            f"UPDATE {self.loan} SET interest_accrued_fen = COALESCE((SELECT SUM({greatest}(0, {accrued} "
            f"- i.paid_interest_fen)) FROM {self.inst} i WHERE i.loan_id = {self.loan}.id "
            f"AND i.status IN ('{S.FUTURE}', '{S.PARTLY_PAID}') AND i.period_start <= %s AND i.due_date > %s), 0), "
            f"state_as_of = %s WHERE {self.mine}",
            [self.day, self.day, self.day, *self.mine_params])


def _bucket_sql(days: str) -> str:
    """``engine.bucket_for`` as a SQL CASE over an integer expression (a positive number of days)."""
    parts = [f"WHEN {days} <= {limit} THEN '{name}'" for limit, name in engine.BUCKETS if limit > 0]
    return "CASE " + " ".join(parts) + " ELSE 'M7+' END"


def _julianday(day: dt.date) -> float:
    """SQLite's julianday() of a date (noon-based Julian day number, as a float)."""
    return day.toordinal() + 1721424.5


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


def _update(table: str, fields: list[str], rows: list[list], add: bool = False) -> None:
    """``UPDATE table SET fields WHERE id`` for each row (the id last); ``add`` adds the values to the
    columns instead. On PostgreSQL one statement per 1,000 rows joins a ``VALUES`` list (a round trip and
    an executor start per row cost more than the writes); on SQLite, in process, ``executemany`` is as fast."""
    if not rows:
        return
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            sets = ", ".join(f"{qn(f)} = {qn(f)} + %s" if add else f"{qn(f)} = %s" for f in fields)
            cursor.executemany(f"UPDATE {qn(table)} SET {sets} WHERE id = %s", rows)
            return
        model = {"ledger_loan": Loan, "ledger_installment": Installment}[table]
        names = [*fields, "id"]
        casts = [model._meta.get_field(f).db_type(connection) for f in fields] + ["bigint"]
        row_sql = "(" + ", ".join(f"CAST(%s AS {t})" for t in casts) + ")"
        sets = ", ".join(f"{qn(f)} = t.{qn(f)} + v.{qn(f)}" if add else f"{qn(f)} = v.{qn(f)}" for f in fields)
        head = f"UPDATE {qn(table)} AS t SET {sets} FROM (VALUES "
        tail = f") AS v ({', '.join(qn(n) for n in names)}) WHERE t.id = v.id"
        for i in range(0, len(rows), 1000):
            batch = rows[i:i + 1000]
            cursor.execute(head + ", ".join([row_sql] * len(batch)) + tail, [v for row in batch for v in row])
