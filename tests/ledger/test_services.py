"""The ledger's services on a real database: postings, allocation, reversal, prepayment, terms."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from postloan.kernel.models import AuditEvent
from postloan.ledger import services
from postloan.ledger.models import Installment, Loan, Posting
from postloan.ledger.state import check


def open_rows(loan):
    return list(Installment.objects.filter(loan=loan).exclude(status="superseded").order_by("due_date", "seq"))


def test_disbursed_loan_has_contract_schedule_and_state(make_loan):
    loan = make_loan(principal="100000.00", rate="0.0435", term=12)
    rows = open_rows(loan)
    assert len(rows) == 12
    assert rows[0].principal_fen + rows[0].interest_fen == 853099  # 8,530.99
    assert sum(r.principal_fen for r in rows) == 10_000_000
    assert loan.disbursed_fen == 10_000_000
    # business date 2026-06-30: installments due Feb..Jun 15 are unpaid and overdue
    assert loan.status == Loan.Status.OVERDUE
    assert loan.days_past_due == (dt.date(2026, 6, 30) - dt.date(2026, 2, 15)).days
    assert loan.bucket == "M5"
    assert check(loan) == []


def test_repayment_allocates_oldest_installment_first_penalty_before_interest_before_principal(make_loan):
    loan = make_loan(principal="120000.00", rate="0.06", term=12)
    first = open_rows(loan)[0]
    posting = services.post_repayment(actor=None, loan=loan, amount="1000.00", value_date=dt.date(2026, 3, 1),
                                      reference="R1")
    parts = [(a.installment.seq if a.installment else None, a.component, a.amount_fen)
             for a in posting.allocations.order_by("id")]
    # installment 1 fell due 2026-02-15: 14 days of penalty and compound interest, then interest, then principal
    assert [p[1] for p in parts][:2] == ["penalty", "compound"] or [p[1] for p in parts][0] == "penalty"
    assert all(seq == first.seq for seq, _c, _a in parts)
    assert sum(a for _s, _c, a in parts) == 100000
    loan.refresh_from_db()
    assert check(loan) == []


def test_paying_every_installment_on_its_due_date_settles_with_no_penalty(make_loan, business_date):
    business_date(dt.date(2027, 2, 1))
    loan = make_loan(principal="12000.00", rate="0.05", term=12, start=dt.date(2026, 1, 15))
    for row in open_rows(loan):
        services.post_repayment(actor=None, loan=loan, amount=Decimal(row.principal_fen + row.interest_fen) / 100,
                                value_date=row.due_date, reference=f"R{row.number}")
    loan.refresh_from_db()
    assert loan.status == Loan.Status.SETTLED
    assert loan.penalty_due_fen == 0 and loan.principal_outstanding_fen == 0
    assert sum(r.paid_penalty_fen for r in open_rows(loan)) == 0
    assert check(loan) == []
    with pytest.raises(ValidationError) as err:
        services.post_repayment(actor=None, loan=loan, amount="1.00", value_date=dt.date(2027, 1, 20),
                                reference="late")
    assert "loan" in err.value.message_dict


def test_overpayment_is_held_as_credit(make_loan):
    loan = make_loan(principal="12000.00", rate="0.05", term=12, start=dt.date(2026, 6, 1))
    services.post_repayment(actor=None, loan=loan, amount="500.00", value_date=dt.date(2026, 6, 20),
                            reference="R1")
    loan.refresh_from_db()
    assert loan.credit_fen == 50000
    assert loan.status == Loan.Status.ACTIVE


@pytest.mark.parametrize("field,kwargs", [
    ("amount", {"amount": "0"}),
    ("amount", {"amount": "-5"}),
    ("amount", {"amount": "1.234"}),
    ("amount", {"amount": "abc"}),
    ("value_date", {"value_date": dt.date(2025, 12, 31)}),
    ("value_date", {"value_date": dt.date(2026, 7, 1)}),
    ("reference", {"reference": ""}),
    ("reference", {"reference": "D-L000001"}),
])
def test_bad_repayments_name_the_field_and_change_nothing(make_loan, field, kwargs):
    loan = make_loan()
    before = (Posting.objects.count(), AuditEvent.objects.count(), Loan.objects.get(pk=loan.pk).interest_due_fen)
    args = {"amount": "100.00", "value_date": dt.date(2026, 3, 1), "reference": "R1"} | kwargs
    with pytest.raises(ValidationError) as err:
        services.post_repayment(actor=None, loan=loan, **args)
    assert field in err.value.message_dict
    assert (Posting.objects.count(), AuditEvent.objects.count(),
            Loan.objects.get(pk=loan.pk).interest_due_fen) == before


@pytest.mark.parametrize("field,kwargs", [
    ("principal", {"principal": "0"}),
    ("principal", {"principal": "-100"}),
    ("annual_rate", {"rate": "0.5"}),
    ("annual_rate", {"rate": "0.001"}),
    ("term_months", {"term": 0}),
    ("term_months", {"term": 500}),
])
def test_bad_loans_are_refused_naming_the_field(make_loan, field, kwargs):
    count = Loan.objects.count()
    with pytest.raises(ValidationError) as err:
        make_loan(**kwargs)
    assert field in err.value.message_dict
    assert Loan.objects.count() == count


def test_reversal_needs_a_second_person_and_restores_the_state(make_loan, make_user):
    loan = make_loan()
    maker = make_user("accountant", "BJ", username="maker")
    checker = make_user("accountant", "BJ", username="checker")
    before = Loan.objects.get(pk=loan.pk)
    posting = services.post_repayment(actor=maker, loan=loan, amount="5000.00", value_date=dt.date(2026, 3, 1),
                                      reference="WRONG")
    request = services.request_reversal(actor=maker, posting=posting, reason="keyed twice")
    with pytest.raises(ValidationError):
        services.approve_reversal(actor=maker, request=request)
    reversal = services.approve_reversal(actor=checker, request=request)
    assert reversal.reverses == posting and reversal.approver == checker
    after = Loan.objects.get(pk=loan.pk)
    for field in ("principal_outstanding_fen", "interest_due_fen", "penalty_due_fen", "compound_due_fen",
                  "days_past_due", "credit_fen"):
        assert getattr(after, field) == getattr(before, field), field
    assert Posting.objects.filter(pk=posting.pk).exists()  # the original stays
    with pytest.raises(ValidationError) as err:
        services.request_reversal(actor=maker, posting=reversal, reason="undo the undo")
    assert "posting" in err.value.message_dict
    with pytest.raises(ValidationError):
        services.request_reversal(actor=maker, posting=posting, reason="again")
    assert check(after) == []


def test_back_valued_repayment_recomputes_what_follows(make_loan):
    loan = make_loan()
    services.post_repayment(actor=None, loan=loan, amount="20000.00", value_date=dt.date(2026, 5, 1),
                            reference="R-late")
    def penalties(ln):
        return sum(r.penalty_fen + r.compound_fen for r in open_rows(ln))

    before = penalties(loan)
    services.post_repayment(actor=None, loan=loan, amount="5000.00", value_date=dt.date(2026, 2, 20),
                            reference="R-early")
    loan.refresh_from_db()
    # paying earlier stops penalty sooner: everything after the back-valued repayment is recomputed
    assert penalties(loan) < before
    assert check(loan) == []


def test_full_prepayment_settles_the_loan_at_the_payoff_amount(make_loan):
    loan = make_loan(start=dt.date(2026, 5, 10))
    quote = services.payoff_quote(loan, dt.date(2026, 6, 20))
    assert quote.principal > 0 and quote.interest > 0
    services.prepay(actor=None, loan=loan, value_date=dt.date(2026, 6, 20), reference="P1", mode="full")
    loan.refresh_from_db()
    assert loan.status == Loan.Status.SETTLED
    assert loan.principal_outstanding_fen == 0 and loan.credit_fen == 0
    assert check(loan) == []


def test_partial_prepayment_shortens_the_term_or_lowers_the_installment(make_loan):
    a = make_loan(start=dt.date(2026, 5, 10), term=24)
    b = make_loan(start=dt.date(2026, 5, 10), term=24)
    original = open_rows(a)
    services.prepay(actor=None, loan=a, value_date=dt.date(2026, 6, 20), reference="P1", mode="shorten_term",
                    amount="40000.00")
    services.prepay(actor=None, loan=b, value_date=dt.date(2026, 6, 20), reference="P1",
                    mode="lower_installment", amount="40000.00")
    rows_a, rows_b = open_rows(a), open_rows(b)
    a.refresh_from_db()
    b.refresh_from_db()
    assert a.maturity_date < original[-1].period_end
    assert b.maturity_date == original[-1].period_end
    later_b = [r for r in rows_b if r.due_date > dt.date(2026, 7, 1)]
    assert later_b[0].principal_fen + later_b[0].interest_fen < original[2].principal_fen + original[2].interest_fen
    assert sum(r.principal_fen for r in rows_a) == a.disbursed_fen
    assert sum(r.principal_fen for r in rows_b) == b.disbursed_fen
    assert check(a) == [] and check(b) == []


def test_extension_within_limits_with_guarantor_consent(make_loan):
    loan = make_loan(start=dt.date(2026, 5, 10), term=12, guarantee_type="guarantee")
    with pytest.raises(ValidationError) as err:
        services.extend(actor=None, loan=loan, months=6, value_date=dt.date(2026, 6, 20), guarantor_consent=False,
                        reason="cash flow")
    assert "guarantor_consent" in err.value.message_dict
    with pytest.raises(ValidationError) as err:
        services.extend(actor=None, loan=loan, months=13, value_date=dt.date(2026, 6, 20), guarantor_consent=True,
                        reason="cash flow")
    assert "months" in err.value.message_dict
    services.extend(actor=None, loan=loan, months=6, value_date=dt.date(2026, 6, 20), guarantor_consent=True,
                    reason="cash flow")
    loan.refresh_from_db()
    assert loan.maturity_date == dt.date(2027, 11, 10)
    assert loan.extension_months == 6
    assert check(loan) == []


def test_restructuring_marks_the_loan_and_keeps_the_old_schedule(make_loan):
    loan = make_loan(start=dt.date(2026, 5, 10), term=12)
    services.restructure(actor=None, loan=loan, value_date=dt.date(2026, 6, 20), term_months=24,
                         annual_rate=Decimal("0.04"), reason="financial difficulty")
    loan.refresh_from_db()
    assert loan.restructured and loan.restructured_on == dt.date(2026, 6, 20)
    assert loan.schedule_versions.count() == 2
    assert Installment.objects.filter(loan=loan, status="superseded").count() == 11
    assert check(loan) == []


def test_reprice_changes_the_installments_not_yet_due(make_loan):
    loan = make_loan(start=dt.date(2026, 5, 10), term=12)
    before = open_rows(loan)[-1]
    services.reprice(actor=None, loan=loan, annual_rate=Decimal("0.03"), value_date=dt.date(2026, 6, 20),
                     reason="LPR down")
    after = open_rows(loan)[-1]
    assert after.interest_fen < before.interest_fen
    loan.refresh_from_db()
    assert loan.annual_rate == Decimal("0.03")
    assert check(loan) == []


def test_fee_charge_and_waiver(make_loan, make_user):
    loan = make_loan(start=dt.date(2026, 6, 1))
    services.charge_fee(actor=None, loan=loan, amount="300.00", value_date=dt.date(2026, 6, 2), reference="F1",
                        reason="appraisal fee")
    loan.refresh_from_db()
    assert loan.fee_due_fen == 30000
    head = make_user("credit_head", "BJ")
    services.waive(actor=head, loan=loan, component="fee", amount="300.00", value_date=dt.date(2026, 6, 3),
                   reference="W1", reason="goodwill")
    loan.refresh_from_db()
    assert loan.fee_due_fen == 0
    with pytest.raises(ValidationError) as err:
        services.waive(actor=head, loan=loan, component="fee", amount="1.00", value_date=dt.date(2026, 6, 3),
                       reference="W2", reason="again")
    assert "amount" in err.value.message_dict


def test_roles_and_branches_are_enforced(make_loan, make_user):
    loan = make_loan(branch="BJ")
    with pytest.raises(PermissionDenied):
        services.post_repayment(actor=make_user("accountant", "SH"), loan=loan, amount="1.00",
                                value_date=dt.date(2026, 3, 1), reference="X")
    with pytest.raises(PermissionDenied):
        services.post_repayment(actor=make_user("auditor", "HO"), loan=loan, amount="1.00",
                                value_date=dt.date(2026, 3, 1), reference="X")
    head_office = make_user("accountant", "HO")
    services.post_repayment(actor=head_office, loan=loan, amount="1.00", value_date=dt.date(2026, 3, 1),
                            reference="X")
    assert Posting.objects.filter(loan=loan, reference="X", actor=head_office).exists()


def test_actions_are_audited(make_loan, make_user):
    loan = make_loan()
    accountant = make_user("accountant", "BJ")
    services.post_repayment(actor=accountant, loan=loan, amount="100.00", value_date=dt.date(2026, 3, 1),
                            reference="R1")
    event = AuditEvent.objects.filter(action="ledger.post_repayment").get()
    assert event.actor == accountant and event.object_id == str(loan.pk)
    assert event.after["amount"] == "100.00"
    assert "days_past_due" in event.before


def test_money_is_exact_in_sums_over_many_loans(make_loan):
    for _ in range(30):
        make_loan(principal="0.10", rate="0.05", term=1, start=dt.date(2026, 6, 1))
    from django.db.models import Sum

    total = Loan.objects.aggregate(s=Sum("principal_fen"))["s"]
    assert total == 300 and isinstance(total, int)


def test_later_business_date_changes_state_only_through_refresh(make_loan, business_date):
    loan = make_loan(start=dt.date(2026, 6, 1))
    business_date(dt.date(2026, 8, 1))
    from postloan.ledger.state import refresh

    refresh(loan)
    loan.refresh_from_db()
    assert loan.days_past_due == (dt.date(2026, 8, 1) - dt.date(2026, 7, 1)).days


def test_a_schedule_entered_by_hand(make_customer, product, business_date):
    customer = make_customer()
    rows = [{"due_date": "2026-03-31", "principal": "30000.00", "interest": "900.00"},
            {"due_date": "2026-09-30", "principal": "70000.00", "interest": "2100.00"}]
    loan = services.book_loan(actor=None, loan_no="M1", customer=customer, product=product, principal="100000",
                              annual_rate=Decimal("0.06"), term_months=12, start_date=dt.date(2026, 1, 1),
                              schedule_rows=rows)
    assert loan.method == "manual" and loan.maturity_date == dt.date(2026, 9, 30)
    services.disburse(actor=None, loan=loan, value_date=dt.date(2026, 1, 1), reference="D")
    got = [(r.due_date, r.principal_fen, r.interest_fen) for r in open_rows(loan)]
    assert got == [(dt.date(2026, 3, 31), 3_000_000, 90_000), (dt.date(2026, 9, 30), 7_000_000, 210_000)]
    bad = [{"due_date": "2026-03-31", "principal": "30000.00", "interest": "900.00"}]
    with pytest.raises(ValidationError) as err:
        services.book_loan(actor=None, loan_no="M2", customer=customer, product=product, principal="100000",
                           annual_rate=Decimal("0.06"), term_months=12, start_date=dt.date(2026, 1, 1),
                           schedule_rows=bad)
    assert "schedule_rows" in err.value.message_dict
    assert not Loan.objects.filter(loan_no="M2").exists()
