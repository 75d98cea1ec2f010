"""The demo bank in the browser: the tour of docs/demo-tour.md, checked against the database.

A small demo bank is built by the ``demo`` management command, as ``postloan demo`` does (40 customers,
120 days of history replayed through the ledger and the close of business). Then a credit officer finds their
own loans and their overdue ones on their home page, and nothing of another branch; their most overdue loan's
page shows its arrears and schedule; a head-office user sees every branch. The screenshots the tour refers to
are saved in test-artifacts/ (demo-home.png, demo-loan.png, demo-home-head-office.png).

The live server needs a transactional database, which pytest-django flushes after every test, so the bank is
built for the one test below (a few seconds) rather than shared between tests.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zoneinfo

import pytest
import time_machine
from django.core.management import call_command
from django.utils import translation
from django.utils.translation import gettext
from playwright.sync_api import expect

from postloan.cob.models import LoanSnapshot
from postloan.demo.builder import DEMO_PASSWORD
from postloan.kernel.money import format_amount
from postloan.ledger.models import Installment, Loan
from postloan.ledger.navigation import QUEUE_LIMIT
from postloan.org.models import Branch, User

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# The build replays history up to "today": pin it, so the bank (and so the screenshots) are the same on every
# run, and inside the years the business calendar covers.
DEMO_TODAY = dt.datetime(2026, 11, 27, 9, 0, tzinfo=zoneinfo.ZoneInfo("Asia/Shanghai"))
OPEN = (Loan.Status.ACTIVE, Loan.Status.OVERDUE)
HEAD_OFFICE_USER = "risk"  # the head office's credit department head


@pytest.fixture
def demo_bank(live_server):
    out = io.StringIO()
    with time_machine.travel(DEMO_TODAY, tick=True):
        call_command("demo", "--no-serve", "--customers", "40", "--history-days", "120", stdout=out)
    printed = out.getvalue()  # the users to log in as, and the password
    assert DEMO_PASSWORD in printed and f" {HEAD_OFFICE_USER} " in printed
    return printed


def zh(message: str) -> str:
    with translation.override("zh-hans"):
        return gettext(message)


def log_in(page, username: str) -> User:
    user = User.objects.get(username=username)
    page.context.clear_cookies()
    page.goto("/login/")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(user.display_name)
    return user


def officer_with_most_overdue_loans() -> User:
    """The demo credit officer with the most overdue loans (the first by username on a tie)."""
    overdue = Loan.objects.filter(status__in=OPEN, days_past_due__gt=0)
    officers = User.objects.filter(pk__in=overdue.values("officer"))
    assert officers, "the demo bank has no overdue loan"
    return min(officers, key=lambda u: (-overdue.filter(officer=u).count(), u.username))


def officer_with_colleagues() -> User:
    """The first demo credit officer (by username) with open loans, whose branch also holds open loans of
    other officers: their own loans and their branch's differ."""
    for officer in User.objects.filter(groups__name="credit_officer").select_related("branch").order_by("username"):
        branch = Loan.objects.filter(branch__path__startswith=officer.branch.path, status__in=OPEN)
        if branch.filter(officer=officer).exists() and branch.exclude(officer=officer).exists():
            return officer
    raise AssertionError("no demo officer shares a branch with another officer's loans")


def expect_my_loans(page, officer: User) -> None:
    """The officer's home counts their own open and overdue loans; "All my loans" lists their loans only."""
    mine = Loan.objects.filter(officer=officer)
    figures = page.get_by_test_id("my-loans")
    expect(figures.locator('[data-figure="open"]')).to_have_text(str(mine.filter(status__in=OPEN).count()))
    expect(figures.locator('[data-figure="overdue"]')).to_have_text(
        str(mine.filter(status__in=OPEN, days_past_due__gt=0).count()))
    assert mine.count() <= 50, "the officer's loans fill more than the list's first page"
    page.get_by_test_id("my-loans-list").click()
    expect(page).to_have_url(re.compile(rf"/loans/\?officer={officer.pk}$"))
    expect(page.locator("tr[data-loan]")).to_have_count(mine.count())
    for loan_no in mine.values_list("loan_no", flat=True):
        expect(page.locator(f'tr[data-loan="{loan_no}"]')).to_be_visible()
    page.goto("/")


