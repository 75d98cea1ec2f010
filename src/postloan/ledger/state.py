"""A loan's derived state: replay its schedule versions and standing postings
through the pure engine, and store the result.

``replayed(loan, as_of)`` computes without writing; ``refresh(loan)`` stores
balances on the loan, paid amounts on the installments and the split of each
repayment; ``check(loan)`` compares what is stored with a fresh replay.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from postloan.kernel import businessdate

from . import engine
from .accrual import daily_rate, penalty_days, per_day_amount
from .models import Allocation, Installment, Loan, Posting, ScheduleVersion

DAY_BASIS = {"ACT/360": 360, "30/360": 360, "30E/360": 360, "ACT/365F": 365, "ACT/ACT": 365}

EVENT_KINDS = {
    Posting.Kind.DISBURSEMENT: engine.Disbursement,
    Posting.Kind.REPAYMENT: engine.Repayment,
    Posting.Kind.PREPAYMENT: engine.Repayment,
    Posting.Kind.FEE_CHARGE: engine.FeeCharge,
    Posting.Kind.FEE_WAIVER: engine.FeeWaiver,
    Posting.Kind.PENALTY_WAIVER: engine.PenaltyWaiver,
}


@dataclass
class Inputs:
    dues: list
    events: list
    terms: engine.Terms
    installments: dict[int, Row]  # seq -> installment row
    postings: dict[str, Posting]  # reference -> standing posting


def terms_of(loan: Loan) -> engine.Terms:
    product = loan.product
    return engine.Terms(
        annual_rate=Decimal(loan.annual_rate),
        penalty_markup=Decimal(product.penalty_markup),
        compound_markup=Decimal(product.compound_markup),
        day_basis=DAY_BASIS.get(loan.day_count, 360),
        grace_days=product.grace_days,
        order=tuple(product.allocation_order.split(",")),
        mode=product.allocation_mode,
    )


class Row:
    """An installment row as the replay needs it: cheaper than a model instance (a 30-year loan has 360)."""

    __slots__ = ("id", "loan_id", "version_id", "seq", "number", "period_start", "period_end", "due_date",
                 "principal_fen", "interest_fen", "status", "penalty_fen", "compound_fen", "fee_fen",
                 "paid_principal_fen", "paid_interest_fen", "paid_penalty_fen", "paid_compound_fen", "paid_fee_fen")

    def __init__(self, *values) -> None:
        for name, value in zip(self.__slots__, values, strict=True):
            setattr(self, name, value)

    @property
    def pk(self) -> int:
        return self.id


def due_of(row) -> engine.Due:
    return engine.Due(number=row.seq, period_start=row.period_start, due_date=row.due_date,
                      principal=row.principal_fen, interest=row.interest_fen, period_end=row.period_end)


def inputs(loan: Loan) -> Inputs:
    return inputs_bulk([loan])[loan.pk]


def inputs_bulk(loans: list[Loan]) -> dict[int, Inputs]:
    """The engine's inputs for many loans in three queries (the close of business replays in chunks)."""
    ids = [loan.pk for loan in loans]
    postings_by: dict[int, list[Posting]] = {i: [] for i in ids}
    for p in Posting.objects.filter(loan_id__in=ids).order_by("value_date", "id"):
        postings_by[p.loan_id].append(p)
    rows_by: dict[int, list[Row]] = {i: [] for i in ids}
    for values in Installment.objects.filter(loan_id__in=ids).order_by("seq").values_list(*Row.__slots__):
        row = Row(*values)
        rows_by[row.loan_id].append(row)
    versions_by: dict[int, list[ScheduleVersion]] = {i: [] for i in ids}
    for v in ScheduleVersion.objects.filter(loan_id__in=ids):
        versions_by[v.loan_id].append(v)
    result = {}
    for loan in loans:
        result[loan.pk] = _inputs(loan, postings_by[loan.pk], rows_by[loan.pk], versions_by[loan.pk])
    return result


def _inputs(loan: Loan, postings: list[Posting], rows: list[Row], version_list) -> Inputs:
    reversed_ids = {p.reverses_id for p in postings if p.kind == Posting.Kind.REVERSAL}
    standing = [p for p in postings if p.kind != Posting.Kind.REVERSAL and p.id not in reversed_ids]
    by_version: dict[int, list[Row]] = {}
    for row in rows:
        by_version.setdefault(row.version_id, []).append(row)
    versions = {v.posting_id: v for v in version_list}
    initial = next((v for v in version_list if v.number == 1), None)
    dues = [due_of(r) for r in by_version.get(initial.id, [])] if initial else []
    events = []
    for p in standing:
        if p.kind == Posting.Kind.SCHEDULE_CHANGE:
            version = versions.get(p.id)
            if version is None or version.number == 1:
                continue
            events.append(engine.ScheduleChange(value_date=p.value_date,
                                                dues=[due_of(r) for r in by_version.get(version.id, [])],
                                                ref=p.reference, reason=version.reason))
        else:
            events.append(EVENT_KINDS[p.kind](value_date=p.value_date, amount=p.amount_fen, ref=p.reference))
    return Inputs(dues=dues, events=events, terms=terms_of(loan), installments={r.seq: r for r in rows},
                  postings={p.reference: p for p in standing})


