"""The loan ledger's web UI: lists and scoping, the loan page, preview → confirm for every action, bad
input, permissions, the statement PDF and the home work queues."""

import datetime as dt
import os
import re

import pytest
from django.test import Client
from django.urls import reverse

from postloan.ledger import services
from postloan.ledger.models import Installment, Loan, Posting, ReversalRequest, ScheduleVersion
from postloan.ledger.state import check
from postloan.ledger.views import preview_basis

TODAY = dt.date(2026, 6, 30)  # the business date of tests/ledger/conftest.py


@pytest.fixture
def login(make_user):
    def do(role: str, branch: str = "BJ", username: str | None = None, **kw) -> Client:
        client = Client()
        user = make_user(role, branch, username, **kw)
        client.force_login(user)
        client.user = user
        return client

    return do


@pytest.fixture
def overdue_loan(make_loan):
    """Started 2026-01-15, nothing repaid: five installments overdue on 2026-06-30."""
    return make_loan(principal="120000.00", rate="0.06", term=12, start=dt.date(2026, 1, 15))


@pytest.fixture
def current_loan(make_loan):
    """Started 2026-06-01: first installment due 2026-07-01, nothing due yet."""
    return make_loan(principal="120000.00", rate="0.06", term=12, start=dt.date(2026, 6, 1))


def snapshot(loan: Loan) -> dict:
    """Everything an action could change on the loan."""
    fresh = Loan.objects.get(pk=loan.pk)
    return {
        "postings": list(Posting.objects.filter(loan=loan).values_list("id", flat=True)),
        "versions": ScheduleVersion.objects.filter(loan=loan).count(),
        "requests": list(ReversalRequest.objects.filter(posting__loan=loan).values_list("id", "status")),
        "loan": {f.attname: getattr(fresh, f.attname) for f in Loan._meta.concrete_fields},
        "rows": list(Installment.objects.filter(loan=loan).order_by("seq").values_list(
            "seq", "status", "paid_principal_fen", "paid_interest_fen", "paid_penalty_fen")),
    }


def body(response) -> str:
    return response.content.decode()


# ---------------------------------------------------------------------------
# lists and scoping


def test_loan_list_filters(login, make_loan, make_customer, product, bank):
    overdue = make_loan(start=dt.date(2026, 1, 15))
    current = make_loan(start=dt.date(2026, 6, 1))
    sub_branch = make_loan(start=dt.date(2026, 6, 1), branch="BJ01")
    shanghai = make_loan(start=dt.date(2026, 6, 1), branch="SH")
    client = login("credit_head", "HO")
    url = reverse("loan-list")

    def listed(**params):
        return set(re.findall(r'data-loan="([^"]+)"', body(client.get(url, params))))

    assert listed() == {overdue.loan_no, current.loan_no, sub_branch.loan_no, shanghai.loan_no}
    assert listed(overdue="yes") == {overdue.loan_no}
    assert listed(overdue="no") == {current.loan_no, sub_branch.loan_no, shanghai.loan_no}
    assert listed(status="overdue") == {overdue.loan_no}
    assert listed(bucket=overdue.bucket) == {overdue.loan_no}
    assert listed(branch=bank["SH"].pk) == {shanghai.loan_no}
    assert listed(branch=bank["BJ"].pk) == {overdue.loan_no, current.loan_no, sub_branch.loan_no}
    assert listed(product=product.pk, q=current.loan_no) == {current.loan_no}
    assert listed(q=overdue.customer.name) == {overdue.loan_no}
    # sortable, amounts right-aligned
    page = body(client.get(url, {"sort": "-days_past_due"}))
    assert page.index(overdue.loan_no) < page.index(current.loan_no)
    assert 'class="num"' in page


def test_loan_list_filters_by_officer(login, make_user, make_customer, make_loan):
    wang = make_user("credit_officer", "BJ", username="wang")
    li = make_user("credit_officer", "BJ", username="li")
    mine = make_loan(customer=make_customer("BJ", officer=wang))
    theirs = make_loan(customer=make_customer("BJ", officer=li))
    client = login("credit_head", "BJ")
    page = body(client.get(reverse("loan-list"), {"officer": wang.pk}))
    assert mine.loan_no in page and theirs.loan_no not in page


