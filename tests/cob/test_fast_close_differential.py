"""The set-based close of business against the reference engine, day by day.

A portfolio of every method, frequency, day count, holiday rule (due dates moved
past the period end, so two periods accrue at once) and grace period, with a
schedule entered by hand; during the window borrowers act as they do in a bank:
pay on the due date, pay ahead (credit held), pay part, pay late, prepay part of
the principal, and loans are extended, restructured, repriced and charged a fee.
After every closed day each loan's stored state must equal a full replay of its
postings (``postloan ledger check``) — to the fen, on SQLite and PostgreSQL.
"""

import datetime as dt
import random
from decimal import Decimal

import pytest
from django.db import connection

from postloan.cob import runner
from postloan.cob.models import CobStep
from postloan.customers import services as customer_services
from postloan.customers.identifiers import make_uscc
from postloan.customers.models import Industry
from postloan.kernel import businessdate
from postloan.kernel.models import BusinessDate
from postloan.ledger import close, services
from postloan.ledger.models import Loan
from postloan.ledger.state import check

START = dt.date(2026, 1, 5)
END = dt.date(2026, 4, 20)

PRODUCTS = [  # method, frequency, day count, interest basis, grace days, holiday rule
    ("equal_installment", "monthly", "ACT/360", "period", 0, "following"),
    ("equal_principal", "quarterly", "ACT/365F", "daily", 3, "following"),
    ("interest_only", "monthly", "30/360", "period", 0, "modified_following"),
    ("bullet", "monthly", "ACT/ACT", "daily", 0, "none"),
    ("equal_installment", "semiannual", "30E/360", "daily", 5, "following"),
    ("equal_principal", "monthly", "ACT/360", "daily", 2, "preceding"),
]


def _pay(loan, day, amount_fen, ref):
    if amount_fen > 0:
        services.post_repayment(actor=None, loan=loan, amount=Decimal(amount_fen) / 100, value_date=day,
                                reference=ref)


def _owed(loan, day):
    """What falls due on ``day``, unpaid (the stored state is as of yesterday: not yet counted as due)."""
    return sum(i.principal_fen + i.interest_fen - i.paid_principal_fen - i.paid_interest_fen
               for i in loan.installments.filter(due_date=day).exclude(status__in=["paid", "superseded"]))


@pytest.fixture
def lively_portfolio(bank):
    BusinessDate.objects.update_or_create(pk=1, defaults={"date": START})  # history is back-valued
    rng = random.Random(7)
    products = []
    for n, (method, frequency, day_count, basis, grace, rule) in enumerate(PRODUCTS):
        products.append(services.create_product(
            actor=None, code=f"D{n}", name=f"产品{n}", segment="corporate", method=method, frequency=frequency,
            day_count=day_count, interest_basis=basis, holiday_rule=rule, grace_days=grace,
            min_rate=Decimal("0.01"), max_rate=Decimal("0.2"), max_term_months=120))
    industry = Industry.objects.get(code="13")
    behaviours = {}
    for n in range(37):
        customer = customer_services.create_customer(
            actor=None, customer_no=f"K{n}", kind="corporate", name=f"公司{n}", id_number=make_uscc(rng),
            branch=bank["BJ" if n % 2 else "SH"], industry=industry)
        product = products[n % len(products)]
        start = dt.date(2025, 1, 2) + dt.timedelta(days=rng.randrange(0, 330))
        term = {"monthly": rng.choice([6, 12, 24]), "quarterly": 24, "semiannual": 36}[product.frequency]
        if product.method == "bullet":
            term = rng.choice([6, 12])
        rows = None
        if n == 35:  # a schedule entered by hand, with uneven periods
            rows = [{"due_date": start + dt.timedelta(days=d), "principal": p, "interest": i}
                    for d, p, i in [(45, "100000", "2100.00"), (120, "150000", "3300.50"),
                                    (200, "250000", "2700.00"), (420, "500000", "9100.10")]]
        if n == 36:  # by hand, dues on consecutive days in the window, and the borrower stops paying
            start = dt.date(2025, 12, 1)
            rows = [{"due_date": dt.date(2026, 1, d), "principal": p, "interest": i}
                    for d, p, i in [(20, "100000", "1500.00"), (21, "200000", "300.00"),
                                    (22, "300000", "100.00"), (29, "400000", "700.00")]]
        loan = services.book_loan(
            actor=None, loan_no=f"F{n:03d}", customer=customer, product=product,
            principal=Decimal("1000000") if rows else Decimal(rng.randrange(50_000, 3_000_000)), term_months=term,
            annual_rate=Decimal(rng.choice(["0.0345", "0.0435", "0.0600", "0.0875"])), start_date=start,
            schedule_rows=rows)
        services.disburse(actor=None, loan=loan, value_date=start, reference=f"FD{n}")
        # history before the window: paid on time, except the ones already in arrears
        for inst in loan.installments.exclude(status="superseded").order_by("due_date"):
            if inst.due_date >= START or (n % 9 == 4 and inst.due_date > dt.date(2025, 10, 1)):
                break
            _pay(loan, inst.due_date, inst.principal_fen + inst.interest_fen, f"H{inst.pk}")
        behaviours[loan.pk] = "stopped" if n == 36 else ["on_time", "ahead", "partial", "late", "stopped",
                                                         "on_time", "ahead", "late", "on_time"][n % 9]
    return behaviours


