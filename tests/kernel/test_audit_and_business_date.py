import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from postloan.kernel import audit, businessdate
from postloan.kernel.models import AuditEvent, BusinessDate


def test_admin_sets_business_date_with_reason_and_it_is_audited(make_user):
    admin = make_user("admin", "HO")
    businessdate.set_business_date(actor=admin, date=dt.date(2026, 3, 2), reason="go-live")
    assert businessdate.current() == dt.date(2026, 3, 2)
    event = AuditEvent.objects.get(action="kernel.set_business_date")
    assert event.actor == admin
    assert event.after == {"date": "2026-03-02"}
    assert event.reason == "go-live"


def test_business_date_needs_a_reason_and_changes_nothing_without_one(make_user):
    admin = make_user("admin", "HO")
    before = businessdate.current()
    with pytest.raises(ValidationError) as err:
        businessdate.set_business_date(actor=admin, date=dt.date(2030, 1, 1), reason="  ")
    assert "reason" in err.value.message_dict
    assert businessdate.current() == before
    assert not AuditEvent.objects.filter(action="kernel.set_business_date").exists()


@pytest.mark.parametrize("role", ["auditor", "credit_officer", "accountant", "credit_head"])
def test_only_an_administrator_moves_the_business_date(make_user, role):
    user = make_user(role, "HO")
    before = businessdate.current()
    with pytest.raises(PermissionDenied):
        businessdate.set_business_date(actor=user, date=dt.date(2030, 1, 1), reason="try")
    assert BusinessDate.objects.get().date == before


def test_business_date_only_moves_forward_by_close_of_business(db):
    start = businessdate.current()
    businessdate.advance(to=start + dt.timedelta(days=1))
    assert businessdate.current() == start + dt.timedelta(days=1)
    with pytest.raises(ValidationError):
        businessdate.advance(to=start)


def test_audit_events_are_append_only(bank):
    event = audit.record(actor=None, action="test.thing", obj=bank["BJ"], reason="why")
    assert event.branch == bank["BJ"]
    event.reason = "rewritten"
    with pytest.raises(TypeError):
        event.save()
    with pytest.raises(TypeError):
        event.delete()
    with pytest.raises(TypeError):
        AuditEvent.objects.filter(pk=event.pk).update(reason="x")
    with pytest.raises(TypeError):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.get(pk=event.pk).reason == "why"


def test_creating_users_and_branches_is_audited(bank, make_user):
    make_user("collector", "SH", username="zhao")
    event = AuditEvent.objects.get(action="org.create_user", object_repr__contains="collector")
    assert event.after["roles"] == ["collector"]
    assert event.branch.code == "SH"
    assert AuditEvent.objects.filter(action="org.create_branch").count() == 4