def test_other_branch_loan_is_absent_from_list_and_404(login, make_loan):
    beijing = make_loan(branch="BJ")
    shanghai = make_loan(branch="SH")
    client = login("accountant", "SH")
    page = body(client.get(reverse("loan-list")))
    assert shanghai.loan_no in page and beijing.loan_no not in page
    for name in ("loan-detail", "loan-repay", "loan-prepay", "loan-payoff", "loan-statement"):
        assert client.get(reverse(name, args=[beijing.loan_no])).status_code == 404, name
    before = snapshot(beijing)
    response = client.post(reverse("loan-repay", args=[beijing.loan_no]),
                           {"amount": "100.00", "value_date": "2026-06-30", "reference": "X1", "confirm": "1",
                            "basis": preview_basis(beijing)})
    assert response.status_code == 404
    assert snapshot(beijing) == before


def test_list_needs_login(db):
    response = Client().get(reverse("loan-list"))
    assert response.status_code == 302 and reverse("login") in response.url


# ---------------------------------------------------------------------------
# the loan page


def test_loan_page_shows_terms_balances_schedule_and_postings(login, overdue_loan):
    page = body(login("credit_officer").get(reverse("loan-detail", args=[overdue_loan.loan_no])))
    assert overdue_loan.customer.name in page
    assert "120,000.00" in page  # contract amount
    assert "6.00%" in page
    # schedule: 12 rows, five overdue on 2026-06-30, the rest not yet due
    states = re.findall(r'<tr data-installment="\d+" data-status="(\w+)"', page)
    assert states.count("overdue") == 5 and states.count("future") == 7
    assert 'data-status="overdue"' in page and "text-bg-danger" in page
    assert f'data-posting="D-{overdue_loan.loan_no}"' in page
    assert reverse("loan-schedule-version", args=[overdue_loan.loan_no, 1]) in page
    assert reverse("loan-statement", args=[overdue_loan.loan_no]) in page


def test_action_buttons_follow_permissions(login, overdue_loan):
    url = reverse("loan-detail", args=[overdue_loan.loan_no])
    accountant = body(login("accountant").get(url))
    for action in ("loan-repay", "loan-prepay", "loan-charge-fee", "request-reversal"):
        assert f'data-action="{action}"' in accountant
    for action in ("loan-extend", "loan-restructure", "loan-reprice", "loan-waive"):
        assert f'data-action="{action}"' not in accountant
    head = body(login("credit_head").get(url))
    for action in ("loan-extend", "loan-restructure", "loan-reprice", "loan-waive"):
        assert f'data-action="{action}"' in head
    assert 'data-action="loan-repay"' not in head
    auditor = body(login("auditor", "HO").get(url))
    assert 'data-action="' not in auditor


def test_post_refused_without_permission_and_nothing_changes(login, overdue_loan):
    officer = login("credit_officer")
    before = snapshot(overdue_loan)
    url = reverse("loan-repay", args=[overdue_loan.loan_no])
    assert officer.get(url).status_code == 403
    data = {"amount": "100.00", "value_date": "2026-06-30", "reference": "R1"}
    assert officer.post(url, data).status_code == 403
    assert officer.post(url, data | {"confirm": "1", "basis": preview_basis(overdue_loan)}).status_code == 403
    for name in ("loan-extend", "loan-restructure", "loan-reprice", "loan-waive", "loan-disburse"):
        assert officer.post(reverse(name, args=[overdue_loan.loan_no]), {}).status_code == 403, name
    assert snapshot(overdue_loan) == before


