import datetime as dt
import random
from decimal import Decimal

import pytest

from postloan.customers import services as customer_services
from postloan.customers.identifiers import make_resident_id, make_uscc
from postloan.customers.models import Industry
from postloan.kernel.models import BusinessDate
from postloan.ledger import services


def set_business_date(day: dt.date) -> None:
    BusinessDate.objects.update_or_create(pk=1, defaults={"date": day})


@pytest.fixture
def business_date(db):
    set_business_date(dt.date(2026, 6, 30))
    return set_business_date


@pytest.fixture
def product(db):
    return services.create_product(
        actor=None, code="WC", name="流动资金贷款", segment="corporate", method="equal_installment",
        frequency="monthly", day_count="ACT/360", interest_basis="period", holiday_rule="none",
        penalty_markup=Decimal("0.5"), compound_markup=Decimal("0.5"), min_rate=Decimal("0.01"),
        max_rate=Decimal("0.15"), min_term_months=1, max_term_months=120)


@pytest.fixture
def make_customer(bank):
    rng = random.Random(7)
    counter = iter(range(1, 10_000))

    def make(branch="BJ", kind="corporate", officer=None, name=None):
        n = next(counter)
        return customer_services.create_customer(
            actor=None, customer_no=f"C{n:05d}", kind=kind, name=name or f"测试企业{n}有限公司",
            id_number=make_uscc(rng) if kind == "corporate" else make_resident_id(rng),
            branch=bank[branch], officer=officer,
            industry=Industry.objects.get(code="13") if kind == "corporate" else None)

    return make


@pytest.fixture
def make_loan(make_customer, product, business_date):
    counter = iter(range(1, 10_000))

    def make(principal="120000.00", rate="0.06", term=12, start=dt.date(2026, 1, 15), branch="BJ", disburse=True,
             method=None, customer=None, **kw):
        customer = customer or make_customer(branch)
        loan = services.book_loan(actor=None, loan_no=f"L{next(counter):06d}", customer=customer, product=product,
                                  principal=principal, annual_rate=Decimal(rate), term_months=term,
                                  start_date=start, method=method, **kw)
        if disburse:
            services.disburse(actor=None, loan=loan, value_date=start, reference=f"D-{loan.loan_no}")
            loan.refresh_from_db()
        return loan

    return make
