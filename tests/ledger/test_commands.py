import datetime as dt
import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from postloan.ledger.models import Loan


def test_payoff_command_prints_the_quote(make_loan):
    loan = make_loan(start=dt.date(2026, 6, 1))
    out = io.StringIO()
    call_command("payoff", loan.loan_no, "--date", "2026-06-16", "--format", "json", stdout=out)
    body = json.loads(out.getvalue())
    assert body["total"] == "120300.00"
    with pytest.raises(CommandError, match="--date"):
        call_command("payoff", loan.loan_no, "--date", "16/06/2026")
    with pytest.raises(CommandError, match="LOAN_NO"):
        call_command("payoff", "NOPE")


def test_ledger_check_passes_and_catches_tampering(make_loan):
    loan = make_loan()
    out = io.StringIO()
    call_command("ledger", "check", stdout=out)
    assert "1 loan(s) checked" in out.getvalue()
    Loan.objects.filter(pk=loan.pk).update(interest_due_fen=1)  # someone edits a balance behind the ledger
    out = io.StringIO()
    with pytest.raises(CommandError, match="difference"):
        call_command("ledger", "check", loan.loan_no, stdout=out)
    assert "interest_due_fen" in out.getvalue()
