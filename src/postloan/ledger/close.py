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
  3. penalty interest on each overdue installment's unpaid principal and compound
     interest on its unpaid interest, from the due date + 1 + grace days: each
     loan stores what it bears a day (``penalty_daily_fen``, ``compound_daily_fen``,
     stated by the engine, the installments' own amounts kept as of
     ``penalty_as_of``); the installments whose penalty starts today add their
     ``accrual.per_day_amount`` = round_half_up(base × n / d), with the exact
     daily rate n / d of each (annual rate, day count, product) given as a
     ``VALUES`` list, in SQL (PostgreSQL numerics; SQLite integers while exact,
     else Python); step 4 adds each loan's daily amounts to what it owes. So the
     overdue installments (≈450,000 in the benchmark's million loans) are not
     rewritten every day; readers bring them to date (``state.penalty_to_date``);
  4. every loan: contractual interest accrued through the end of ``day`` from
     the loan's own accrual window (``accrual.window``: the installment still
     accruing, what other accruing installments earned in full, and the last day
     that holds — stored on the loan, stated by the engine, recomputed here only
     for the loans whose window ends today), days past due (one more for loans
     in arrears), bucket, status, ``state_as_of``.

A test closes a varied portfolio day by day and checks every loan against a
full replay (``postloan ledger check``) to the fen, on SQLite and PostgreSQL.
Partial indexes on ``ledger_installment`` keep the per-loan lookups to a seek
(open installments by loan and period start, for the windows), and (due date,
status, loan) finds a day's dues, and the installments whose penalty starts,
in a range of loans.

Costs and figures: ``docs/performance.md``.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction
from operator import attrgetter, itemgetter

from django.db import connection

from . import engine
from .accrual import daily_rate, per_day_amount, window
from .models import Installment, Loan, Posting, Product
from .state import (
    DAY_BASIS,
    INSTALLMENT_FIELDS,
    LOAN_FIELDS,
    WINDOW_FIELDS,
    expected,
    inputs_bulk,
    penalty_to_date,
)

ONE_DAY = dt.timedelta(days=1)
OVERDUE = Installment.Status.OVERDUE
# the largest numerator of a daily rate SQLite computes with (2 × 10¹³ fen × n < 2⁶³)
SQLITE_NUMERATOR_MAX = 400_000
OPEN = (Loan.Status.ACTIVE, Loan.Status.OVERDUE)
REPLAY_CHUNK = 500  # loans replayed per round (bounded memory)


def close_loans(day: dt.date, first: int, last: int, found: list[tuple[int, int]] | None = None
                ) -> tuple[int, dict]:
    """Bring the open loans with ids in ``first``…``last`` to their state at the end of ``day``. ``found``:
    what ``attention`` returns for the range, if the caller read it already (and nothing changed since).

    Returns (loans closed, totals for the batch's audit record)."""
    yesterday = day - ONE_DAY
    with connection.cursor() as cursor:
        return _Close(cursor, day, yesterday, first, last).run(found)