def _act(day, behaviours, rng):
    """What the borrowers (and the bank) do on ``day``, before its close of business."""
    for loan in Loan.objects.filter(status__in=["active", "overdue"]).order_by("id"):
        kind = behaviours[loan.pk]
        owed = _owed(loan, day)
        if kind == "ahead" and owed and loan.credit_fen:
            pass  # the credit paid ahead is applied by the close of business
        elif kind in ("on_time", "ahead") and owed:
            _pay(loan, day, owed + loan.total_due_fen, f"P{loan.pk}-{day}")
        elif kind == "ahead" and day.day == 20:
            _pay(loan, day, rng.randrange(1_000, 300_000) + loan.total_due_fen, f"A{loan.pk}-{day}")
        elif kind == "partial" and owed:
            _pay(loan, day, owed // 2, f"H{loan.pk}-{day}")
        elif kind == "late" and loan.days_past_due == 9:  # half pay exactly what is due, half a bit more
            _pay(loan, day, loan.total_due_fen + (loan.penalty_due_fen if loan.pk % 2 else 0), f"L{loan.pk}-{day}")
    loans = list(Loan.objects.filter(status__in=["active", "overdue"]).order_by("id"))
    if day == dt.date(2026, 1, 27):
        target = next(loan for loan in loans if behaviours[loan.pk] == "on_time" and loan.method != "bullet")
        services.prepay(actor=None, loan=target, value_date=day, reference="PP-1", mode="shorten_term",
                        amount=Decimal("20000.00"))
    if day == dt.date(2026, 2, 10):
        services.charge_fee(actor=None, loan=loans[1], amount=Decimal("350.00"), value_date=day,
                            reference="FEE-1", reason="账户管理费")
    if day == dt.date(2026, 2, 16):
        target = next(loan for loan in loans if behaviours[loan.pk] == "on_time" and loan.maturity_date > day
                      and loan.frequency == "monthly")
        services.reprice(actor=None, loan=target, annual_rate=Decimal("0.0310"), value_date=day, reason="LPR 调整")
    if day == dt.date(2026, 3, 2):
        target = next(loan for loan in loans if loan.status == "overdue" and loan.maturity_date > day + dt.timedelta(
            days=60))
        services.restructure(actor=None, loan=target, value_date=day, term_months=12, reason="经营困难，调整还款计划")
        behaviours[target.pk] = "on_time"
    if day == dt.date(2026, 3, 16):
        target = next(loan for loan in loans if behaviours[loan.pk] == "on_time" and loan.status == "active"
                      and loan.maturity_date > day and loan.frequency == "monthly" and not loan.restructured)
        services.extend(actor=None, loan=target, months=6, value_date=day, guarantor_consent=True, reason="展期")


@pytest.mark.parametrize("penalty_in", ["sql", "python"])
def test_set_based_close_equals_the_replay_every_day(lively_portfolio, penalty_in, monkeypatch):
    if penalty_in == "python":  # SQLite computes in Python the rates whose fractions are too long for its integers
        if connection.vendor != "sqlite":
            pytest.skip("PostgreSQL computes every rate in SQL (numeric)")
        monkeypatch.setattr(close, "SQLITE_NUMERATOR_MAX", 0)
    behaviours = lively_portfolio
    rng = random.Random(11)
    day = START
    while day <= END:
        _act(day, behaviours, rng)
        runner.run(to=day)
        problems = [p for loan in Loan.objects.exclude(status="pending") for p in check(loan)]
        assert problems == [], f"after closing {day}"
        day = businessdate.current()
    steps = CobStep.objects.filter(name="ledger.close_day")
    totals = {key: sum(s.totals.get(key, 0) for s in steps) for key in
              ("advanced", "replayed", "skipped", "fell_due", "became_overdue", "penalty_accrued")}
    # the window exercised every path: set-based days, replays (credit on a due date), postings that day,
    # installments falling due unpaid and becoming overdue, penalty interest
    assert all(totals[key] > 0 for key in totals), totals
    assert totals["advanced"] > 10 * totals["replayed"]
    statuses = set(Loan.objects.values_list("status", flat=True))
    assert {"active", "overdue"} <= statuses
