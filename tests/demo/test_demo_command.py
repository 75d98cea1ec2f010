import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from postloan.demo.models import DemoBuild
from postloan.org.models import User
from postloan.org.roles import ROLES


def test_demo_builds_a_user_for_every_role_and_skips_when_built(db, capsys):
    call_command("demo", "--no-serve", "--customers", "40", "--history-days", "150")
    out = capsys.readouterr().out
    assert "Postloan-demo-2026" in out
    roles = set(User.objects.values_list("groups__name", flat=True))
    assert set(ROLES) <= roles
    count = User.objects.count()
    call_command("demo", "--no-serve", "--customers", "40", "--history-days", "150")
    assert "already built" in capsys.readouterr().out
    assert User.objects.count() == count
    assert DemoBuild.objects.get().finished_at is not None


def test_demo_refuses_a_database_with_other_data(make_user):
    make_user("admin", "HO")
    with pytest.raises(CommandError, match="not the demo"):
        call_command("demo", "--no-serve")
    assert not DemoBuild.objects.exists()


def test_demo_history_is_what_the_ledger_and_the_batch_produced(db):
    import io

    from postloan.cob.models import CobDay, LoanSnapshot
    from postloan.kernel import businessdate
    from postloan.ledger.models import Loan, Posting

    call_command("demo", "--no-serve", "--customers", "60", "--history-days", "200")
    assert CobDay.objects.filter(status="done").count() == 200
    from django.utils import timezone

    assert businessdate.current() == timezone.localdate()
    assert Loan.objects.count() >= 60
    assert Posting.objects.filter(kind="repayment").count() > 100
    assert Loan.objects.filter(days_past_due__gt=0).exists()  # some borrowers are in arrears
    assert LoanSnapshot.objects.values("date").distinct().count() >= 150
    out = io.StringIO()
    call_command("ledger", "check", stdout=out)  # every balance equals its postings
    assert "checked" in out.getvalue()