def attention(day: dt.date, first: int, last: int) -> list[tuple[int, int]]:
    """The loans of the range the close of ``day`` does not simply advance, as (id, kind): 1 closed today
    already (skipped), 2 to replay through the engine, 3 accrual window missing or stale, 4 window ending
    today. One pass over the range; it only reads, so it can be read ahead of the close (``close_loans``)."""
    with connection.cursor() as cursor:
        return _Close(cursor, day, day - ONE_DAY, first, last).attention()


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
        self.mine_l = "l.id BETWEEN %s AND %s AND l.status IN (%s, %s) AND l.state_as_of = %s"

    def sql(self, sql: str, params: list) -> int:
        self.cursor.execute(sql, params)
        return self.cursor.rowcount

    def rows(self, sql: str, params: list) -> list[tuple]:
        self.cursor.execute(sql, params)
        return self.cursor.fetchall()

    def attention(self) -> list[tuple[int, int]]:
        """One pass over the range finds the loans already closed today (skipped), those the engine replays,
        and those whose accrual window is missing or stale (to compute now) or ends today (the next one)."""
        day, yesterday = self.day, self.yesterday
        replay = ("l.state_as_of IS NULL OR (l.state_as_of < %s AND (l.state_as_of < %s OR (l.credit_fen > 0 AND "
                  f"EXISTS (SELECT 1 FROM {self.inst} i WHERE i.loan_id = l.id AND i.due_date = %s "
                  f"AND i.status <> %s)) OR l.id IN (SELECT loan_id FROM {self.post} WHERE value_date = %s "
                  "AND loan_id BETWEEN %s AND %s)))")
        replay_params = [day, yesterday, day, Installment.Status.SUPERSEDED, day, self.first, self.last]
        return self.rows(
            f"SELECT id, CASE WHEN state_as_of = %s THEN 1 WHEN {replay} THEN 2 "
            "WHEN accrual_until IS NULL OR accrual_until < %s THEN 3 ELSE 4 END "
            f"FROM {self.loan} l WHERE l.id BETWEEN %s AND %s AND l.status IN (%s, %s) AND (l.state_as_of = %s "
            f"OR {replay} OR l.accrual_until IS NULL OR l.accrual_until <= %s) ORDER BY l.id",
            [day, *replay_params, day, self.first, self.last, *OPEN, day, *replay_params, day])

    def run(self, found: list[tuple[int, int]] | None = None) -> tuple[int, dict]:
        day, yesterday = self.day, self.yesterday
        totals = {"loans": 0, "replayed": 0, "advanced": 0, "skipped": 0, "fell_due": 0, "became_overdue": 0,
                  "penalty_accrued": 0, "compound_accrued": 0}
        if found is None:
            found = self.attention()
        kinds: dict[int, list[int]] = {1: [], 2: [], 3: [], 4: []}
        for loan_id, kind in found:
            kinds[kind].append(loan_id)
        totals["skipped"] = len(kinds[1])
        replay_ids = kinds[2]
        for i in range(0, len(replay_ids), REPLAY_CHUNK):
            loans = list(Loan.objects.filter(id__in=replay_ids[i:i + REPLAY_CHUNK]).select_related("product")
                         .order_by("id"))
            _replay(day, loans, totals)
        totals["replayed"] = len(replay_ids)
        # windows not computed yet (data from before they existed) or stale (a guard: writers keep them)
        totals["windows"] = len(self.windows(kinds[3], f"{self.mine_l} AND (l.accrual_until IS NULL "
                                             "OR l.accrual_until < %s)", [*self.mine_params, day], yesterday))
        self.fall_due(totals)
        self.penalty(totals)
        totals["advanced"] = self.advance()
        # the windows that end today: the next ones, from tomorrow
        totals["windows"] += len(self.windows(
            kinds[3] + kinds[4], "l.status IN (%s, %s) AND l.state_as_of = %s AND l.accrual_until <= %s",
            [*OPEN, day, day], day))
        totals["loans"] = totals["replayed"] + totals["advanced"] + totals["skipped"]
        return totals["replayed"] + totals["advanced"], totals

    def windows(self, ids: list[int], where: str, params: list, as_of: dt.date) -> dict:
        """``store_windows`` for those of ``ids`` that ``where`` (on ``l``) still selects, in chunks."""
        stored = {}
        for i in range(0, len(ids), 1000):
            chunk = ids[i:i + 1000]
            stored |= store_windows(self.cursor, f"l.id IN ({', '.join(['%s'] * len(chunk))}) AND {where}",
                                    [*chunk, *params], as_of)
        return stored

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
            # in arrears from today: advance() ages the loans with status overdue (days past due 0 → 1)
            self.sql(
                f"UPDATE {self.loan} SET "
                f"overdue_principal_fen = overdue_principal_fen + (SELECT SUM(principal_fen - paid_principal_fen) "
                f"FROM {self.inst} i WHERE i.loan_id = {self.loan}.id AND i.due_date = %s AND i.status = %s), "
                f"overdue_interest_fen = overdue_interest_fen + (SELECT SUM(interest_fen - paid_interest_fen) "
                f"FROM {self.inst} i WHERE i.loan_id = {self.loan}.id AND i.due_date = %s AND i.status = %s), "
                f"next_due_date = (SELECT i.due_date FROM {self.inst} i WHERE i.loan_id = {self.loan}.id "
                "AND i.due_date >= %s AND i.status IN (%s, %s, %s) ORDER BY i.due_date LIMIT 1), "
                f"status = '{Loan.Status.OVERDUE}' "
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
        """Penalty and compound interest (step 3). Each loan stores what it bears a day (``penalty_daily_fen``,
        ``compound_daily_fen``: its overdue installments whose penalty has started, stated by the engine), and
        ``advance`` adds those to its dues; the installments keep theirs as of ``penalty_as_of`` (readers
        bring them to date: ``state.penalty_to_date``). Here the installments whose penalty starts today (due
        date + 1 + grace days = today) add theirs to their loans' daily amounts: ``accrual.per_day_amount`` =
        round_half_up(base × n / d) for the exact daily rate n / d of each (annual rate, day count, product),
        given to the database as a ``VALUES`` list. PostgreSQL divides numerics; SQLite's 64-bit integers are
        exact while 2 × base × n stays below 2⁶³, which holds for bases up to 10¹³ fen when n ≤
        SQLITE_NUMERATOR_MAX (rates with more digits take the same rule in Python)."""
        products = {pk: (Decimal(pen), Decimal(comp), grace) for pk, pen, comp, grace in Product.objects.values_list(
            "id", "penalty_markup", "compound_markup", "grace_days")}
        # the due dates whose penalty starts today, one per grace period in use: seeks in (due date, status, loan)
        starting = sorted({self.day - dt.timedelta(days=1 + grace) for _p, _c, grace in products.values()})
        marks = ", ".join(["%s"] * len(starting))
        keys = self.rows(
            f"SELECT DISTINCT l.annual_rate, l.day_count, l.product_id FROM {self.inst} i CROSS JOIN {self.loan} l "
            f"WHERE i.due_date IN ({marks}) AND i.status = '{OVERDUE}' AND i.loan_id BETWEEN %s AND %s "
            f"AND l.id = i.loan_id AND {self.mine_l}", [*starting, self.first, self.last, *self.mine_params])
        if keys:
            rates, first_due = [], []
            for rate, day_count, product_id in keys:
                pen_markup, comp_markup, grace = products[product_id]
                basis = DAY_BASIS.get(day_count, 360)
                pen = daily_rate(_decimal(rate), pen_markup, basis)
                comp = daily_rate(_decimal(rate), comp_markup, basis)
                first_due.append(self.day - dt.timedelta(days=1 + grace))
                rates.append([rate, day_count, product_id, pen.numerator, pen.denominator, comp.numerator,
                              comp.denominator])
            if self.pg or all(r[3] <= SQLITE_NUMERATOR_MAX and r[5] <= SQLITE_NUMERATOR_MAX for r in rates):
                self.penalty_starts(rates, first_due, starting)
            else:
                self.penalty_starts_python(rates, first_due, starting)
        # the day's penalty and compound interest, for the audit record (loans in arrears: the status index)
        (penalty, compound), = self.rows(
            f"SELECT COALESCE(SUM(penalty_daily_fen), 0), COALESCE(SUM(compound_daily_fen), 0) FROM {self.loan} "
            f"WHERE status = '{Loan.Status.OVERDUE}' AND id BETWEEN %s AND %s AND state_as_of = %s",
            [self.first, self.last, self.yesterday])
        totals["penalty_accrued"] += int(penalty)
        totals["compound_accrued"] += int(compound)

    def _rates_cte(self, rates: list[list], first_due: list[dt.date]) -> tuple[str, list]:
        """``r (rate, day_count, product_id, pn, pd, cn, cd, first_due) AS (VALUES …)``."""
        if self.pg:
            row = ("(CAST(%s AS numeric), %s, CAST(%s AS bigint), CAST(%s AS numeric), CAST(%s AS numeric), "
                   "CAST(%s AS numeric), CAST(%s AS numeric), CAST(%s AS date))")
        else:
            row = "(%s, %s, %s, %s, %s, %s, %s, %s)"
        return (f"r (rate, day_count, product_id, pn, pd, cn, cd, first_due) AS "
                f"(VALUES {', '.join([row] * len(rates))})",
                [v for values, due in zip(rates, first_due, strict=True) for v in (*values, due)])

    def penalty_starts(self, rates: list[list], first_due: list[dt.date], starting: list[dt.date]) -> None:
        """One statement: the per-day amounts of the installments whose penalty starts today (due on one of
        ``starting``, the product's own ``first_due``), summed per loan, added to the loans' daily amounts."""
        cte, params = self._rates_cte(rates, first_due)
        divide = "div(2 * {base} * {n} + {d}, 2 * {d})" if self.pg else "(2 * {base} * {n} + {d}) / (2 * {d})"
        due_p = "(i.principal_fen - i.paid_principal_fen)"
        due_c = "(i.interest_fen - i.paid_interest_fen)"
        marks = ", ".join(["%s"] * len(starting))
        self.sql(
            f"WITH {cte}, s AS (SELECT i.loan_id, "
            f"SUM(CASE WHEN {due_p} > 0 THEN {divide.format(base=due_p, n='r.pn', d='r.pd')} ELSE 0 END) AS p, "
            f"SUM(CASE WHEN {due_c} > 0 THEN {divide.format(base=due_c, n='r.cn', d='r.cd')} ELSE 0 END) AS c "
            # CROSS JOIN: SQLite joins in this order (the day's overdue installments first)
            f"FROM {self.inst} i CROSS JOIN {self.loan} l CROSS JOIN r "
            f"WHERE i.due_date IN ({marks}) AND i.status = '{OVERDUE}' AND i.loan_id BETWEEN %s AND %s "
            f"AND l.id = i.loan_id AND {self.mine_l} AND r.rate = l.annual_rate AND r.day_count = l.day_count "
            "AND r.product_id = l.product_id AND i.due_date = r.first_due GROUP BY i.loan_id) "
            f"UPDATE {self.loan} SET penalty_daily_fen = penalty_daily_fen + s.p, "
            f"compound_daily_fen = compound_daily_fen + s.c FROM s WHERE {self.loan}.id = s.loan_id "
            "AND (s.p > 0 OR s.c > 0)",
            [*params, *starting, self.first, self.last, *self.mine_params])

    def penalty_starts_python(self, rates: list[list], first_due: list[dt.date], starting: list[dt.date]) -> None:
        """The same in Python, for rates whose fractions are too long for SQLite's integers."""
        terms = {(r[0], r[1], r[2]): (Fraction(r[3], r[4]), Fraction(r[5], r[6]), due)
                 for r, due in zip(rates, first_due, strict=True)}
        marks = ", ".join(["%s"] * len(starting))
        rows = self.rows(
            "SELECT i.loan_id, i.due_date, i.principal_fen - i.paid_principal_fen, "
            "i.interest_fen - i.paid_interest_fen, l.annual_rate, l.day_count, l.product_id "
            f"FROM {self.inst} i JOIN {self.loan} l ON l.id = i.loan_id WHERE i.due_date IN ({marks}) "
            f"AND i.status = '{OVERDUE}' AND i.loan_id BETWEEN %s AND %s AND {self.mine_l}",
            [*starting, self.first, self.last, *self.mine_params])
        per_loan: dict[int, list[int]] = {}
        for loan_id, due, principal, interest, rate, day_count, product_id in rows:
            penalty_rate, compound_rate, first = terms[(rate, day_count, product_id)]
            if _day(due) != first:
                continue
            sums = per_loan.setdefault(loan_id, [0, 0])
            sums[0] += per_day_amount(principal, penalty_rate) if principal > 0 else 0
            sums[1] += per_day_amount(interest, compound_rate) if interest > 0 else 0
        _update("ledger_loan", ["penalty_daily_fen", "compound_daily_fen"],
                [[p, c, loan_id] for loan_id, (p, c) in per_loan.items() if p or c], add=True)

    def advance(self) -> int:
        """Accrued interest, days past due, bucket, status, as-of date of every loan still as of yesterday (4)."""
        # accrual.window_accrued from the loan's own row: elapsed = day + 1 − accrual_start
        if self.pg:
            elapsed = f"(DATE '{(self.day + ONE_DAY).isoformat()}' - accrual_start)"
            least, greatest = "LEAST", "GREATEST"
        else:
            elapsed = f"CAST({_julianday(self.day + ONE_DAY)!r} - julianday(accrual_start) AS INTEGER)"
            least, greatest = "MIN", "MAX"
        accrued = (f"accrual_fixed_fen + CASE WHEN accrual_days <= 0 "
                   f"THEN {greatest}(0, accrual_interest_fen - accrual_paid_fen) "
                   f"ELSE {greatest}(0, (2 * accrual_interest_fen * {least}({elapsed}, accrual_days) + accrual_days) "
                   "/ (2 * accrual_days) - accrual_paid_fen) END")
        dpd = "days_past_due"
        overdue = f"status = '{Loan.Status.OVERDUE}'"
        # loans in arrears (status overdue, since yesterday or from today): one more day past due
        sets = (f"interest_accrued_fen = {accrued}, state_as_of = %s, "
                f"{dpd} = CASE WHEN {overdue} THEN {dpd} + 1 ELSE {dpd} END, "
                f"bucket = CASE WHEN {overdue} THEN {_bucket_sql(dpd + ' + 1')} ELSE bucket END, "
                # the day's penalty and compound interest (zero a day for a loan not in arrears)
                "penalty_due_fen = penalty_due_fen + penalty_daily_fen, "
                "compound_due_fen = compound_due_fen + compound_daily_fen")
        return self.sql(f"UPDATE {self.loan} SET {sets} WHERE {self.mine}", [self.day, *self.mine_params])


def store_windows(cursor, where: str, params: list, as_of: dt.date) -> dict[int, list]:
    """Compute and store the accrual window (``accrual.window``) as of ``as_of`` of the loans ``where`` (a
    condition on the loan table, alias ``l``) selects: two queries over their open installments. Returns
    {loan id: the values of ``state.WINDOW_FIELDS``}."""
    qn = connection.ops.quote_name
    loan, inst = qn(Loan._meta.db_table), qn(Installment._meta.db_table)
    first = as_of + ONE_DAY
    S = Installment.Status
    is_open = f"i.status IN ('{S.FUTURE}', '{S.PARTLY_PAID}')"  # literals: the partial index's condition
    cursor.execute(f"SELECT l.id, (SELECT MIN(i.period_start) FROM {inst} i WHERE i.loan_id = l.id AND {is_open} "
                   f"AND i.period_start > %s) FROM {loan} l WHERE {where}", [first, *params])
    nexts = {loan_id: _day(start) for loan_id, start in cursor.fetchall()}
    if not nexts:
        return {}
    periods: dict[int, list] = {}
    cursor.execute(f"SELECT i.loan_id, i.period_start, i.period_end, i.due_date, i.interest_fen, i.paid_interest_fen "
                   f"FROM {loan} l JOIN {inst} i ON i.loan_id = l.id WHERE {where} AND {is_open} "
                   "AND i.period_start <= %s AND i.due_date > %s", [*params, first, first])
    for loan_id, start, end, due, interest, paid in cursor.fetchall():
        periods.setdefault(loan_id, []).append((_day(start), _day(end), _day(due), interest, paid))
    windows = {loan_id: list(window(periods.get(loan_id, []), next_start, as_of))
               for loan_id, next_start in nexts.items()}
    _update("ledger_loan", list(WINDOW_FIELDS), [[*values, loan_id] for loan_id, values in windows.items()])
    return windows


def _day(value) -> dt.date | None:
    """A date read with raw SQL (SQLite gives text for a computed column)."""
    return dt.date.fromisoformat(value) if isinstance(value, str) else value


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
        stored = {seq: stored_values(row) for seq, row in data.installments.items()}
        # what earlier days charged is the installments' penalty brought to the stored state's date
        penalty_to_date(loan, data.installments.values())
        totals["penalty_accrued"] += sum(s.penalty for s in state.installments) - sum(
            r.penalty_fen for r in data.installments.values() if r.status != Installment.Status.SUPERSEDED)
        totals["compound_accrued"] += sum(s.compound for s in state.installments) - sum(
            r.compound_fen for r in data.installments.values() if r.status != Installment.Status.SUPERSEDED)
        loan_rows.append([loan_values[f] for f in loan_fields] + [loan.pk])
        for seq, values in rows.items():
            new = new_values(values)
            if stored[seq] != new:
                inst_rows.append([*new, data.installments[seq].pk])
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
