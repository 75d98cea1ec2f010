"""Customers in the web UI: search, branch scoping, and the customer's page with contacts, related parties
and loans."""

import datetime as dt
import random
import re
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from postloan.customers import services as customer_services
from postloan.customers.identifiers import make_resident_id, make_uscc
from postloan.customers.models import Contact, Industry, RelatedParty
from postloan.kernel.models import BusinessDate
from postloan.ledger import services as ledger_services


@pytest.fixture
def login(make_user):
    def do(role: str, branch: str = "BJ", username: str | None = None) -> Client:
        client = Client()
        client.user = make_user(role, branch, username)
        client.force_login(client.user)
        return client

    return do


@pytest.fixture
def customers(bank, make_user):
    rng = random.Random(11)
    wang = make_user("credit_officer", "BJ", username="wang", full_name="王芳")
    li = make_user("credit_officer", "SH", username="li", full_name="李明")
    industry = Industry.objects.get(code="51")  # wholesale
    made = {
        "steel": customer_services.create_customer(
            actor=None, customer_no="C10001", kind="corporate", name="北京钢铁贸易有限公司",
            id_number=make_uscc(rng), branch=bank["BJ"], officer=wang, industry=industry),
        "person": customer_services.create_customer(
            actor=None, customer_no="C10002", kind="individual", name="张伟", id_number=make_resident_id(rng),
            branch=bank["BJ01"], officer=wang),
        "shanghai": customer_services.create_customer(
            actor=None, customer_no="C20001", kind="corporate", name="上海航运有限公司", id_number=make_uscc(rng),
            branch=bank["SH"], officer=li, industry=industry),
    }
    made["wang"], made["li"] = wang, li
    return made


def listed(client, **params) -> set[str]:
    return set(re.findall(r'data-customer="([^"]+)"', client.get(reverse("customer-list"), params).content.decode()))


def test_customer_list_search_by_name_number_identifier_and_officer(login, customers):
    client = login("credit_head", "HO")
    assert listed(client) == {"C10001", "C10002", "C20001"}
    assert listed(client, q="钢铁") == {"C10001"}
    assert listed(client, q="C10002") == {"C10002"}
    assert listed(client, q=customers["shanghai"].id_number) == {"C20001"}
    assert listed(client, q="王芳") == {"C10001", "C10002"}
    assert listed(client, officer=customers["li"].pk) == {"C20001"}
    assert listed(client, kind="individual") == {"C10002"}
    assert listed(client, branch=customers["steel"].branch.pk) == {"C10001", "C10002"}  # with its sub-branch


def test_customer_list_and_page_are_scoped_to_the_branch(login, customers):
    shanghai = login("credit_officer", "SH", username="sh_officer")
    assert listed(shanghai) == {"C20001"}
    assert shanghai.get(reverse("customer-detail", args=["C10001"])).status_code == 404
    assert shanghai.get(reverse("customer-detail", args=["C20001"])).status_code == 200
    assert Client().get(reverse("customer-list")).status_code == 302


def test_customer_page_shows_contacts_related_parties_and_loans(login, customers, bank):
    BusinessDate.objects.update_or_create(pk=1, defaults={"date": dt.date(2026, 6, 30)})
    steel = customers["steel"]
    Contact.objects.create(customer=steel, name="赵财务", role="finance", phone="13800000000")
    RelatedParty.objects.create(customer=steel, relation="controller", name="钱老板")
    product = ledger_services.create_product(
        actor=None, code="WC", name="流动资金贷款", segment="corporate", method="equal_installment",
        frequency="monthly", day_count="ACT/360", interest_basis="period", holiday_rule="none",
        min_rate=Decimal("0.01"), max_rate=Decimal("0.15"))
    loan = ledger_services.book_loan(actor=None, loan_no="L-STEEL-1", customer=steel, product=product,
                                     principal="50000.00", annual_rate=Decimal("0.05"), term_months=12,
                                     start_date=dt.date(2026, 1, 10))
    ledger_services.disburse(actor=None, loan=loan, value_date=dt.date(2026, 1, 10), reference="D-1")
    page = login("credit_officer", "BJ", username="bj_officer").get(reverse("customer-detail", args=["C10001"]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "北京钢铁贸易有限公司" in html and "赵财务" in html and "钱老板" in html
    assert 'data-loan="L-STEEL-1"' in html and reverse("loan-detail", args=["L-STEEL-1"]) in html
    assert "50,000.00" in html
    listing = login("credit_head", "BJ").get(reverse("customer-list")).content.decode()
    assert reverse("customer-detail", args=["C10001"]) in listing