def replayed(loan: Loan, as_of: dt.date | None = None, data: Inputs | None = None) -> engine.LoanState:
    data = data or inputs(loan)
    return engine.replay(data.dues, data.events, data.terms, as_of or businessdate.current())


LOAN_FIELDS = {
    "disbursed_fen": "disbursed",
    "principal_outstanding_fen": "principal_outstanding",
    "principal_due_fen": "principal_due",
    "interest_due_fen": "interest_due",
    "penalty_due_fen": "penalty_due",
    "compound_due_fen": "compound_due",
    "fee_due_fen": "fee_due",
    "overdue_principal_fen": "overdue_principal",
    "overdue_interest_fen": "overdue_interest",
    "interest_accrued_fen": "interest_accrued",
    "credit_fen": "credit",
    "days_past_due": "days_past_due",
    "bucket": "bucket",
    "next_due_date": "next_due_date",
    "settled_on": "settled_on",
    "accrual_until": "accrual_until",
    "accrual_start": "accrual_start",
    "accrual_days": "accrual_days",
    "accrual_interest_fen": "accrual_interest",
    "accrual_paid_fen": "accrual_paid",
    "accrual_fixed_fen": "accrual_fixed",
    "penalty_daily_fen": "penalty_daily",
    "compound_daily_fen": "compound_daily",
    "penalty_as_of": "as_of",  # a replay stores every installment's penalty through its date
}
WINDOW_FIELDS = ("accrual_until", "accrual_start", "accrual_days", "accrual_interest_fen", "accrual_paid_fen",
                 "accrual_fixed_fen")

INSTALLMENT_FIELDS = {
    "status": "status",
    "penalty_fen": "penalty",
    "compound_fen": "compound",
    "fee_fen": "fee",
    "paid_principal_fen": "paid_principal",
    "paid_interest_fen": "paid_interest",
    "paid_penalty_fen": "paid_penalty",
    "paid_compound_fen": "paid_compound",
    "paid_fee_fen": "paid_fee",
}


def loan_status(loan: Loan, state: engine.LoanState) -> str:
    if loan.status == Loan.Status.WRITTEN_OFF:
        return loan.status
    if state.disbursed == 0:
        return Loan.Status.PENDING
    return {"settled": Loan.Status.SETTLED, "overdue": Loan.Status.OVERDUE}.get(state.status, Loan.Status.ACTIVE)


def expected(loan: Loan, as_of: dt.date | None = None, data: Inputs | None = None):
    """(loan field values, {seq: installment field values}, state, inputs) a replay gives."""
    data = data or inputs(loan)
    state = replayed(loan, as_of, data)
    loan_values = {f: getattr(state, a) for f, a in LOAN_FIELDS.items()}
    loan_values["status"] = loan_status(loan, state)
    loan_values["state_as_of"] = state.as_of
    effective = {s.number: s for s in state.installments}
    rows = {}
    for seq in data.installments:
        s = effective.get(seq)
        if s is None:
            rows[seq] = {f: 0 for f in INSTALLMENT_FIELDS} | {"status": Installment.Status.SUPERSEDED}
        else:
            rows[seq] = {f: getattr(s, a) for f, a in INSTALLMENT_FIELDS.items()}
    return loan_values, rows, state, data


def refresh(loan: Loan, as_of: dt.date | None = None) -> engine.LoanState:
    """Store the replayed state of the loan (call inside the service's transaction)."""
    return refresh_many([loan], as_of or businessdate.current())[loan.pk]


