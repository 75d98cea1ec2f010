import pytest
from rest_framework.test import APIClient

from postloan.kernel import businessdate
from postloan.kernel.models import AuditEvent


def test_unauthenticated_requests_are_refused(db):
    response = APIClient().get("/api/users/")
    assert response.status_code == 401
    assert "detail" in response.json()


def test_token_is_issued_for_good_credentials_only(make_user):
    make_user("credit_officer", "BJ", username="wang")
    ok = APIClient().post("/api/token/", {"username": "wang", "password": "Correct-horse-42"}, format="json")
    assert ok.status_code == 200 and len(ok.json()["token"]) == 40
    bad = APIClient().post("/api/token/", {"username": "wang", "password": "wrong"}, format="json")
    assert bad.status_code == 400
    assert "non_field_errors" in bad.json()


def test_schema_and_docs_are_served_locally(api):
    client = api("auditor", "HO")
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"openapi: 3" in schema.content
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"swagger-ui" in docs.content
    assert b"cdn.jsdelivr" not in docs.content and b"unpkg" not in docs.content


def test_branch_user_cannot_see_another_branchs_users(api, make_user):
    other = make_user("collector", "SH")
    client = api("credit_head", "BJ")
    listed = {u["username"] for u in client.get("/api/users/").json()["results"]}
    assert other.username not in listed
    assert client.user.username in listed
    assert client.get(f"/api/users/{other.pk}/").status_code == 404


def test_head_office_sees_every_branch(api, make_user):
    other = make_user("collector", "SH")
    client = api("credit_head", "HO")
    assert client.get(f"/api/users/{other.pk}/").status_code == 200
    codes = {b["code"] for b in client.get("/api/branches/").json()["results"]}
    assert codes == {"HO", "BJ", "BJ01", "SH"}


def test_branch_list_is_scoped(api):
    codes = {b["code"] for b in api("credit_officer", "BJ").get("/api/branches/").json()["results"]}
    assert codes == {"BJ", "BJ01"}


def test_unknown_query_parameter_is_an_error_naming_it(api):
    response = api("credit_head", "HO").get("/api/users/?brnch=3")
    assert response.status_code == 400
    assert "brnch" in response.json()


def test_auditor_reads_but_cannot_change(api):
    client = api("auditor", "HO")
    assert client.get("/api/audit-events/").status_code == 200
    before = businessdate.current()
    response = client.post("/api/business-date/", {"date": "2030-01-01", "reason": "x"}, format="json")
    assert response.status_code == 403
    response = client.post("/api/users/", {"username": "n", "password": "Correct-horse-42", "branch": "HO",
                                           "roles": ["auditor"]}, format="json")
    assert response.status_code == 403
    assert businessdate.current() == before


def test_malformed_body_gets_field_errors_and_changes_nothing(api):
    client = api("admin", "HO")
    before = businessdate.current()
    response = client.post("/api/business-date/", {"date": "not-a-date"}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"date", "reason"}
    response = client.post("/api/business-date/", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert businessdate.current() == before


def test_admin_sets_business_date_through_api(api):
    client = api("admin", "HO")
    response = client.post("/api/business-date/", {"date": "2026-12-01", "reason": "correction"}, format="json")
    assert response.status_code == 200
    assert client.get("/api/business-date/").json() == {"date": "2026-12-01"}
    assert AuditEvent.objects.filter(action="kernel.set_business_date", actor=client.user).exists()


def test_admin_creates_user_through_api_with_field_errors(api):
    client = api("admin", "HO")
    bad = client.post("/api/users/", {"username": "li", "password": "short", "branch": "BJ", "roles": ["cook"]},
                      format="json")
    assert bad.status_code == 400
    assert "roles" in bad.json()
    bad = client.post("/api/users/", {"username": "li", "password": "short", "branch": "BJ",
                                      "roles": ["collector"]}, format="json")
    assert bad.status_code == 400 and "password" in bad.json()
    ok = client.post("/api/users/", {"username": "li", "password": "Correct-horse-42", "branch": "BJ",
                                     "roles": ["collector"]}, format="json")
    assert ok.status_code == 201
    assert ok.json()["roles"] == ["collector"]


def test_branch_admin_cannot_create_users_elsewhere(api):
    client = api("admin", "BJ")
    response = client.post("/api/users/", {"username": "li", "password": "Correct-horse-42", "branch": "SH",
                                           "roles": ["collector"]}, format="json")
    assert response.status_code == 403


@pytest.mark.parametrize("path", ["/api/audit-events/", "/api/users/"])
def test_audit_and_users_need_their_roles(api, path):
    assert api("collector", "BJ").get(path).status_code == 403
