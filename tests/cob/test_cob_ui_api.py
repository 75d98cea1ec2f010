import datetime as dt

from django.test import Client

from postloan.cob.models import CobDay
from postloan.kernel import businessdate


def test_admin_runs_the_close_of_business_from_the_api(api, portfolio):
    client = api("admin", "HO")
    response = client.post("/api/cob/runs/", {"to": "2026-01-06"})
    assert response.status_code == 201, response.json()
    assert response.json()["status"] == "done"
    assert businessdate.current() == dt.date(2026, 1, 7)
    days = client.get("/api/cob/runs/days/").json()
    assert [d["date"] for d in days] == ["2026-01-06", "2026-01-05"]
    assert {s["name"] for s in days[0]["steps"]} >= {"ledger.close_day", "cob.snapshot", "cob.aggregates"}


def test_bad_dates_and_roles_are_refused(api, portfolio):
    admin = api("admin", "HO")
    response = admin.post("/api/cob/runs/", {"to": "2025-12-31"})
    assert response.status_code == 400 and "to" in response.json()
    assert api("auditor", "HO").post("/api/cob/runs/", {}).status_code == 403
    assert api("auditor", "HO", username="aud2").get("/api/cob/runs/").status_code == 200
    assert api("collector", "BJ").get("/api/cob/runs/").status_code == 403
    assert not CobDay.objects.exists()


def test_history_page_and_run_button(make_user, portfolio):
    client = Client()
    client.force_login(make_user("admin", "HO"))
    page = client.get("/cob/")
    assert page.status_code == 200
    response = client.post("/cob/", {"to": "2026-01-05"}, follow=True)
    assert "2026-01-06" in response.content.decode()
    assert CobDay.objects.get().status == "done"
    assert b"ledger.close_day" in client.get("/cob/").content
    auditor = Client()
    auditor.force_login(make_user("auditor", "HO"))
    assert auditor.get("/cob/").status_code == 200
    assert auditor.post("/cob/", {"to": "2026-01-06"}).status_code == 403