def test_payoff_quote_partial_and_page(login, overdue_loan):
    client = login("accountant")
    url = reverse("loan-payoff", args=[overdue_loan.loan_no])
    partial = client.get(url, {"date": "2026-06-30"}, HTTP_HX_REQUEST="true")
    assert partial.status_code == 200
    assert "<html" not in body(partial)
    quote = services.payoff_quote(overdue_loan, TODAY)
    assert f'data-testid="payoff-total">{quote.total // 100:,}.{quote.total % 100:02d}' in body(partial)
    bad = client.get(url, {"date": "not-a-date"})
    assert bad.status_code == 400 and "alert-danger" in body(bad)
    early = client.get(url, {"date": "2025-01-01"}, HTTP_HX_REQUEST="true")
    assert "alert-danger" in body(early)


def test_schedule_versions_are_viewable(login, current_loan):
    services.prepay(actor=None, loan=current_loan, value_date=dt.date(2026, 6, 20), reference="P1",
                    mode="lower_installment", amount="20000.00")
    client = login("credit_officer")
    page = body(client.get(reverse("loan-detail", args=[current_loan.loan_no])))
    assert reverse("loan-schedule-version", args=[current_loan.loan_no, 2]) in page
    v1 = body(client.get(reverse("loan-schedule-version", args=[current_loan.loan_no, 1])))
    assert 'data-status="superseded"' in v1
    v2 = client.get(reverse("loan-schedule-version", args=[current_loan.loan_no, 2]))
    assert v2.status_code == 200 and 'data-status="superseded"' not in body(v2)
    assert client.get(reverse("loan-schedule-version", args=[current_loan.loan_no, 9])).status_code == 404


# ---------------------------------------------------------------------------
# preview -> confirm


def test_repayment_preview_changes_nothing_until_confirmed(login, overdue_loan):
    client = login("accountant")
    url = reverse("loan-repay", args=[overdue_loan.loan_no])
    form = client.get(url)
    assert form.status_code == 200 and 'name="amount"' in body(form) and 'value="2026-06-30"' in body(form)
    data = {"amount": "12,000.00", "value_date": "2026-06-30", "reference": "R-100"}
    before = snapshot(overdue_loan)
    preview = client.post(url, data)
    assert preview.status_code == 200
    page = body(preview)
    assert 'data-testid="effect"' in page and 'data-testid="confirm"' in page
    assert 'data-testid="preview-schedule"' in page
    after = preview.context["after"]
    assert after.total_due_fen < overdue_loan.total_due_fen  # the effect is shown...
    assert snapshot(overdue_loan) == before  # ...and nothing changed
    assert 'name="basis"' in page

    done = client.post(url, data | {"confirm": "1", "basis": preview_basis(overdue_loan)})
    assert done.status_code == 302 and done.url == reverse("loan-detail", args=[overdue_loan.loan_no])
    posting = Posting.objects.get(loan=overdue_loan, reference="R-100")
    assert posting.kind == Posting.Kind.REPAYMENT and posting.amount_fen == 1_200_000
    assert posting.actor == client.user
    overdue_loan.refresh_from_db()
    assert overdue_loan.total_due_fen == after.total_due_fen
    assert check(overdue_loan) == []
    page = body(client.get(done.url))
    assert 'data-posting="R-100"' in page and "alert-success" in page


def test_confirm_on_a_changed_loan_shows_the_preview_again(login, overdue_loan):
    client = login("accountant")
    url = reverse("loan-repay", args=[overdue_loan.loan_no])
    data = {"amount": "100.00", "value_date": "2026-06-30", "reference": "R-1"}
    stale_basis = preview_basis(overdue_loan)
    services.post_repayment(actor=None, loan=overdue_loan, amount="50.00", value_date=TODAY, reference="other")
    response = client.post(url, data | {"confirm": "1", "basis": stale_basis})
    assert response.status_code == 200 and 'data-testid="stale"' in body(response)
    assert not Posting.objects.filter(reference="R-1").exists()
    # pressing confirm twice posts once
    fresh = preview_basis(overdue_loan)
    assert client.post(url, data | {"confirm": "1", "basis": fresh}).status_code == 302
    again = client.post(url, data | {"confirm": "1", "basis": fresh})
    assert again.status_code == 200
    assert Posting.objects.filter(reference="R-1").count() == 1


