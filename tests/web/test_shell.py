import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from postloan.kernel.models import AuditEvent


@pytest.fixture
def login(make_user):
    def do(role: str, branch: str = "BJ", **kw) -> Client:
        client = Client()
        client.force_login(make_user(role, branch, **kw))
        return client

    return do


def test_home_requires_login(db):
    response = Client().get("/")
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_home_is_in_chinese_by_default_and_shows_business_date(login):
    body = login("credit_officer").get("/").content.decode()
    assert 'lang="zh-hans"' in body
    assert "营业日期" in body
    assert "工作" in body


def test_language_switch_to_english(login):
    client = login("credit_officer")
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    body = client.get("/").content.decode()
    assert 'lang="en"' in body and "Business date" in body


def test_wrong_password_is_refused_with_a_message(make_user):
    make_user("credit_officer", "BJ", username="wang")
    response = Client().post(reverse("login"), {"username": "wang", "password": "nope"})
    assert response.status_code == 200
    assert response.context["form"].errors


def test_repeated_failures_lock_the_account(make_user):
    make_user("credit_officer", "BJ", username="wang")
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(reverse("login"), {"username": "wang", "password": "nope"})
    response = client.post(reverse("login"), {"username": "wang", "password": "Correct-horse-42"})
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session
    assert Client().get("/").status_code == 302


def test_good_login_and_logout(make_user):
    make_user("credit_officer", "BJ", username="wang")
    client = Client()
    response = client.post(reverse("login"), {"username": "wang", "password": "Correct-horse-42"})
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    client.post(reverse("logout"))
    assert client.get("/").status_code == 302


def test_sessions_time_out():
    assert settings.SESSION_COOKIE_AGE <= 3600
    assert settings.SESSION_SAVE_EVERY_REQUEST


def test_audit_trail_page_for_auditor_only(login, bank):
    auditor = login("auditor", "HO")
    page = auditor.get(reverse("audit-list"))
    assert page.status_code == 200
    assert "org.create_branch" in page.content.decode()
    assert login("collector", "BJ").get(reverse("audit-list")).status_code == 403


def test_audit_of_one_object_shows_before_and_after(login, bank):
    auditor = login("auditor", "HO")
    event = AuditEvent.objects.filter(action="org.create_branch", object_repr__contains="BJ01").get()
    page = auditor.get(reverse("audit-object", args=[event.object_type, event.object_id]))
    assert page.status_code == 200
    assert "BJ01" in page.content.decode()


def test_branch_user_cannot_see_another_branchs_users_in_the_ui(login, make_user):
    make_user("collector", "SH", username="shanghai_collector")
    page = login("credit_head", "BJ").get(reverse("user-list")).content.decode()
    assert "shanghai_collector" not in page
    page = login("credit_head", "HO", username="ho_head").get(reverse("user-list")).content.decode()
    assert "shanghai_collector" in page


def test_auditor_cannot_set_business_date_in_the_ui(login):
    client = login("auditor", "HO")
    assert client.get(reverse("business-date")).status_code == 403
    assert client.post(reverse("business-date"), {"date": "2030-01-01", "reason": "x"}).status_code == 403


def test_admin_business_date_form_names_the_missing_reason(login):
    response = login("admin", "HO").post(reverse("business-date"), {"date": "2030-01-01", "reason": ""})
    assert response.status_code == 200
    assert response.context["form"].errors["reason"]


def test_static_assets_are_local(login):
    body = login("credit_officer").get("/").content.decode()
    assert "/static/vendor/bootstrap/css/bootstrap.min.css" in body
    assert "//cdn" not in body and "https://" not in body.split("</head>")[0]