def penalty_to_date(loan: Loan, rows, through: dt.date | None = None):
    """The installments ``rows`` of ``loan`` (model instances, or rows with the same attributes) with their
    penalty and compound interest brought, in memory, from ``loan.penalty_as_of`` (the day they are stored
    as of) to ``through`` (default: the loan's ``state_as_of``). The close of business adds a day's penalty
    to the loan's dues only (``penalty_daily_fen``), not to each overdue installment: an overdue
    installment's base does not change between postings, so what it bore since is per-day amount × days
    (``accrual.penalty_days``). Returns ``rows``."""
    since, through = loan.penalty_as_of, through or loan.state_as_of
    if since is None or through is None or through <= since:
        return rows
    terms = terms_of(loan)
    pen_rate = daily_rate(terms.annual_rate, terms.penalty_markup, terms.day_basis)
    comp_rate = daily_rate(terms.annual_rate, terms.compound_markup, terms.day_basis)
    for row in rows:
        if row.status != Installment.Status.OVERDUE:
            continue
        days = penalty_days(row.due_date, terms.grace_days, since, through)
        if days:
            row.penalty_fen += per_day_amount(row.principal_fen - row.paid_principal_fen, pen_rate) * days
            row.compound_fen += per_day_amount(row.interest_fen - row.paid_interest_fen, comp_rate) * days
    return rows


def check(loan: Loan) -> list[str]:
    """Differences between the stored state and a replay of the postings (empty: consistent)."""
    as_of = loan.state_as_of or businessdate.current()
    loan_values, rows, _state, data = expected(loan, as_of)
    problems = []
    fresh = Loan.objects.get(pk=loan.pk)
    if fresh.accrual_until is None:  # the window is not computed yet (data from before it existed)
        loan_values = {f: v for f, v in loan_values.items() if f not in WINDOW_FIELDS}
    # the installments' penalty is stored as of penalty_as_of (at most the state's date): brought to date
    del loan_values["penalty_as_of"]
    if fresh.penalty_as_of is not None and fresh.penalty_as_of > as_of:
        problems.append(f"{loan.loan_no}: penalty_as_of {fresh.penalty_as_of} is after the state's date {as_of}")
    penalty_to_date(fresh, data.installments.values(), as_of)
    for field, value in loan_values.items():
        stored = getattr(fresh, field)
        if stored != value:
            problems.append(f"{loan.loan_no}: {field} stored {stored!r}, postings give {value!r}")
    for seq, values in rows.items():
        row = data.installments[seq]
        for field, value in values.items():
            if getattr(row, field) != value:
                problems.append(f"{loan.loan_no} installment {row.number} (seq {seq}): {field} stored "
                                f"{getattr(row, field)!r}, postings give {value!r}")
    return problems


def refresh_many(loans: list[Loan], as_of: dt.date) -> dict[int, engine.LoanState]:
    """``refresh`` for many loans with a handful of queries (feeds, the demo, the close of business)."""
    from django.db import connection

    data_by = inputs_bulk(loans)
    loan_fields = list(LOAN_FIELDS) + ["status", "state_as_of"]
    inst_fields = list(INSTALLMENT_FIELDS)
    loan_rows, inst_rows, states, replays = [], [], {}, {}
    for loan in loans:
        loan_values, rows, state, data = expected(loan, as_of, data_by[loan.pk])
        states[loan.pk] = state
        for field, value in loan_values.items():
            setattr(loan, field, value)
        loan_rows.append([loan_values[f] for f in loan_fields] + [loan.pk])
        for seq, values in rows.items():
            row = data.installments[seq]
            if any(getattr(row, f) != v for f, v in values.items()):
                inst_rows.append([values[f] for f in inst_fields] + [row.pk])
        replays[loan.pk] = (state, data)
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        for table, fields, rows in (("ledger_loan", loan_fields, loan_rows),
                                    ("ledger_installment", inst_fields, inst_rows)):
            if rows:
                cursor.executemany(f"UPDATE {qn(table)} SET " + ", ".join(f"{qn(f)} = %s" for f in fields)
                                   + " WHERE id = %s", rows)
    _store_allocations([loan.pk for loan in loans], replays)
    return states


def _store_allocations(loan_ids: list[int], replays: dict) -> None:
    """Rewrite the split of the repayments whose split changed (a back-valued posting changes later ones)."""
    stored: dict[int, list] = {}
    for posting_id, inst_id, component, amount in Allocation.objects.filter(
            posting__loan_id__in=loan_ids).order_by("id").values_list(
            "posting_id", "installment_id", "component", "amount_fen"):
        stored.setdefault(posting_id, []).append((inst_id, component, amount))
    changed, rows = [], []
    for state, data in replays.values():
        for ref, parts in state.allocations.items():
            posting = data.postings.get(ref)
            if posting is None:
                continue
            new = [(data.installments[p.installment].pk if p.installment in data.installments else None,
                    p.component, p.amount) for p in parts if p.amount]
            if stored.get(posting.pk, []) != new:
                changed.append(posting.pk)
                rows += [Allocation(posting=posting, installment_id=i, component=c, amount_fen=a) for i, c, a in new]
    if changed:
        Allocation.objects.filter(posting_id__in=changed).delete()
        Allocation.objects.bulk_create(rows, batch_size=1000)
