import datetime as dt
import random
from decimal import Decimal

import pytest

from postloan.customers import services as customer_services
from postloan.customers.identifiers import make_uscc
from postloan.customers.models import Industry
from postloan.kernel.models import BusinessDate
from postloan.ledger import services

START = dt.date(2026, 1, 5)


@pytest.fixture
def portfolio(bank):
    """A varied portfolio: every method and day count, grace days, overdue loans, partial payers,
    overpayers, prepayments and back-valued postings; business date 2026-01-05."""
    BusinessDate.objects.update_or_create(pk=1, defaults={"date": START})
    rng = random.Random(42)
    products = []
    for i, (method, day_count, basis, grace, rule) in enumerate([
        ("equal_installment", "ACT/360", "period", 0, "none"),
        ("equal_principal", "ACT/365F", "daily", 3, "following"),
        ("interest_only", "30/360", "period", 0, "following"),
        ("bullet", "ACT/ACT", "daily", 0, "none"),
        ("equal_installment", "30E/360", "daily", 5, "modified_following"),
    ]):
        products.append(services.create_product(
            actor=None, code=f"P{i}", name=f"产品{i}", segment="corporate", method=method, frequency="monthly",
            day_count=day_count, interest_basis=basis, holiday_rule=rule, grace_days=grace,
            min_rate=Decimal("0.01"), max_rate=Decimal("0.2"), max_term_months=120))
    industry = Industry.objects.get(code="13")
    loans = []
    for n in range(40):
        customer = customer_services.create_customer(
            actor=None, customer_no=f"C{n}", kind="corporate", name=f"企业{n}", id_number=make_uscc(rng),
            branch=bank["BJ" if n % 2 else "SH"], industry=industry)
        product = products[n % len(products)]
        start = dt.date(2025, 1, 1) + dt.timedelta(days=rng.randrange(0, 360))
        term = rng.choice([6, 12, 24, 36]) if product.method != "bullet" else rng.choice([3, 6, 12])
        loan = services.book_loan(actor=None, loan_no=f"L{n:03d}", customer=customer, product=product,
                                  principal=Decimal(rng.randrange(10_000, 2_000_000)), term_months=term,
                                  annual_rate=Decimal(rng.choice(["0.0345", "0.0435", "0.0600", "0.0875"])),
                                  start_date=start)
        services.disburse(actor=None, loan=loan, value_date=start, reference=f"D{n}")
        loan.refresh_from_db()
        behaviour = n % 4  # 0 pays on time, 1 pays late, 2 stops paying, 3 partial payer / overpayer
        for row in loan.installments.exclude(status="superseded").order_by("due_date"):
            if row.due_date >= START:
                break
            amount = Decimal(row.principal_fen + row.interest_fen) / 100
            if behaviour == 0:
                day = row.due_date
            elif behaviour == 1:
                day = row.due_date + dt.timedelta(days=rng.randrange(1, 40))
            elif behaviour == 2:
                if row.due_date > dt.date(2025, 8, 1):
                    break
                day = row.due_date
            else:
                day = row.due_date
                amount = (amount * Decimal(rng.choice(["0.5", "1.3"]))).quantize(Decimal("0.01"))
            if day >= START:
                continue
            try:
                services.post_repayment(actor=None, loan=loan, amount=amount, value_date=day,
                                        reference=f"R{row.pk}")
            except Exception:
                pass
        loans.append(loan)
    return loans