@pytest.mark.parametrize("data,field", [
    ({"amount": "abc"}, "amount"),
    ({"amount": "1.234"}, "amount"),
    ({"amount": "-5"}, "amount"),
    ({"value_date": "2026-07-01"}, "value_date"),  # after the business date: the service refuses it
    ({"value_date": "2025-12-31"}, "value_date"),  # before the disbursement
    ({"reference": ""}, "reference"),
    ({"reference": "D-{loan_no}"}, "reference"),  # already used on this loan
])
def test_repayment_bad_input_shows_the_field_error_and_changes_nothing(login, overdue_loan, data, field):
    client = login("accountant")
    url = reverse("loan-repay", args=[overdue_loan.loan_no])
    good = {"amount": "100.00", "value_date": "2026-06-30", "reference": "R-9"}
    data = {k: v.format(loan_no=overdue_loan.loan_no) for k, v in data.items()}
    before = snapshot(overdue_loan)
    for extra in ({}, {"confirm": "1", "basis": preview_basis(overdue_loan)}):
        response = client.post(url, good | data | extra)
        assert response.status_code == 200
        form = response.context["form"]
        assert field in form.errors, form.errors
        assert "invalid-feedback" in body(response) and "is-invalid" in body(response)
        assert 'data-testid="confirm"' not in body(response)
    assert snapshot(overdue_loan) == before


def test_closed_loan_error_is_shown_above_the_form(login, make_loan):
    pending = make_loan(disburse=False)
    client = login("accountant")
    response = client.post(reverse("loan-repay", args=[pending.loan_no]),
                           {"amount": "100.00", "value_date": "2026-06-30", "reference": "R-1"})
    assert response.status_code == 200
    assert response.context["form"].non_field_errors()
    assert "alert-danger" in body(response)


ACTIONS = [
    # (url name, role, form data, what the confirmation must have done)
    ("loan-prepay", "accountant",
     {"mode": "lower_installment", "amount": "20000.00", "value_date": "2026-06-20", "reference": "P-1"},
     lambda loan: Posting.objects.filter(loan=loan, kind="prepayment", reference="P-1").exists()
     and ScheduleVersion.objects.filter(loan=loan, reason="prepayment").exists()),
    ("loan-prepay", "accountant",
     {"mode": "full", "amount": "", "value_date": "2026-06-30", "reference": "P-2"},
     lambda loan: Loan.objects.get(pk=loan.pk).status == Loan.Status.SETTLED),
    ("loan-charge-fee", "accountant",
     {"amount": "300.00", "value_date": "2026-06-30", "reference": "F-1", "reason": "appraisal"},
     lambda loan: Loan.objects.get(pk=loan.pk).fee_due_fen == 30000),
    ("loan-extend", "credit_head",
     {"months": "6", "value_date": "2026-06-30", "guarantor_consent": "on", "reason": "seasonal cash flow"},
     lambda loan: Loan.objects.get(pk=loan.pk).extension_months == 6),
    ("loan-restructure", "credit_head",
     {"term_months": "24", "value_date": "2026-06-30", "annual_rate_pct": "5.5", "method": "equal_principal",
      "reason": "hardship"},
     lambda loan: Loan.objects.get(pk=loan.pk).restructured),
    ("loan-reprice", "credit_head",
     {"annual_rate_pct": "4.35", "value_date": "2026-06-30", "reason": "LPR change"},
     lambda loan: str(Loan.objects.get(pk=loan.pk).annual_rate) == "0.043500"),
]


