import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from postloan.demo.models import DemoBuild
from postloan.org.models import User
from postloan.org.roles import ROLES


def test_demo_builds_a_user_for_every_role_and_skips_when_built(db, capsys):
    call_command("demo", "--no-serve", "--customers", "10")
    out = capsys.readouterr().out
    assert "Postloan-demo-2026" in out
    roles = set(User.objects.values_list("groups__name", flat=True))
    assert set(ROLES) <= roles
    count = User.objects.count()
    call_command("demo", "--no-serve", "--customers", "10")
    assert "already built" in capsys.readouterr().out
    assert User.objects.count() == count
    assert DemoBuild.objects.get().finished_at is not None


def test_demo_refuses_a_database_with_other_data(make_user):
    make_user("admin", "HO")
    with pytest.raises(CommandError, match="not the demo"):
        call_command("demo", "--no-serve")
    assert not DemoBuild.objects.exists()
