"""Importing customers, loans and repayments: files, rows, idempotency, the bulk path, the command, the API."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import path
from django.utils import translation

from postloan.customers.identifiers import make_resident_id, make_uscc
from postloan.customers.models import Customer
from postloan.kernel.models import AuditEvent
from postloan.ledger import imports, services
from postloan.ledger.api_import import ImportView
from postloan.ledger.imports import import_file, import_rows
from postloan.ledger.models import Allocation, Installment, Loan, Posting, ScheduleVersion
from postloan.ledger.state import check

# The API tests run against this module as the URLconf until config/urls.py routes /api/imports/.
urlpatterns = [path("api/imports/<str:kind>/", ImportView.as_view(), name="import")]

LOAN_HEADER = ["loan_no", "customer_no", "product_code", "currency", "principal", "annual_rate_pct", "term_months",
               "method", "frequency", "start_date", "first_due_date"]


def loan_row(loan_no, customer_no="C00001", principal="100000.00", rate="4.35", term="12", start="2026-01-15",
             method="", frequency="", first_due="", product="WC", currency="CNY"):
    return [loan_no, customer_no, product, currency, principal, rate, term, method, frequency, start, first_due]


def write_csv(tmp_path, name, header, rows, encoding="utf-8"):
    target = tmp_path / name
    with target.open("w", newline="", encoding=encoding) as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return target


def errors_of(result):
    return sorted((e.row, e.field) for e in result.rejected)


def counts():
    from postloan.ledger.models import Loan as L

    return {"loans": L.objects.count(), "postings": Posting.objects.count(),
            "installments": Installment.objects.count(), "versions": ScheduleVersion.objects.count(),
            "audit": AuditEvent.objects.count(), "history": L.history.count(), "customers": Customer.objects.count(),
            "allocations": Allocation.objects.count()}


@pytest.fixture(autouse=True)
def english():
    """The assertions read English messages (another test may have left Chinese active)."""
    with translation.override("en"):
        yield


@pytest.fixture
def customer(make_customer, business_date):
    return make_customer("BJ")  # C00001


@pytest.fixture
def retail_product(db):
    # due dates moved by China's holidays, equal principal by default
    return services.create_product(
        actor=None, code="RC", name="个人消费贷款", segment="retail", method="equal_principal", frequency="monthly",
        day_count="ACT/360", interest_basis="period", holiday_rule="following", min_rate=Decimal("0.01"),
        max_rate=Decimal("0.15"), min_term_months=1, max_term_months=120)


# --- loans: good and bad rows ------------------------------------------------------------


def test_loans_csv_accepts_good_rows_and_reports_each_bad_one(tmp_path, customer, product):
    target = write_csv(tmp_path, "loans.csv", LOAN_HEADER, [
        loan_row("L1"),                                             # 2 good
        loan_row("L2", principal="-5000.00"),                       # 3 negative principal
        loan_row("L3", product="XX"),                               # 4 unknown product
        loan_row("L4", customer_no="C99999"),                       # 5 unknown customer
        loan_row("L5", start="2026-02-30"),                         # 6 bad date
        loan_row("L6", rate="40"),                                  # 7 rate out of range (36%)
        loan_row("L7", rate="20"),                                  # 8 above the product's 15%
        loan_row("L8", term="0"),                                   # 9 term
        loan_row("L9", start="2026-07-01"),                         # 10 disbursed after the business date
        loan_row("L10", method="manual"),                           # 11 method not importable
        loan_row("L11", currency="USD"),                            # 12 currency not the product's
        loan_row("L12", principal="12.345"),                        # 13 fen
        loan_row("L13", first_due="2026-01-10"),                    # 14 first due before start
        loan_row("L14", principal="50000", rate="6", term="24", method="equal_principal"),  # 15 good
        loan_row("L15", principal="1e5"),                           # 16 exponent
        loan_row("L16", principal="1,5"),                           # 17 decimal comma
    ])
    result = import_file("loans", target, actor=None)
    assert result.rows == 16
    assert result.accepted == 2 and result.unchanged == 0
    assert errors_of(result) == [
        (3, "principal"), (4, "product_code"), (5, "customer_no"), (6, "start_date"), (7, "annual_rate_pct"),
        (8, "annual_rate_pct"), (9, "term_months"), (10, "start_date"), (11, "method"), (12, "currency"),
        (13, "principal"), (14, "first_due_date"), (16, "principal"), (17, "principal")]
    messages = {e.row: e.message for e in result.rejected}
    assert "greater than zero" in messages[3]
    assert "36%" in messages[7]
    assert "business date" in messages[10]
    assert set(Loan.objects.values_list("loan_no", flat=True)) == {"L1", "L14"}
    l1 = Loan.objects.get(loan_no="L1")
    assert l1.source == "import" and l1.principal_fen == 10_000_000 and l1.annual_rate == Decimal("0.0435")
    assert l1.disbursed_fen == 10_000_000 and l1.status == Loan.Status.OVERDUE  # five installments unpaid
    assert Posting.objects.get(loan=l1).reference == "IMPORT-L1"
    assert Installment.objects.filter(loan=l1).count() == 12
    assert check(l1) == [] and check(Loan.objects.get(loan_no="L14")) == []
    call_command("ledger", "check", stdout=io.StringIO())


def test_missing_required_column_is_one_error_and_nothing_is_imported(tmp_path, customer, product):
    header = [h for h in LOAN_HEADER if h != "principal"]
    target = write_csv(tmp_path, "loans.csv", header, [[v for h, v in zip(LOAN_HEADER, loan_row("L1"), strict=True)
                                                        if h != "principal"]])
    result = import_file("loans", target, actor=None)
    assert [(e.row, e.field) for e in result.rejected] == [(1, "principal")]
    assert result.accepted == 0 and not Loan.objects.exists()


def test_headers_are_trimmed_and_case_insensitive_unknown_columns_are_refused(tmp_path, customer, product):
    header = [" Loan_No ", "CUSTOMER_NO", "Product Code", *LOAN_HEADER[3:]]
    assert import_file("loans", write_csv(tmp_path, "a.csv", header, [loan_row("L1")]), actor=None).accepted == 1
    bad = import_file("loans", write_csv(tmp_path, "b.csv", [*LOAN_HEADER, "principle"], [loan_row("L2") + ["1"]]),
                      actor=None)
    assert [(e.row, e.field) for e in bad.rejected] == [(1, "principle")]


def test_same_loans_file_twice_changes_nothing(tmp_path, customer, product):
    target = write_csv(tmp_path, "loans.csv", LOAN_HEADER, [loan_row("L1"), loan_row("L2", principal="-1"),
                                                            loan_row("L3", term="24")])
    first = import_file("loans", target, actor=None)
    assert (first.accepted, first.unchanged, errors_of(first)) == (2, 0, [(3, "principal")])
    before = counts()
    second = import_file("loans", target, actor=None)
    assert (second.accepted, second.unchanged, errors_of(second)) == (0, 2, [(3, "principal")])
    assert counts() == before


def test_same_loan_number_with_different_data_is_rejected_naming_the_field(tmp_path, customer, product):
    import_file("loans", write_csv(tmp_path, "a.csv", LOAN_HEADER, [loan_row("L1")]), actor=None)
    before = counts()
    result = import_file("loans", write_csv(tmp_path, "b.csv", LOAN_HEADER, [
        loan_row("L1", principal="90000.00"), loan_row("L1", rate="5", start="2026-01-16")]), actor=None)
    assert errors_of(result) == [(2, "principal"), (3, "annual_rate_pct"), (3, "start_date")]
    assert "100000.00" in result.rejected[0].message and "L1" in result.rejected[0].message
    assert counts() == before


def test_duplicates_within_a_file_and_across_batches(tmp_path, customer, product, monkeypatch):
    monkeypatch.setattr(imports, "BATCH", 2)
    target = write_csv(tmp_path, "loans.csv", LOAN_HEADER, [
        loan_row("L1"), loan_row("L1"), loan_row("L2"), loan_row("L1", principal="1.00"), loan_row("L3"),
        loan_row("L2", term="6")])
    result = import_file("loans", target, actor=None)
    assert (result.accepted, result.unchanged) == (3, 1)
    assert errors_of(result) == [(5, "principal"), (7, "term_months")]
    assert Loan.objects.count() == 3 and Posting.objects.count() == 3


def test_a_loan_imported_undisbursed_is_disbursed_by_a_later_file(tmp_path, customer, product):
    header = [*LOAN_HEADER, "disbursed", "disbursement_reference"]
    import_file("loans", write_csv(tmp_path, "a.csv", header, [loan_row("L1") + ["no", ""]]), actor=None)
    loan = Loan.objects.get(loan_no="L1")
    assert loan.status == Loan.Status.PENDING and not Posting.objects.exists()
    assert not Installment.objects.exists()
    again = import_file("loans", write_csv(tmp_path, "b.csv", header, [loan_row("L1") + ["no", ""]]), actor=None)
    assert again.unchanged == 1
    later = write_csv(tmp_path, "c.csv", header, [loan_row("L1") + ["yes", "CORE-9"]])
    assert import_file("loans", later, actor=None).accepted == 1
    loan.refresh_from_db()
    assert loan.disbursed_fen == 10_000_000 and Posting.objects.get(loan=loan).reference == "CORE-9"
    assert import_file("loans", later, actor=None).unchanged == 1
    back = import_file("loans", write_csv(tmp_path, "d.csv", header, [loan_row("L1") + ["no", ""]]), actor=None)
    assert errors_of(back) == [(2, "disbursed")]


def test_dry_run_reports_and_saves_nothing(tmp_path, customer, product):
    target = write_csv(tmp_path, "loans.csv", LOAN_HEADER, [loan_row("L1"), loan_row("L2", principal="0")])
    before = counts()
    result = import_file("loans", target, actor=None, dry_run=True)
    assert (result.accepted, errors_of(result), result.dry_run) == (1, [(3, "principal")], True)
    assert counts() == before


# --- the bulk path writes what the services write ------------------------------------------


VARIANTS = [
    dict(principal="100000.00", rate="4.35", term="12"),
    dict(principal="250000.55", rate="6.175", term="36", method="equal_principal"),
    dict(principal="80000", rate="5", term="12", method="interest_only", frequency="quarterly"),
    dict(principal="30000", rate="3.45", term="6", method="bullet"),
    dict(principal="120000", rate="4.9", term="24", first_due="2026-02-20", start="2026-01-05"),
    dict(principal="60000", rate="4.35", term="12", start="2026-06-20"),
    dict(principal="60000", rate="4.35", term="12", start="2025-01-31", product="RC"),
    dict(principal="9000", rate="4.35", term="3", start="2025-10-31", product="RC", method="equal_installment"),
]


def _snapshot(loan: Loan) -> dict:
    """Everything the ledger holds about a loan, without its number, keys and times."""
    loan.refresh_from_db()
    skip = {"id", "loan_no", "created_at", "customer"}
    fields = {f.attname: getattr(loan, f.attname) for f in Loan._meta.concrete_fields if f.name not in skip}
    fields["customer_id"] = None
    rows = [{k: v for k, v in r.items() if k not in {"id", "loan_id", "version_id"}}
            for r in Installment.objects.filter(loan=loan).order_by("seq").values()]
    postings = [{k: v for k, v in p.items() if k not in {"id", "loan_id", "reference", "created_at"}}
                for p in Posting.objects.filter(loan=loan).values()]
    versions = [(v.number, v.reason, v.value_date, v.posting.kind) for v in loan.schedule_versions.all()]
    audit = []
    for e in AuditEvent.objects.filter(object_type="ledger.loan", object_id=str(loan.pk)).order_by("id"):
        after = dict(e.after or {})
        after.pop("reference", None)
        audit.append((e.action, e.actor_id, e.actor_name, e.branch_id, e.business_date, e.before, after, e.reason))
    history = [(h.history_type, h.status, h.principal_fen, h.maturity_date, h.settled_on, h.source)
               for h in loan.history.all()]
    allocations = list(Allocation.objects.filter(posting__loan=loan).values_list("component", "amount_fen"))
    return {"loan": fields, "installments": rows, "postings": postings, "versions": versions, "audit": audit,
            "history": history, "allocations": allocations}


def test_bulk_import_writes_exactly_what_book_loan_and_disburse_write(tmp_path, customer, product, retail_product):
    rows = [loan_row(f"B{i}", **v) for i, v in enumerate(VARIANTS)]
    bulk = import_file("loans", write_csv(tmp_path, "bulk.csv", LOAN_HEADER, rows), actor=None)
    assert bulk.accepted == len(VARIANTS), bulk.rejected
    slow = import_file("loans", write_csv(tmp_path, "slow.csv", LOAN_HEADER, [["S" + r[0][1:], *r[1:]] for r in rows]),
                       actor=None, bulk=False)
    assert slow.accepted == len(VARIANTS), slow.rejected
    for i in range(len(VARIANTS)):
        b, s = Loan.objects.get(loan_no=f"B{i}"), Loan.objects.get(loan_no=f"S{i}")
        assert _snapshot(b) == _snapshot(s), VARIANTS[i]
        assert check(b) == []


def test_imported_loan_equals_a_loan_booked_by_hand(tmp_path, customer, product):
    booked = services.book_loan(actor=None, loan_no="M1", customer=customer, product=product,
                                principal=Decimal("100000.00"), annual_rate=Decimal("0.0435"), term_months=12,
                                start_date=dt.date(2026, 1, 15), source="import")
    services.disburse(actor=None, loan=booked, value_date=dt.date(2026, 1, 15), reference="IMPORT-M1")
    import_file("loans", write_csv(tmp_path, "a.csv", LOAN_HEADER, [loan_row("I1")]), actor=None)
    assert _snapshot(Loan.objects.get(loan_no="I1")) == _snapshot(Loan.objects.get(loan_no="M1"))


def test_bulk_and_service_paths_reject_the_same_rows(tmp_path, customer, product):
    rows = [loan_row("X1", principal="-1"), loan_row("X2", product="XX"), loan_row("X3", rate="20"),
            loan_row("X4", term="200"), loan_row("X5", start="2026-07-01"), loan_row("X6", first_due="2026-01-01"),
            loan_row("X7", method="bullet", term="5", frequency="quarterly"), loan_row("X8", term="5",
                                                                                        frequency="quarterly")]
    bulk = import_file("loans", write_csv(tmp_path, "a.csv", LOAN_HEADER, rows), actor=None)
    slow = import_file("loans", write_csv(tmp_path, "b.csv", LOAN_HEADER, [["Y" + r[0][1:], *r[1:]] for r in rows]),
                       actor=None, bulk=False)
    assert errors_of(bulk) == errors_of(slow)
    assert [e.message for e in bulk.rejected] == [e.message for e in slow.rejected]
    assert bulk.accepted == slow.accepted == 1  # X7: a bullet loan's term need not be whole quarters


def test_large_file_through_the_worker_process(tmp_path, make_customer, product, business_date, monkeypatch):
    monkeypatch.setattr(imports, "BATCH", 3)
    for _i in range(4):
        make_customer("BJ")
    rows = [loan_row(f"P{i}", customer_no=f"C{i % 4 + 1:05d}", term=str(6 + i)) for i in range(10)]
    rows[4][4] = "-1"
    result = import_file("loans", write_csv(tmp_path, "p.csv", LOAN_HEADER, rows), actor=None, parallel=True)
    assert result.accepted == 9 and errors_of(result) == [(6, "principal")]
    assert all(check(loan) == [] for loan in Loan.objects.all())


# --- xlsx and encodings ----------------------------------------------------------------------


def test_xlsx_numbers_and_dates_are_converted_exactly(tmp_path, customer, product):
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(LOAN_HEADER)
    sheet.append(["X1", "C00001", "WC", "CNY", 100000.5, 4.35, 12, None, None, dt.datetime(2026, 1, 15), None])
    sheet.append(["X2", "C00001", "WC", "CNY", 1234.567, 4.35, 12, None, None, dt.date(2026, 1, 15), None])
    sheet.append(["X3", "C00001", "WC", "CNY", 20000, 0.049, 24, "等额本金", "按月", "2026/03/01", None])
    sheet.cell(row=4, column=6).number_format = "0.00%"
    sheet.append([])  # blank rows are skipped
    sheet.append(["X4", "C00001", "WC", "CNY", "abc", 4.35, 12, None, None, dt.date(2026, 1, 15), None])
    target = tmp_path / "loans.xlsx"
    book.save(target)
    result = import_file("loans", target, actor=None)
    assert errors_of(result) == [(3, "principal"), (6, "principal")]
    x1 = Loan.objects.get(loan_no="X1")
    assert x1.principal_fen == 10_000_050 and x1.annual_rate == Decimal("0.0435")
    assert x1.start_date == dt.date(2026, 1, 15)
    x3 = Loan.objects.get(loan_no="X3")
    assert x3.annual_rate == Decimal("0.049") and x3.method == "equal_principal"


def test_xlsx_written_by_xlsxwriter(tmp_path, customer, product):
    import xlsxwriter

    target = tmp_path / "repay.xlsx"
    book = xlsxwriter.Workbook(str(target))
    sheet = book.add_worksheet()
    date_format = book.add_format({"num_format": "yyyy-mm-dd"})
    import_file("loans", write_csv(tmp_path, "l.csv", LOAN_HEADER, [loan_row("L1")]), actor=None)
    sheet.write_row(0, 0, ["loan_no", "value_date", "amount", "reference"])
    sheet.write_row(1, 0, ["L1", None, 1234.56, "R1"])
    sheet.write_datetime(1, 1, dt.datetime(2026, 3, 1), date_format)
    book.close()
    result = import_file("repayments", target, actor=None)
    assert result.accepted == 1, result.rejected
    assert Posting.objects.get(reference="R1").amount_fen == 123456


CUSTOMER_HEADER = ["customer_no", "kind", "name", "id_number", "branch_code", "industry_code", "phone"]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_csv_in_utf8_with_or_without_bom_and_gb18030(tmp_path, bank, business_date, encoding):
    rows = [["K1", "corporate", "北京测试科技有限公司", make_uscc(_rng()), "BJ", "13", ""],
            ["K2", "个人", "张三", make_resident_id(_rng()), "BJ01", "", "13800000000"]]
    result = import_file("customers", write_csv(tmp_path, "c.csv", CUSTOMER_HEADER, rows, encoding), actor=None)
    assert result.accepted == 2, result.rejected
    assert Customer.objects.get(customer_no="K1").name == "北京测试科技有限公司"
    assert Customer.objects.get(customer_no="K2").kind == "individual"


def _rng(seed=[0]):  # noqa: B006 - a counter across calls
    import random

    seed[0] += 1
    return random.Random(seed[0])


def test_unreadable_files_are_a_format_error(tmp_path, db):
    target = tmp_path / "x.xls"
    target.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100)
    with pytest.raises(imports.ImportFormatError):
        import_file("loans", target, actor=None)
    with pytest.raises(imports.ImportFormatError):
        import_file("loans", b"\x00\x01\xff\xfe\xfa" * 10, actor=None)


# --- customers --------------------------------------------------------------------------------


def test_customers_good_bad_and_unchanged(tmp_path, bank, business_date):
    uscc, rid = make_uscc(_rng()), make_resident_id(_rng())
    rows = [["K1", "corporate", "甲公司", uscc, "BJ", "13", ""],          # 2 good
            ["K2", "individual", "李四", rid, "SH", "", ""],             # 3 good
            ["K3", "corporate", "乙公司", "91110000XXXXXXXXXX", "BJ", "13", ""],  # 4 bad USCC
            ["K4", "corporate", "丙公司", make_uscc(_rng()), "BJ", "", ""],  # 5 no industry
            ["K5", "individual", "王五", make_resident_id(_rng()), "ZZ", "", ""],  # 6 unknown branch
            ["K6", "individual", "赵六", rid, "BJ", "", ""],             # 7 identifier taken (K2)
            ["K7", "robot", "X", rid, "BJ", "", ""],                     # 8 kind
            ["K8", "corporate", "丁公司", make_uscc(_rng()), "BJ", "A", ""]]  # 9 a section, not a division
    target = write_csv(tmp_path, "c.csv", CUSTOMER_HEADER, rows)
    result = import_file("customers", target, actor=None)
    assert result.accepted == 2
    assert errors_of(result) == [(4, "id_number"), (5, "industry_code"), (6, "branch_code"), (7, "id_number"),
                                 (8, "kind"), (9, "industry_code")]
    before = counts()
    again = import_file("customers", target, actor=None)
    assert (again.accepted, again.unchanged) == (0, 2) and counts() == before
    renamed = import_file("customers", write_csv(tmp_path, "d.csv", CUSTOMER_HEADER,
                                                 [["K1", "corporate", "甲公司（新）", uscc, "BJ", "13", ""]]), actor=None)
    assert errors_of(renamed) == [(2, "name")] and "甲公司" in renamed.rejected[0].message


def test_bulk_customers_write_what_create_customer_writes(tmp_path, bank, business_date, make_user):
    officer = make_user("credit_officer", "BJ")
    rows = [["K1", "corporate", "甲公司", make_uscc(_rng()), "BJ", "13", "010-1234"],
            ["K2", "individual", "李四", make_resident_id(_rng()), "BJ01", "", ""]]
    header = [*CUSTOMER_HEADER, "officer_username", "region", "email"]
    rows = [r + [officer.username, "北京", "a@example.com"] for r in rows]
    import_file("customers", write_csv(tmp_path, "a.csv", header, rows), actor=None)
    import_file("customers", write_csv(tmp_path, "b.csv", header, [["S" + r[0][1:], r[1], r[2],
                                                                     make_uscc(_rng()) if r[1] == "corporate"
                                                                     else make_resident_id(_rng()), *r[4:]]
                                                                    for r in rows]), actor=None, bulk=False)

    def snap(no):
        c = Customer.objects.get(customer_no=no)
        values = {f.attname: getattr(c, f.attname) for f in Customer._meta.concrete_fields
                  if f.attname not in {"id", "customer_no", "id_number", "created_at"}}
        event = AuditEvent.objects.get(object_type="customers.customer", object_id=str(c.pk))
        after = {k: v for k, v in event.after.items() if k not in {"customer_no", "id_number"}}
        history = [(h.history_type, h.name, h.branch_id, h.history_user_id) for h in c.history.all()]
        return values, (event.action, event.actor_id, event.branch_id, event.before, after), history

    assert snap("K1") == snap("S1") and snap("K2") == snap("S2")


# --- repayments -------------------------------------------------------------------------------


REPAY_HEADER = ["loan_no", "value_date", "amount", "reference"]


def test_repayments_good_and_bad_rows_and_idempotency(tmp_path, make_loan):
    loan = make_loan(principal="12000.00", rate="0.06", term=12, start=dt.date(2026, 1, 15))
    small = make_loan(principal="1200.00", rate="0.06", term=12, start=dt.date(2026, 6, 1))
    quote = services.payoff_quote(small, dt.date(2026, 6, 10))
    services.post_repayment(actor=None, loan=small, amount=Decimal(quote.total) / 100,
                            value_date=dt.date(2026, 6, 10), reference="PAYOFF")
    small.refresh_from_db()
    assert small.status == Loan.Status.SETTLED
    pending = make_loan(disburse=False)
    rows = [[loan.loan_no, "2026-02-15", "1032.80", "R1"],        # 2 good
            ["L404", "2026-02-15", "100.00", "R2"],                # 3 unknown loan
            [small.loan_no, "2026-06-20", "100.00", "R3"],         # 4 closed loan
            [loan.loan_no, "2026-07-01", "100.00", "R4"],          # 5 after the business date
            [loan.loan_no, "2026-02-15", "2000.00", "R1"],         # 6 reference used, other amount
            [loan.loan_no, "2026-03-15", "-1", "R5"],              # 7 amount
            [loan.loan_no, "15/03/2026", "10.00", "R6"],           # 8 date
            [loan.loan_no, "2026-03-15", "10.00", ""],             # 9 reference
            [pending.loan_no, "2026-03-15", "10.00", "R7"],        # 10 not disbursed
            [loan.loan_no, "2026-03-15", "1032.80", "R8"]]         # 11 good
    target = write_csv(tmp_path, "r.csv", REPAY_HEADER, rows)
    result = import_file("repayments", target, actor=None)
    assert result.accepted == 2
    assert errors_of(result) == [(3, "loan_no"), (4, "loan_no"), (5, "value_date"), (6, "amount"), (7, "amount"),
                                 (8, "value_date"), (9, "reference"), (10, "loan_no")]
    assert "1032.80" in next(e.message for e in result.rejected if e.row == 6)
    loan.refresh_from_db()
    assert check(loan) == []
    before = counts()
    again = import_file("repayments", target, actor=None)
    assert (again.accepted, again.unchanged) == (0, 2) and counts() == before


# --- permissions and the actor ----------------------------------------------------------------


def test_a_collector_may_not_import(tmp_path, customer, product, make_user):
    target = write_csv(tmp_path, "loans.csv", LOAN_HEADER, [loan_row("L1")])
    with pytest.raises(PermissionDenied):
        import_file("loans", target, actor=make_user("collector", "BJ"))
    assert not Loan.objects.exists()


def test_an_accountant_imports_in_their_branch_only_and_is_recorded(tmp_path, make_customer, product,
                                                                    business_date, make_user):
    make_customer("BJ01")  # C00001: in the Beijing subtree
    make_customer("SH")  # C00002
    accountant = make_user("accountant", "BJ")
    target = write_csv(tmp_path, "loans.csv", LOAN_HEADER, [loan_row("L1"), loan_row("L2", customer_no="C00002")])
    result = import_file("loans", target, actor=accountant)
    assert result.accepted == 1 and errors_of(result) == [(3, "branch_code")]
    loan = Loan.objects.get(loan_no="L1")
    assert Posting.objects.get(loan=loan).actor == accountant
    events = AuditEvent.objects.filter(object_type="ledger.loan", object_id=str(loan.pk))
    assert {e.actor_id for e in events} == {accountant.pk} and events.count() == 2
    rows = [["K9", "individual", "钱七", make_resident_id(_rng()), "SH", "", ""]]
    refused = import_file("customers", write_csv(tmp_path, "c.csv", CUSTOMER_HEADER, rows), actor=accountant)
    assert errors_of(refused) == [(2, "branch_code")]
    repay = write_csv(tmp_path, "r.csv", REPAY_HEADER, [["L1", "2026-02-15", "100.00", "R1"]])
    assert import_file("repayments", repay, actor=accountant).accepted == 1
    assert Posting.objects.get(reference="R1").actor == accountant


# --- the command --------------------------------------------------------------------------------


def test_command_reports_and_exits_by_outcome(tmp_path, customer, product):
    good = write_csv(tmp_path, "good.csv", LOAN_HEADER, [loan_row("L1")])
    out = io.StringIO()
    call_command("import", "loans", str(good), stdout=out)
    assert "1 accepted, 0 unchanged, 0 rejected" in out.getvalue()
    bad = write_csv(tmp_path, "bad.csv", LOAN_HEADER, [loan_row("L1"), loan_row("L2", principal="-1")])
    out = io.StringIO()
    with pytest.raises(CommandError) as err:
        call_command("import", "loans", str(bad), stdout=out)
    assert err.value.returncode == 1
    assert "row 3, principal:" in out.getvalue() and "1 unchanged" in out.getvalue()
    for args in (["things", str(good)], ["loans", str(tmp_path / "missing.csv")]):
        with pytest.raises(CommandError) as err:
            call_command("import", *args, stdout=io.StringIO())
        assert err.value.returncode == 2
    dry = write_csv(tmp_path, "dry.csv", LOAN_HEADER, [loan_row("L5")])
    out = io.StringIO()
    call_command("import", "loans", str(dry), "--dry-run", stdout=out)
    assert "Dry run" in out.getvalue() and not Loan.objects.filter(loan_no="L5").exists()


# --- the API ------------------------------------------------------------------------------------


@pytest.mark.urls(__name__)
def test_api_imports_a_file_and_json_rows(tmp_path, api, customer, product):
    client = api("accountant", "BJ")
    good = write_csv(tmp_path, "loans.csv", LOAN_HEADER, [loan_row("L1"), loan_row("L2", principal="-1")])
    with good.open("rb") as f:
        response = client.post("/api/imports/loans/", {"file": f}, format="multipart")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["kind"], body["rows"], body["accepted"], body["unchanged"]) == ("loans", 2, 1, 0)
    assert body["rejected"] == [{"row": 3, "field": "principal", "message": body["rejected"][0]["message"]}]
    rows = [dict(zip(LOAN_HEADER, loan_row("J1"), strict=True)), dict(zip(LOAN_HEADER, loan_row("J2"), strict=True))]
    rows[0]["principal"] = 100000.5  # a JSON number: read as a decimal, never a float
    rows[1].pop("currency")
    response = client.post("/api/imports/loans/", data=json.dumps(rows), content_type="application/json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["accepted"] == 1 and [(e["row"], e["field"]) for e in body["rejected"]] == [(2, "currency")]
    assert Loan.objects.get(loan_no="J1").principal_fen == 10_000_050
    dry = client.post("/api/imports/loans/?dry_run=1", data=json.dumps([dict(zip(LOAN_HEADER, loan_row("J3"),
                                                                                  strict=True))]),
                      content_type="application/json")
    assert dry.json()["accepted"] == 1 and not Loan.objects.filter(loan_no="J3").exists()


@pytest.mark.urls(__name__)
def test_api_refuses_malformed_requests_and_other_roles(tmp_path, api, customer, product):
    client = api("accountant", "BJ")
    assert client.post("/api/imports/things/", data="[]", content_type="application/json").status_code == 400
    assert client.post("/api/imports/loans/", {}, format="multipart").status_code == 400
    assert client.post("/api/imports/loans/", data='{"a": 1}', content_type="application/json").status_code == 400
    assert client.post("/api/imports/loans/", data="not json", content_type="application/json").status_code == 400
    pdf = tmp_path / "x.xls"
    pdf.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100)
    with pdf.open("rb") as f:
        response = client.post("/api/imports/loans/", {"file": f}, format="multipart")
    assert response.status_code == 400 and "file" in response.json()
    rows = json.dumps([dict(zip(LOAN_HEADER, loan_row("L1"), strict=True))])
    collector = api("collector", "BJ")
    assert collector.post("/api/imports/loans/", data=rows, content_type="application/json").status_code == 403
    assert not Loan.objects.exists()


def test_import_rows_reports_missing_and_unknown_keys_per_row(customer, product):
    good = dict(zip(LOAN_HEADER, loan_row("L1"), strict=True))
    result = import_rows("loans", [good, {**good, "loan_no": "L2", "colour": "red"}, "nonsense"], actor=None)
    assert result.accepted == 1 and errors_of(result) == [(2, "colour"), (3, "row")]


# --- the sample files of docs/import-format.md --------------------------------------------------


def test_the_sample_files_import_in_order_and_again_unchanged(bank, business_date, product):
    from pathlib import Path

    fixtures = Path(__file__).parent / "fixtures"
    for kind, rows in (("customers", 4), ("loans", 4), ("repayments", 3)):
        result = import_file(kind, fixtures / f"{kind}.csv", actor=None)
        assert (result.rows, result.accepted, result.rejected) == (rows, rows, []), (kind, result.rejected)
    l1 = Loan.objects.get(loan_no="L20260001")
    assert l1.principal_fen == 100_000_000 and l1.guarantee_type == "mortgage"
    assert Posting.objects.filter(loan=l1, kind="disbursement").get().reference == "CORE-D-0001"
    assert Loan.objects.get(loan_no="L20260002").method == "equal_principal"
    assert Loan.objects.get(loan_no="L20260004").status == Loan.Status.PENDING
    assert all(check(loan) == [] for loan in Loan.objects.exclude(status=Loan.Status.PENDING))
    before = counts()
    for kind in ("customers", "loans", "repayments"):
        result = import_file(kind, fixtures / f"{kind}.csv", actor=None)
        assert result.accepted == 0 and not result.rejected
    assert counts() == before
