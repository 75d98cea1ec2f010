"""Posting a repayment dated today without replaying the loan: the common case, done incrementally.

A repayment valued on the business date, on a loan the close of business left
as of yesterday, with no credit held and no fee owed, that pays only what is
due (nothing left over to hold as credit) and does not pay the loan off, changes
the loan exactly as the engine's processing of that day does (``engine`` module
doc, "Processing of day X"): penalty is accrued through yesterday (the overdue
installments' own amounts brought there from the loan's ``penalty_as_of``); the
installments due today fall due; the amount is split by ``allocation.plan`` in
the product's order and mode, oldest installment first; then today's penalty and
compound interest accrue on what is still overdue, and the balances, days past
due, status and accrued interest are those of the end of today. Only the rows
that can change are read: the installments due (overdue, due yesterday or
today) and those accruing interest.

Anything else — a second posting on the loan today, credit, fees, an amount
beyond what is due, a payoff, a stale state — is left to the full replay
(:func:`state.refresh_many`), which stays the reference: the close-of-business
differential test posts repayments every day through this path and checks every
loan against a full replay after every day.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import connection

from . import engine
from .accrual import accrued_to, daily_rate, per_day_amount
from .allocation import plan
from .close import store_windows
from .models import Allocation, Installment, Loan, Posting
from .state import DAY_BASIS, WINDOW_FIELDS, penalty_to_date

ONE_DAY = dt.timedelta(days=1)
S = Installment.Status
COLUMNS = ("id", "loan_id", "seq", "due_date", "period_start", "period_end", "principal_fen", "interest_fen",
           "status", "penalty_fen", "compound_fen", "paid_principal_fen", "paid_interest_fen", "paid_penalty_fen",
           "paid_compound_fen")
WRITTEN = ("status", "penalty_fen", "compound_fen", "paid_principal_fen", "paid_interest_fen", "paid_penalty_fen",
           "paid_compound_fen")


class _Row:
    __slots__ = COLUMNS

    def __init__(self, values) -> None:
        for name, value in zip(COLUMNS, values, strict=True):
            setattr(self, name, value)

    def closed(self) -> bool:
        return not (self.principal_fen - self.paid_principal_fen or self.interest_fen - self.paid_interest_fen
                    or self.penalty_fen - self.paid_penalty_fen or self.compound_fen - self.paid_compound_fen)

    def written(self) -> tuple:
        return tuple(getattr(self, name) for name in WRITTEN)


def repay(pairs: list[tuple[Loan, Posting]], today: dt.date) -> list[Loan]:
    """Apply each (loan, repayment posting) pair that qualifies; return the loans left for a full replay.

    ``loan`` is the instance the caller holds (with ``product``): its fields are set to the new state."""
    counts: dict[int, int] = {}
    for loan, _posting in pairs:
        counts[loan.pk] = counts.get(loan.pk, 0) + 1
    yesterday = today - ONE_DAY
    chosen: dict[int, tuple[Loan, Posting]] = {}
    rest: list[Loan] = []
    for loan, posting in pairs:
        if (counts[loan.pk] == 1 and posting.kind == Posting.Kind.REPAYMENT and posting.value_date == today
                and loan.state_as_of == yesterday and loan.credit_fen == 0 and loan.fee_due_fen == 0
                and loan.status in (Loan.Status.ACTIVE, Loan.Status.OVERDUE)):
            chosen[loan.pk] = (loan, posting)
        elif loan not in rest:
            rest.append(loan)
    if not chosen:
        return rest
    rows = _rows(list(chosen), today, yesterday)
    inst_writes, loan_writes, allocations = [], [], []
    for loan_id, (loan, posting) in chosen.items():
        result = _apply(loan, posting, rows.get(loan_id, {}), today)
        if result is None:
            rest.append(loan)
            continue
        changed, values, parts = result
        inst_writes += [[*row.written(), row.id] for row in changed]
        loan_writes.append((loan, values))
        allocations += [Allocation(posting=posting, installment_id=inst_id, component=component, amount_fen=amount)
                        for inst_id, component, amount in parts]
    _next_due(loan_writes, today)
    qn = connection.ops.quote_name
    fields = [*LOAN_COLUMNS, "next_due_date", "state_as_of"]
    with connection.cursor() as cursor:
        if inst_writes:
            cursor.executemany(f"UPDATE {qn(Installment._meta.db_table)} SET "
                               + ", ".join(f"{qn(f)} = %s" for f in WRITTEN) + " WHERE id = %s", inst_writes)
        if loan_writes:
            cursor.executemany(f"UPDATE {qn(Loan._meta.db_table)} SET " + ", ".join(f"{qn(f)} = %s" for f in fields)
                               + " WHERE id = %s", [[values[f] for f in fields] + [loan.pk]
                                                    for loan, values in loan_writes])
        if loan_writes:  # the accrual windows from tomorrow (the close of business skips these loans today)
            ids = [loan.pk for loan, _values in loan_writes]
            windows = store_windows(cursor, f"l.id IN ({', '.join(['%s'] * len(ids))})", ids, today)
            for loan, values in loan_writes:
                values.update(zip(WINDOW_FIELDS, windows[loan.pk], strict=True))
    for loan, values in loan_writes:
        for field, value in values.items():
            setattr(loan, field, value)
    Allocation.objects.bulk_create(allocations, batch_size=1000)
    return rest


LOAN_COLUMNS = ("principal_outstanding_fen", "principal_due_fen", "interest_due_fen", "penalty_due_fen",
                "compound_due_fen", "overdue_principal_fen", "overdue_interest_fen", "interest_accrued_fen",
                "days_past_due", "bucket", "status", "penalty_daily_fen", "compound_daily_fen", "penalty_as_of")


def _rows(loan_ids: list[int], today: dt.date, yesterday: dt.date) -> dict[int, dict[int, _Row]]:
    """The installments a repayment today can touch or that the new state reads: overdue, due yesterday or
    today, and those accruing interest (their period has begun, not yet due)."""
    result: dict[int, dict[int, _Row]] = {}
    table = connection.ops.quote_name(Installment._meta.db_table)
    marks = ", ".join(["%s"] * len(loan_ids))
    columns = ", ".join(COLUMNS)
    # statuses as literals: SQLite uses a partial index only when the query repeats its condition verbatim
    queries = [
        (f"status = '{S.OVERDUE}'", []),
        (f"due_date IN (%s, %s) AND status <> '{S.SUPERSEDED}'", [yesterday, today]),
        (f"status IN ('{S.FUTURE}', '{S.PARTLY_PAID}') AND period_start <= %s", [today]),
    ]
    with connection.cursor() as cursor:
        for condition, params in queries:
            cursor.execute(f"SELECT {columns} FROM {table} WHERE loan_id IN ({marks}) AND {condition}",
                           [*loan_ids, *params])
            for values in cursor.fetchall():
                row = _Row(values)
                result.setdefault(row.loan_id, {}).setdefault(row.id, row)
    return result


def _apply(loan: Loan, posting: Posting, rows: dict[int, _Row], today: dt.date):
    product = loan.product
    before = {row.id: row.written() for row in rows.values()}
    # the overdue installments' penalty, stored as of loan.penalty_as_of, through yesterday (the close of
    # business added it to the loan's dues only); they are all read, so the loan's rows are as of today after
    penalty_to_date(loan, rows.values(), today - ONE_DAY)
    order = product.allocation_order.split(",")
    rank = {component: i for i, component in enumerate(order)}
    due = sorted((r for r in rows.values() if r.due_date <= today and not r.closed()),
                 key=lambda r: (r.due_date, r.seq))
    items = []
    for row in due:
        key = row.due_date.toordinal()
        items += [(key, row.seq, rank["penalty"], row.penalty_fen - row.paid_penalty_fen, (row, "penalty")),
                  (key, row.seq, rank["compound"], row.compound_fen - row.paid_compound_fen, (row, "compound")),
                  (key, row.seq, rank["interest"], row.interest_fen - row.paid_interest_fen, (row, "interest")),
                  (key, row.seq, rank["principal"], row.principal_fen - row.paid_principal_fen, (row, "principal"))]
    paid, left = plan(posting.amount_fen, items, product.allocation_mode)
    if left:
        return None  # something held as credit: the engine may settle the loan early
    principal_paid = 0
    parts = []
    for (row, component), amount in paid:
        if component == "principal":
            row.paid_principal_fen += amount
            principal_paid += amount
        elif component == "interest":
            row.paid_interest_fen += amount
        elif component == "penalty":
            row.paid_penalty_fen += amount
        else:
            row.paid_compound_fen += amount
        parts.append((row.id, component, amount))
    outstanding = loan.principal_outstanding_fen - principal_paid
    if outstanding <= 0:
        return None  # paid off: settlement is the engine's
    # today's penalty and compound interest, on what is still overdue after the payment
    basis = DAY_BASIS.get(loan.day_count, 360)
    annual = Decimal(loan.annual_rate)
    pen_rate = daily_rate(annual, product.penalty_markup, basis)
    comp_rate = daily_rate(annual, product.compound_markup, basis)
    start = dt.timedelta(days=1 + product.grace_days)
    values = dict.fromkeys(("principal_due_fen", "interest_due_fen", "penalty_due_fen", "compound_due_fen",
                            "overdue_principal_fen", "overdue_interest_fen", "interest_accrued_fen"), 0)
    oldest = None
    penalty_daily = compound_daily = 0  # what the loan bears a day from tomorrow (the close adds new starts)
    for row in rows.values():
        if row.status == S.SUPERSEDED:
            continue
        if row.due_date <= today:
            if row.due_date < today and today >= row.due_date + start:
                base = row.principal_fen - row.paid_principal_fen
                if base:
                    amount = per_day_amount(base, pen_rate)
                    row.penalty_fen += amount
                    penalty_daily += amount
                base = row.interest_fen - row.paid_interest_fen
                if base:
                    amount = per_day_amount(base, comp_rate)
                    row.compound_fen += amount
                    compound_daily += amount
            op = row.principal_fen - row.paid_principal_fen
            oi = row.interest_fen - row.paid_interest_fen
            values["principal_due_fen"] += op
            values["interest_due_fen"] += oi
            values["penalty_due_fen"] += row.penalty_fen - row.paid_penalty_fen
            values["compound_due_fen"] += row.compound_fen - row.paid_compound_fen
            if row.closed():
                row.status = S.PAID
            elif row.due_date < today:
                row.status = S.OVERDUE
                values["overdue_principal_fen"] += op
                values["overdue_interest_fen"] += oi
                oldest = row.due_date if oldest is None or row.due_date < oldest else oldest
            else:
                row.status = S.PARTLY_PAID if (row.paid_principal_fen or row.paid_interest_fen or
                                               row.paid_penalty_fen or row.paid_compound_fen) else S.DUE
        elif row.status in (S.FUTURE, S.PARTLY_PAID) and row.period_start <= today:
            values["interest_accrued_fen"] += max(0, accrued_to(row.interest_fen, row.period_start, row.period_end,
                                                                today) - row.paid_interest_fen)
    dpd = (today - oldest).days if oldest is not None else 0
    values |= {"principal_outstanding_fen": outstanding, "days_past_due": dpd, "bucket": engine.bucket_for(dpd),
               "status": Loan.Status.OVERDUE if dpd else Loan.Status.ACTIVE, "state_as_of": today,
               "penalty_daily_fen": penalty_daily, "compound_daily_fen": compound_daily, "penalty_as_of": today}
    # what the next due date is, when it can be told from these rows; else _next_due asks (None: to ask)
    if any(r.due_date == today and not r.closed() for r in rows.values() if r.status != S.SUPERSEDED):
        values["next_due_date"] = today
    elif loan.next_due_date is not None and loan.next_due_date > today:
        values["next_due_date"] = loan.next_due_date  # the payment touched nothing due after today
    else:
        values["next_due_date"] = None
        values["_ask_next_due"] = True
    changed = [row for row in rows.values() if row.written() != before[row.id]]
    return changed, values, parts


def _next_due(loan_writes: list, today: dt.date) -> None:
    """The first unpaid installment due after today, for the loans whose next due date the payment moved."""
    ask = [loan.pk for loan, values in loan_writes if values.pop("_ask_next_due", False)]
    if not ask:
        return
    found = dict(_min_due(ask, today))
    for loan, values in loan_writes:
        if loan.pk in found:
            values["next_due_date"] = found[loan.pk]


def _min_due(loan_ids: list[int], today: dt.date) -> list[tuple[int, dt.date]]:
    from django.db.models import Min

    return list(Installment.objects.filter(loan_id__in=loan_ids, due_date__gt=today,
                                           status__in=[S.FUTURE, S.PARTLY_PAID])
                .values("loan_id").annotate(first=Min("due_date")).values_list("loan_id", "first"))