def test_demo_tour(page, demo_bank, screenshot):
    # -- a credit officer's home: their own loans in figures, their overdue loans in the work queue
    officer = officer_with_most_overdue_loans()
    mine_overdue = list(Loan.objects.filter(officer=officer, status__in=OPEN, days_past_due__gt=0)
                        .select_related("customer").order_by("-days_past_due", "loan_no"))
    elsewhere = (Loan.objects.exclude(branch__path__startswith=officer.branch.path).select_related("branch")
                 .order_by("-days_past_due", "loan_no").first())  # another branch's
    assert elsewhere is not None

    log_in(page, officer.username)
    queue = page.locator('[data-queue="ledger.overdue"]')
    items = queue.locator("li")
    listed = mine_overdue[:QUEUE_LIMIT]  # then a link to all of them
    expect(items).to_have_count(len(listed) + (len(mine_overdue) > len(listed)))
    for loan, item in zip(listed, items.all(), strict=False):  # the longest overdue first
        overdue = (loan.overdue_principal_fen + loan.overdue_interest_fen + loan.penalty_due_fen
                   + loan.compound_due_fen)
        expect(item).to_contain_text(f"{loan.loan_no} · {loan.customer.name}")
        expect(item).to_contain_text(zh("%(days)s days past due (%(bucket)s), %(amount)s overdue") % {
            "days": loan.days_past_due, "bucket": loan.bucket, "amount": format_amount(overdue)})
    expect(page.locator("main")).not_to_contain_text(elsewhere.loan_no)
    screenshot(page, "demo-home")
    expect_my_loans(page, officer)
    # another branch's loan does not exist for them, not even by its address
    assert page.goto(f"/loans/{elsewhere.loan_no}/").status == 404
    page.goto(f"/loans/?q={elsewhere.loan_no}")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    expect(page.locator("tr[data-loan]")).to_have_count(0)

    # -- the officer's most overdue loan, opened from the work queue
    loan = mine_overdue[0]
    page.goto("/")
    queue.get_by_role("link", name=re.compile(loan.loan_no)).click()
    expect(page).to_have_url(re.compile(rf"/loans/{loan.loan_no}/$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(loan.loan_no)
    expect(page.get_by_role("link", name=loan.customer.name)).to_be_visible()
    balances = page.get_by_test_id("balances")
    expect(balances.locator("tr", has=page.get_by_role("rowheader", name=zh("Days past due"), exact=True))
           ).to_contain_text(str(loan.days_past_due))
    expect(balances.locator("tr", has=page.get_by_role("rowheader", name=zh("Bucket"), exact=True))
           ).to_contain_text(loan.bucket)
    installments = Installment.objects.filter(loan=loan).exclude(status=Installment.Status.SUPERSEDED)
    schedule = page.get_by_test_id("schedule")
    expect(schedule.locator("tr[data-installment]")).to_have_count(installments.count())
    overdue_rows = installments.filter(status=Installment.Status.OVERDUE)
    assert overdue_rows.exists()
    expect(schedule.locator('tr[data-status="overdue"]')).to_have_count(overdue_rows.count())
    for number in overdue_rows.values_list("number", flat=True):
        expect(schedule.locator(f'tr[data-installment="{number}"]')).to_have_attribute("data-status", "overdue")
    expect(page.get_by_test_id("postings").locator('tr[data-kind="disbursement"]')).to_have_count(1)
    screenshot(page, "demo-loan")

    # -- an officer with colleagues: their own loans, not their branch's; a colleague's loan is in the branch's list
    colleague = officer_with_colleagues()
    theirs = (Loan.objects.filter(branch__path__startswith=colleague.branch.path, status__in=OPEN)
              .exclude(officer=colleague).order_by("loan_no").first())
    log_in(page, colleague.username)
    expect(page.locator("main")).not_to_contain_text(theirs.loan_no)
    expect_my_loans(page, colleague)
    page.goto(f"/loans/?q={theirs.loan_no}")
    expect(page.locator(f'tr[data-loan="{theirs.loan_no}"]')).to_be_visible()

    # -- a head-office user: every branch, as of the last close of business
    log_in(page, HEAD_OFFICE_USER)
    branches = list(Branch.objects.filter(level=Branch.Level.BRANCH).order_by("path"))
    assert len(branches) >= 2
    closed = LoanSnapshot.objects.latest("date").date
    portfolio = page.get_by_test_id("branch-portfolio")
    expect(portfolio).to_contain_text(closed.isoformat())
    expect(portfolio.locator("tbody tr")).to_have_count(len(branches))
    for branch in branches:
        loans = LoanSnapshot.objects.filter(date=closed, branch__path__startswith=branch.path).count()
        row = portfolio.locator(f'tr[data-branch="{branch.code}"]')
        expect(row).to_contain_text(branch.name)
        expect(row.locator('[data-figure="loans"]')).to_have_text(str(loans))
    expect(portfolio.locator('tr[data-branch="total"] [data-figure="loans"]')).to_have_text(
        str(LoanSnapshot.objects.filter(date=closed).count()))
    screenshot(page, "demo-home-head-office")

    # the loan list: loans of several branches, the one the officer could not see among them
    page.goto("/loans/")
    shown = page.locator("tr[data-loan]")
    expect(shown).to_have_count(min(Loan.objects.count(), 50))
    rows = shown.all_inner_texts()
    branches_shown = {b.code for b in Branch.objects.exclude(level=Branch.Level.HEAD_OFFICE)
                      if any(b.name in row for row in rows)}
    assert len(branches_shown) >= 2, branches_shown
    page.goto(f"/loans/?q={elsewhere.loan_no}")
    expect(page.locator(f'tr[data-loan="{elsewhere.loan_no}"]')).to_contain_text(elsewhere.branch.name)