@pytest.mark.parametrize("name,role,data,done", ACTIONS, ids=[f"{a[0]}-{i}" for i, a in enumerate(ACTIONS)])
def test_each_action_previews_then_posts_on_confirm(login, current_loan, name, role, data, done):
    client = login(role)
    url = reverse(name, args=[current_loan.loan_no])
    assert client.get(url).status_code == 200
    before = snapshot(current_loan)
    preview = client.post(url, data)
    assert preview.status_code == 200, preview.context.get("form") and preview.context["form"].errors
    assert 'data-testid="confirm"' in body(preview), preview.context["form"].errors
    assert 'data-testid="effect"' in body(preview)
    assert snapshot(current_loan) == before
    assert not done(current_loan)
    response = client.post(url, data | {"confirm": "1", "basis": preview_basis(current_loan)})
    assert response.status_code == 302, response.context["form"].errors
    assert done(current_loan)
    current_loan.refresh_from_db()
    assert check(current_loan) == []


def test_waiving_penalty_previews_then_posts(login, overdue_loan):
    client = login("credit_head")
    url = reverse("loan-waive", args=[overdue_loan.loan_no])
    data = {"component": "penalty", "amount": "10.00", "value_date": "2026-06-30", "reference": "W-1",
            "reason": "goodwill"}
    before = snapshot(overdue_loan)
    preview = client.post(url, data)
    assert 'data-testid="confirm"' in body(preview), preview.context["form"].errors
    assert snapshot(overdue_loan) == before
    assert client.post(url, data | {"confirm": "1", "basis": preview_basis(overdue_loan)}).status_code == 302
    assert Posting.objects.filter(loan=overdue_loan, kind="penalty_waiver", amount_fen=1000).exists()


def test_disbursement_previews_then_posts(login, make_loan):
    loan = make_loan(disburse=False, start=dt.date(2026, 6, 1))
    client = login("accountant")
    page = body(client.get(reverse("loan-detail", args=[loan.loan_no])))
    assert 'data-action="loan-disburse"' in page and 'data-action="loan-repay"' not in page
    url = reverse("loan-disburse", args=[loan.loan_no])
    data = {"amount": "", "value_date": "2026-06-01", "reference": "D-1"}
    preview = client.post(url, data)
    assert 'data-testid="confirm"' in body(preview), preview.context["form"].errors
    assert preview.context["after"].principal_outstanding_fen == loan.principal_fen
    assert len(preview.context["schedule"]) == 12 and all(r["new"] for r in preview.context["schedule"])
    assert not Posting.objects.filter(loan=loan).exists()
    assert client.post(url, data | {"confirm": "1", "basis": preview_basis(loan)}).status_code == 302
    loan.refresh_from_db()
    assert loan.disbursed_fen == loan.principal_fen and loan.status == Loan.Status.ACTIVE


@pytest.mark.parametrize("name,role,data,field", [
    ("loan-prepay", "accountant", {"mode": "lower_installment", "amount": "", "value_date": "2026-06-20",
                                   "reference": "P"}, "amount"),
    ("loan-prepay", "accountant", {"mode": "lower_installment", "amount": "1.00", "value_date": "2026-06-20",
                                   "reference": "P"}, "amount"),
    ("loan-prepay", "accountant", {"mode": "sideways", "amount": "1.00", "value_date": "2026-06-20",
                                   "reference": "P"}, "mode"),
    ("loan-extend", "credit_head", {"months": "0", "value_date": "2026-06-30", "reason": "x"}, "months"),
    ("loan-extend", "credit_head", {"months": "60", "value_date": "2026-06-30", "reason": "x"}, "months"),
    ("loan-extend", "credit_head", {"months": "6", "value_date": "2026-06-30", "reason": ""}, "reason"),
    ("loan-restructure", "credit_head", {"term_months": "24", "value_date": "2026-06-30",
                                         "annual_rate_pct": "99", "reason": "x"}, "annual_rate_pct"),
    ("loan-reprice", "credit_head", {"annual_rate_pct": "50", "value_date": "2026-06-30", "reason": "x"},
     "annual_rate_pct"),
    ("loan-charge-fee", "accountant", {"amount": "10.00", "value_date": "2026-06-30", "reference": "F",
                                       "reason": ""}, "reason"),
])
def test_action_bad_input_shows_field_error_and_changes_nothing(login, current_loan, name, role, data, field):
    client = login(role)
    before = snapshot(current_loan)
    response = client.post(reverse(name, args=[current_loan.loan_no]), data)
    assert response.status_code == 200
    assert field in response.context["form"].errors, response.context["form"].errors
    assert 'data-testid="confirm"' not in body(response)
    assert snapshot(current_loan) == before


