"""An accountant posts a repayment in the browser: loan list → loan page → form → preview → confirm."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from postloan.customers import services as customer_services
from postloan.customers.identifiers import make_uscc
from postloan.customers.models import Industry
from postloan.kernel.models import BusinessDate
from postloan.ledger import services
from postloan.ledger.models import Posting

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def loan(bank, make_user):
    import random

    BusinessDate.objects.update_or_create(pk=1, defaults={"date": dt.date(2026, 6, 30)})
    officer = make_user("credit_officer", "BJ", username="wangfang", full_name="王芳")
    customer = customer_services.create_customer(
        actor=None, customer_no="C00001", kind="corporate", name="北京华信机械制造有限公司",
        id_number=make_uscc(random.Random(3)), branch=bank["BJ"], officer=officer,
        industry=Industry.objects.get(code="34"))
    product = services.create_product(
        actor=None, code="WC", name="流动资金贷款", segment="corporate", method="equal_installment",
        frequency="monthly", day_count="ACT/360", interest_basis="period", holiday_rule="none",
        min_rate=Decimal("0.01"), max_rate=Decimal("0.15"))
    loan = services.book_loan(actor=None, loan_no="BJ2026000123", customer=customer, product=product,
                              principal="120000.00", annual_rate=Decimal("0.0435"), term_months=12,
                              start_date=dt.date(2026, 1, 15), purpose="购买原材料")
    services.disburse(actor=None, loan=loan, value_date=dt.date(2026, 1, 15), reference="D-0001")
    services.post_repayment(actor=None, loan=loan, amount="10240.00", value_date=dt.date(2026, 2, 15),
                            reference="R-0001")
    loan.refresh_from_db()
    return loan


def test_accountant_posts_a_repayment_through_the_preview(page, make_user, loan, screenshot):
    make_user("accountant", "BJ", username="zhaomin", full_name="赵敏")

    page.goto("/login/")
    page.get_by_label("用户名").fill("zhaomin")
    page.get_by_label("密码").fill("Correct-horse-42")
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("赵敏")

    # the loan list, filtered to overdue loans
    page.goto("/loans/?overdue=yes")
    row = page.locator(f'tr[data-loan="{loan.loan_no}"]')
    expect(row).to_be_visible()
    screenshot(page, "loan-list")
    row.get_by_role("link", name=loan.loan_no).click()

    expect(page).to_have_url(re.compile(rf"/loans/{loan.loan_no}/$"))
    expect(page.get_by_test_id("terms")).to_be_visible()
    expect(page.locator('[data-installment="1"]')).to_have_attribute("data-status", "paid")
    expect(page.locator('[data-installment="2"]')).to_have_attribute("data-status", "overdue")
    # the payoff quote for another date comes back as a fragment (htmx)
    page.locator("#payoff-date").fill("2026-06-20")
    page.locator("#payoff-date").dispatch_event("change")
    expect(page.get_by_test_id("payoff-quote")).to_contain_text("2026-06-20")
    screenshot(page, "loan-page-before")

    page.locator('[data-action="loan-repay"]').click()
    page.locator('input[name="amount"]').fill("8,530.99")
    page.locator('input[name="reference"]').fill("R-0002")
    page.get_by_test_id("preview").click()

    # the preview: the effect, nothing posted yet
    expect(page.get_by_test_id("effect")).to_be_visible()
    expect(page.get_by_test_id("preview-schedule")).to_be_visible()
    assert not Posting.objects.filter(reference="R-0002").exists()
    screenshot(page, "repayment-preview")
    page.get_by_test_id("confirm").click()

    expect(page).to_have_url(re.compile(rf"/loans/{loan.loan_no}/$"))
    expect(page.locator(".alert-success")).to_be_visible()
    posting = page.locator('tr[data-posting="R-0002"]')
    expect(posting).to_be_visible()
    expect(posting).to_contain_text("8,530.99")
    assert Posting.objects.filter(loan=loan, reference="R-0002", amount_fen=853099).exists()
    screenshot(page, "loan-page")
