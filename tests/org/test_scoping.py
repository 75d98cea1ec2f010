import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from postloan.org import services
from postloan.org.models import Branch, User
from postloan.org.permissions import require, restrict


def test_branch_paths_form_a_hierarchy(bank):
    assert bank["BJ01"].path == "/HO/BJ/BJ01/"
    assert [b.code for b in Branch.objects.filter(path__startswith=bank["BJ"].path)] == ["BJ", "BJ01"]


def test_a_branch_below_head_office_needs_a_parent(db):
    with pytest.raises(ValidationError) as err:
        services.create_branch(actor=None, code="X", name="x", level="branch")
    assert "parent" in err.value.message_dict
    assert not Branch.objects.filter(code="X").exists()


def test_branch_user_sees_own_branch_and_below_head_office_sees_all(make_user):
    head_bj = make_user("credit_head", "BJ")
    make_user("credit_officer", "BJ01")
    make_user("credit_officer", "SH")
    head_ho = make_user("credit_head", "HO")
    seen_bj = set(restrict(User.objects.all(), head_bj, "org.view_user").values_list("branch__code", flat=True))
    assert seen_bj == {"BJ", "BJ01"}
    seen_ho = set(restrict(User.objects.all(), head_ho, "org.view_user").values_list("branch__code", flat=True))
    assert seen_ho == {"BJ", "BJ01", "SH", "HO"}


def test_a_role_without_the_action_sees_nothing(make_user):
    officer = make_user("credit_officer", "HO")
    assert restrict(User.objects.all(), officer, "org.view_user").count() == 0


def test_require_refuses_another_branch(make_user, bank):
    admin_bj = make_user("admin", "BJ")
    require(admin_bj, "org.manage_users", bank["BJ01"])
    with pytest.raises(PermissionDenied):
        require(admin_bj, "org.manage_users", bank["SH"])


def test_create_user_rejects_weak_password_and_unknown_role(bank):
    with pytest.raises(ValidationError) as err:
        services.create_user(actor=None, username="u1", password="123", branch=bank["BJ"], roles=["collector"])
    assert "password" in err.value.message_dict
    with pytest.raises(ValidationError) as err:
        services.create_user(actor=None, username="u1", password="Correct-horse-42", branch=bank["BJ"],
                             roles=["boss"])
    assert "roles" in err.value.message_dict
    assert not User.objects.filter(username="u1").exists()


def test_passwords_are_hashed_with_argon2(make_user):
    assert make_user("auditor", "HO").password.startswith("argon2")