# ---------------------------------------------------------------------------
# reversal: maker and checker


def test_reversal_needs_a_second_person(login, make_user, overdue_loan):
    services.post_repayment(actor=None, loan=overdue_loan, amount="5000.00", value_date=TODAY, reference="R-W")
    overdue_loan.refresh_from_db()
    wrong = Posting.objects.get(loan=overdue_loan, reference="R-W")
    due_before = overdue_loan.total_due_fen
    maker = login("accountant", username="maker")
    url = reverse("loan-request-reversal", args=[overdue_loan.loan_no, wrong.pk])
    assert maker.get(url).status_code == 200
    # no reason: the field error
    response = maker.post(url, {"reason": ""})
    assert "reason" in response.context["form"].errors
    # preview, nothing requested yet
    preview = maker.post(url, {"reason": "posted twice"})
    assert 'data-testid="confirm"' in body(preview)
    assert not ReversalRequest.objects.exists()
    assert maker.post(url, {"reason": "posted twice", "confirm": "1",
                            "basis": preview_basis(overdue_loan)}).status_code == 302
    request = ReversalRequest.objects.get(posting=wrong)
    assert request.status == "pending" and request.requested_by == maker.user
    page = body(maker.get(reverse("loan-detail", args=[overdue_loan.loan_no])))
    assert 'data-testid="pending-reversals"' in page and 'data-status="reversal-pending"' in page

    # the maker cannot approve their own request: the service's message is shown, nothing changes
    approve = reverse("reversal-approve", args=[request.pk])
    own = maker.get(approve)
    assert own.status_code == 200 and 'data-testid="error"' in body(own)
    assert 'data-testid="confirm"' not in body(own)
    before = snapshot(overdue_loan)
    refused = maker.post(approve, {"basis": preview_basis(overdue_loan)})
    assert refused.status_code == 200 and "second person" in body(refused)
    assert snapshot(overdue_loan) == before

    # the checker sees the effect, then approves
    checker = login("accountant", username="checker")
    queue = body(checker.get("/"))
    assert approve in queue
    shown = checker.get(approve)
    assert 'data-testid="effect"' in body(shown) and 'data-testid="confirm"' in body(shown)
    effect = {str(row["label"]): row for row in shown.context["comparison"]}
    expected_due = effect["Total due now"]["after"]
    assert expected_due >= due_before + 500000  # what it paid is due again (and its penalty since)
    assert snapshot(overdue_loan) == before
    done = checker.post(approve, {"basis": preview_basis(overdue_loan)})
    assert done.status_code == 302
    reversal = Posting.objects.get(loan=overdue_loan, kind="reversal")
    assert reversal.reverses == wrong and reversal.approver == checker.user
    overdue_loan.refresh_from_db()
    assert overdue_loan.total_due_fen == expected_due
    request.refresh_from_db()
    assert request.status == "approved"
    page = body(checker.get(reverse("loan-detail", args=[overdue_loan.loan_no])))
    assert 'data-status="reversed"' in page


def test_reversal_request_can_be_rejected(login, overdue_loan):
    posting = services.post_repayment(actor=None, loan=overdue_loan, amount="100.00", value_date=TODAY,
                                      reference="R-X")
    maker = login("accountant", username="maker")
    request = services.request_reversal(actor=maker.user, posting=posting, reason="typo")
    head = login("credit_head", username="head")
    listing = body(head.get(reverse("reversal-list")))
    assert f'data-request="{request.pk}"' in listing
    reject = reverse("reversal-reject", args=[request.pk])
    assert head.get(reject).status_code == 200
    assert head.post(reject, {"reason": "the posting is right"}).status_code == 302
    request.refresh_from_db()
    assert request.status == "rejected"
    assert f'data-request="{request.pk}"' not in body(head.get(reverse("reversal-list")))
    assert f'data-request="{request.pk}"' in body(head.get(reverse("reversal-list"), {"status": ""}))
    assert not Posting.objects.filter(kind="reversal").exists()


