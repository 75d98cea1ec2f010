import datetime as dt

from postloan.ledger.models import Posting, ReversalRequest


def test_loan_list_is_scoped_and_filterable(api, make_loan):
    bj = make_loan(branch="BJ")
    sh = make_loan(branch="SH")
    client = api("credit_officer", "BJ")
    listed = {row["loan_no"] for row in client.get("/api/loans/").json()["results"]}
    assert bj.loan_no in listed and sh.loan_no not in listed
    assert client.get(f"/api/loans/{sh.loan_no}/").status_code == 404
    overdue = client.get("/api/loans/?overdue=true").json()["results"]
    assert [row["loan_no"] for row in overdue] == [bj.loan_no]
    assert client.get("/api/loans/?colour=red").status_code == 400


def test_loan_detail_amounts_are_decimal_strings(api, make_loan):
    loan = make_loan(principal="100000.00", rate="0.0435")
    auditor = api("auditor", "HO")
    body = auditor.get(f"/api/loans/{loan.loan_no}/").json()
    assert body["principal"] == "100000.00"
    assert body["status"] == "overdue"
    schedule = auditor.get(f"/api/loans/{loan.loan_no}/schedule/").json()
    assert schedule[0]["principal"] == "8168.49" and schedule[0]["interest"] == "362.50"


def test_repay_through_the_api(api, make_loan):
    loan = make_loan()
    client = api("accountant", "BJ")
    response = client.post(f"/api/loans/{loan.loan_no}/repay/",
                           {"amount": "1000.00", "value_date": "2026-03-01", "reference": "API-1"})
    assert response.status_code == 201, response.json()
    assert response.json()["posting"]["amount"] == "1000.00"
    postings = client.get(f"/api/loans/{loan.loan_no}/postings/").json()
    assert [p["reference"] for p in postings] == ["D-" + loan.loan_no, "API-1"]
    assert sum(float(a["amount"]) for a in postings[1]["allocations"]) == 1000.0


def test_bad_repayment_gets_field_errors_and_changes_nothing(api, make_loan):
    loan = make_loan()
    client = api("accountant", "BJ")
    count = Posting.objects.count()
    response = client.post(f"/api/loans/{loan.loan_no}/repay/",
                           {"amount": "-5", "value_date": "2030-01-01", "reference": "X"})
    assert response.status_code == 400
    assert "amount" in response.json()
    response = client.post(f"/api/loans/{loan.loan_no}/repay/",
                           {"amount": "5", "value_date": "2030-01-01", "reference": "X"})
    assert response.status_code == 400 and "value_date" in response.json()
    assert Posting.objects.count() == count


def test_roles_are_enforced_in_the_api(api, make_loan):
    loan = make_loan()
    body = {"amount": "10.00", "value_date": "2026-03-01", "reference": "R"}
    assert api("auditor", "HO").post(f"/api/loans/{loan.loan_no}/repay/", body).status_code == 403
    assert api("credit_officer", "BJ").post(f"/api/loans/{loan.loan_no}/repay/", body).status_code == 403
    assert api("accountant", "SH").post(f"/api/loans/{loan.loan_no}/repay/", body).status_code == 404


def test_payoff_quote(api, make_loan):
    loan = make_loan(start=dt.date(2026, 6, 1))
    client = api("credit_officer", "BJ")
    body = client.get(f"/api/loans/{loan.loan_no}/payoff/?date=2026-06-16").json()
    assert body["principal"] == "120000.00"
    assert body["interest"] == "300.00"  # 120,000 × 6% / 360 × 15 days
    assert body["total"] == "120300.00"
    assert client.get(f"/api/loans/{loan.loan_no}/payoff/?date=June").status_code == 400


def test_reversal_maker_checker_through_the_api(api, make_loan):
    loan = make_loan()
    maker = api("accountant", "BJ", username="maker")
    checker = api("accountant", "BJ", username="checker")
    maker.post(f"/api/loans/{loan.loan_no}/repay/", {"amount": "10.00", "value_date": "2026-03-01",
                                                      "reference": "OOPS"})
    response = maker.post(f"/api/loans/{loan.loan_no}/reversals/", {"posting": "OOPS", "reason": "duplicate"})
    assert response.status_code == 201
    request_id = response.json()["id"]
    refused = maker.post(f"/api/reversals/{request_id}/approve/")
    assert refused.status_code == 400 and "request" in refused.json()
    approved = checker.post(f"/api/reversals/{request_id}/approve/")
    assert approved.status_code == 201 and approved.json()["kind"] == "reversal"
    assert ReversalRequest.objects.get(pk=request_id).status == "approved"


def test_book_and_disburse_through_the_api(api, make_customer, product, business_date):
    customer = make_customer("BJ")
    officer = api("credit_officer", "BJ")
    response = officer.post("/api/loans/", {
        "loan_no": "API-L1", "customer": customer.customer_no, "product": "WC", "principal": "50000.00",
        "annual_rate_pct": "4.35", "term_months": 12, "start_date": "2026-06-01"})
    assert response.status_code == 201, response.json()
    assert response.json()["status"] == "pending"
    bad = officer.post("/api/loans/", {
        "loan_no": "API-L2", "customer": customer.customer_no, "product": "WC", "principal": "50000.00",
        "annual_rate_pct": "99", "term_months": 12, "start_date": "2026-06-01"})
    assert bad.status_code == 400 and "annual_rate" in bad.json()
    accountant = api("accountant", "BJ")
    done = accountant.post("/api/loans/API-L1/disburse/", {"value_date": "2026-06-01", "reference": "D1"})
    assert done.status_code == 201
    assert done.json()["loan"]["disbursed"] == "50000.00"


def test_customers_api_search_and_create(api, make_customer, bank):
    make_customer("BJ", name="北京华星机械有限公司")
    client = api("credit_officer", "BJ")
    found = client.get("/api/customers/?search=华星").json()["results"]
    assert [c["name"] for c in found] == ["北京华星机械有限公司"]
    bad = client.post("/api/customers/", {"customer_no": "N1", "kind": "individual", "name": "张三",
                                          "id_number": "110105194912310021", "branch": "BJ"})
    assert bad.status_code == 400 and "id_number" in bad.json()
    ok = client.post("/api/customers/", {"customer_no": "N1", "kind": "individual", "name": "张三",
                                         "id_number": "11010519491231002X", "branch": "BJ"})
    assert ok.status_code == 201, ok.json()