def test_reversal_requests_are_scoped_and_need_the_permission(login, overdue_loan):
    posting = services.post_repayment(actor=None, loan=overdue_loan, amount="100.00", value_date=TODAY,
                                      reference="R-Y")
    maker = login("accountant", username="maker")
    request = services.request_reversal(actor=maker.user, posting=posting, reason="typo")
    shanghai = login("accountant", "SH")
    assert f'data-request="{request.pk}"' not in body(shanghai.get(reverse("reversal-list")))
    assert shanghai.get(reverse("reversal-approve", args=[request.pk])).status_code == 404
    assert shanghai.post(reverse("reversal-approve", args=[request.pk]), {}).status_code == 404
    officer = login("credit_officer")
    assert officer.get(reverse("reversal-list")).status_code == 403
    assert officer.post(reverse("reversal-approve", args=[request.pk]), {}).status_code == 403
    assert officer.post(reverse("loan-request-reversal", args=[overdue_loan.loan_no, posting.pk]),
                        {"reason": "x"}).status_code == 403
    request.refresh_from_db()
    assert request.status == "pending"


# ---------------------------------------------------------------------------
# statement


def _cjk_font_installed() -> bool:
    import shutil
    import subprocess

    if not shutil.which("fc-list"):
        return False
    fonts = subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True).stdout
    return "WenQuanYi" in fonts


def test_statement_is_a_pdf(login, overdue_loan):
    if not _cjk_font_installed() and not os.environ.get("POSTLOAN_REQUIRE_BROWSER"):
        pytest.skip("no Chinese font on this machine (sudo apt-get install fonts-wqy-microhei); CI installs it")
    services.post_repayment(actor=None, loan=overdue_loan, amount="2000.00", value_date=dt.date(2026, 3, 1),
                            reference="R-S")
    client = login("credit_officer")
    response = client.get(reverse("loan-statement", args=[overdue_loan.loan_no]),
                          {"from": "2026-01-01", "to": "2026-06-30"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    pdf = response.content
    assert pdf.startswith(b"%PDF")
    assert len(pdf) > 10_000
    streams = pdf_streams(pdf)
    assert b"WenQuanYi" in streams  # the CJK font is embedded: Chinese prints, not boxes
    assert set(overdue_loan.customer.name) <= pdf_characters(streams)  # the borrower's name is in it


def pdf_streams(pdf: bytes) -> bytes:
    """The PDF's compressed streams, inflated (no PDF library on this machine)."""
    import zlib

    out = []
    for match in re.finditer(rb"stream\r?\n", pdf):
        end = pdf.find(b"endstream", match.end())
        try:
            out.append(zlib.decompress(pdf[match.end():end]))
        except zlib.error:
            continue
    return b"\n".join(out)


def pdf_characters(streams: bytes) -> set[str]:
    """The characters the PDF's fonts map glyphs to (ToUnicode maps): the text it shows."""
    chars = set()
    for block in re.findall(rb"beginbfchar(.*?)endbfchar", streams, re.S):
        for _glyph, code in re.findall(rb"<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>", block):
            chars.update(bytes.fromhex(code.decode()).decode("utf-16-be", errors="ignore"))
    for block in re.findall(rb"beginbfrange(.*?)endbfrange", streams, re.S):
        for lo, hi, start in re.findall(rb"<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>", block):
            first = int(start, 16)
            chars.update(chr(first + i) for i in range(int(hi, 16) - int(lo, 16) + 1))
    return chars


def test_statement_html_has_the_period_postings_and_balances(overdue_loan):
    from postloan.ledger import statement

    services.post_repayment(actor=None, loan=overdue_loan, amount="2000.00", value_date=dt.date(2026, 3, 1),
                            reference="R-S")
    html = statement.render_html(overdue_loan, dt.date(2026, 2, 1), dt.date(2026, 3, 31))
    assert "R-S" in html and f"D-{overdue_loan.loan_no}" not in html  # disbursed in January
    assert "WenQuanYi Micro Hei" in html
    ctx = statement.context(overdue_loan, dt.date(2026, 2, 1), dt.date(2026, 3, 31))
    opening = dict((str(label), start) for label, start, _end in ctx["balances"])
    assert opening["Principal outstanding"] == 12_000_000


@pytest.mark.parametrize("params", [
    {},
    {"from": "2026-01-01"},
    {"from": "yesterday", "to": "2026-06-30"},
    {"from": "2026-06-30", "to": "2026-01-01"},
    {"from": "2026-01-01", "to": "2026-07-31"},  # after the business date
])
def test_statement_bad_dates_are_400_with_a_message(login, overdue_loan, params):
    response = login("credit_officer").get(reverse("loan-statement", args=[overdue_loan.loan_no]), params)
    assert response.status_code == 400
    assert 'data-testid="error"' in body(response)


# ---------------------------------------------------------------------------
# work queues


def test_officer_work_queue_shows_own_overdue_and_due_soon_loans(login, make_user, make_customer, make_loan):
    officer = login("credit_officer", username="wang")
    other = make_user("credit_officer", "BJ", username="li")
    overdue = make_loan(customer=make_customer("BJ", officer=officer.user), start=dt.date(2026, 1, 15))
    due_soon = make_loan(customer=make_customer("BJ", officer=officer.user), start=dt.date(2026, 6, 3))
    later = make_loan(customer=make_customer("BJ", officer=officer.user), start=dt.date(2026, 6, 20))
    not_mine = make_loan(customer=make_customer("BJ", officer=other), start=dt.date(2026, 1, 15))
    page = body(officer.get("/"))
    queue = page[page.index('data-queue="ledger.overdue"'):page.index('data-queue="ledger.due_soon"')]
    assert overdue.loan_no in queue and reverse("loan-detail", args=[overdue.loan_no]) in queue
    assert not_mine.loan_no not in page
    soon = page[page.index('data-queue="ledger.due_soon"'):]
    assert due_soon.loan_no in soon and "2026-07-03" in soon
    assert later.loan_no not in page
    assert overdue.loan_no not in soon


def test_nav_shows_ledger_pages_by_permission(login):
    accountant = body(login("accountant").get("/"))
    assert reverse("loan-list") in accountant and reverse("reversal-list") in accountant
    assert reverse("customer-list") in accountant
    officer = body(login("credit_officer").get("/"))
    assert reverse("loan-list") in officer and reverse("reversal-list") not in officer


def test_pending_and_settled_loans_have_working_pages(login, make_loan):
    pending = make_loan(disburse=False, start=dt.date(2026, 6, 1))
    settled = make_loan(start=dt.date(2026, 6, 1))
    quote = services.payoff_quote(settled, TODAY)
    services.prepay(actor=None, loan=settled, value_date=TODAY, reference="P-ALL", mode="full")
    settled.refresh_from_db()
    assert settled.status == Loan.Status.SETTLED and quote.total > 0
    client = login("accountant")
    for loan in (pending, settled):
        page = client.get(reverse("loan-detail", args=[loan.loan_no]))
        assert page.status_code == 200
        assert 'data-action="loan-repay"' not in body(page)
        pdf = client.get(reverse("loan-statement", args=[loan.loan_no]), {"from": "2026-06-01", "to": "2026-06-30"})
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert 'data-posting="P-ALL"' in body(client.get(reverse("loan-detail", args=[settled.loan_no])))


@pytest.fixture(autouse=True)
def _english(settings):
    """These tests read the English wording; the Chinese catalogue is checked by the shell and browser tests."""
    from django.utils import translation

    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield
