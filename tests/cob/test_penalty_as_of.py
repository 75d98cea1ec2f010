"""Penalty a day kept on the loan: the close of business adds each loan's daily penalty and compound interest to
what it owes and leaves the overdue installments as they were stored (``Loan.penalty_as_of``); whatever shows
an installment (the API's schedule, the loan page) brings it to date, the batch's audit totals reconcile to
what the replay charged, and migration ledger 0010 gives existing loans their daily amounts."""

from __future__ import annotations

import datetime as dt
import importlib
import re
from decimal import Decimal
from types import SimpleNamespace

from django.apps import apps
from django.db import connection
from django.db.models import F
from django.test import Client
from django.urls import reverse

from postloan.cob import runner
from postloan.cob.models import CobStep
from postloan.kernel.money import format_amount
from postloan.ledger import services
from postloan.ledger.models import Installment, Loan, Posting
from postloan.ledger.state import check, expected, penalty_to_date, replayed


def _charged() -> tuple[int, int]:
    """Penalty and compound interest the replay says every open loan was charged through its state's date."""
    penalty = compound = 0
    for loan in Loan.objects.filter(status__in=["active", "overdue"]).select_related("product"):
        state = replayed(loan, loan.state_as_of)
        penalty += sum(s.penalty for s in state.installments)
        compound += sum(s.compound for s in state.installments)
    return penalty, compound


def _stored_overdue() -> dict[int, tuple[int, int]]:
    return {pk: (p, c) for pk, p, c in Installment.objects.filter(status="overdue").values_list(
        "id", "penalty_fen", "compound_fen")}


def test_the_close_adds_the_daily_penalty_and_leaves_overdue_installments_as_stored(portfolio, api):
    runner.run(to=dt.date(2026, 1, 9))
    before_rows = _stored_overdue()
    before = _charged()

    runner.run(to=dt.date(2026, 1, 14))
    # a repayment written straight to the table, as a feed without the services would: the close replays the
    # loan on its value date, and the day's totals must count only that day's penalty on it
    replayed_loan = Loan.objects.filter(penalty_daily_fen__gt=0).order_by("-id").first()
    Posting.objects.create(loan=replayed_loan, kind=Posting.Kind.REPAYMENT, value_date=dt.date(2026, 1, 15),
                           booking_date=dt.date(2026, 1, 15), amount_fen=1_000, reference="FEED-1")
    runner.run(to=dt.date(2026, 1, 20))  # eleven days in all
    replayed_loan.refresh_from_db()
    assert replayed_loan.penalty_as_of == dt.date(2026, 1, 15)

    # loans the close advanced every day since the 9th (not replayed) kept their overdue installments as
    # they were stored, and owe what the replay says
    kept = Loan.objects.filter(penalty_daily_fen__gt=0, penalty_as_of__lte=dt.date(2026, 1, 9),
                               state_as_of=dt.date(2026, 1, 20))
    assert kept.count() >= 5
    after_rows = _stored_overdue()
    rows = [pk for pk in Installment.objects.filter(loan__in=kept, status="overdue").values_list("id", flat=True)
            if pk in before_rows]  # overdue already on the 9th
    assert len(rows) >= 5
    assert {pk: after_rows[pk] for pk in rows} == {pk: before_rows[pk] for pk in rows}
    assert [p for loan in Loan.objects.exclude(status="pending") for p in check(loan)] == []

    # the batch's audit totals are what the replay charged over those days, to the fen
    steps = CobStep.objects.filter(name="ledger.close_day", day__date__gt=dt.date(2026, 1, 9))
    assert steps.count() == 11
    after = _charged()
    assert sum(s.totals["penalty_accrued"] for s in steps) == after[0] - before[0] > 0
    assert sum(s.totals["compound_accrued"] for s in steps) == after[1] - before[1] > 0

    # the API's schedule shows each installment's penalty brought to date: the replay's
    loan = kept.select_related("product").order_by("id").first()
    state = replayed(loan, loan.state_as_of)
    by_number = {s.number: s for s in state.installments}
    schedule = api("auditor", "HO").get(f"/api/loans/{loan.loan_no}/schedule/").json()
    overdue = [row for row in schedule if row["status"] == "overdue"]
    assert overdue
    for row in overdue:
        s = by_number[row["number"]]
        assert (Decimal(row["penalty"]), Decimal(row["compound"])) == (Decimal(s.penalty) / 100,
                                                                       Decimal(s.compound) / 100)
    stored = Installment.objects.get(loan=loan, number=overdue[0]["number"], status="overdue")
    assert Decimal(overdue[0]["penalty"]) > Decimal(stored.penalty_fen) / 100  # more than what is stored


def test_a_repayment_brings_the_loans_installments_to_date(portfolio):
    runner.run(to=dt.date(2026, 1, 15))
    loan = Loan.objects.filter(penalty_daily_fen__gt=0, penalty_as_of__lt=dt.date(2026, 1, 15)).select_related(
        "product").order_by("id").first()
    services.post_repayment(actor=None, loan=loan, amount=Decimal("10.00"), value_date=dt.date(2026, 1, 16),
                            reference="PART-1")
    loan.refresh_from_db()
    assert loan.penalty_as_of == dt.date(2026, 1, 16) == loan.state_as_of
    # stored as of today: nothing left to bring to date, and it is the replay's
    rows = list(Installment.objects.filter(loan=loan).exclude(status="superseded"))
    assert [(r.penalty_fen, r.compound_fen) for r in penalty_to_date(loan, rows)] == [
        (r.penalty_fen, r.compound_fen) for r in Installment.objects.filter(loan=loan).exclude(status="superseded")]
    assert check(loan) == []
    runner.run(to=dt.date(2026, 1, 25))
    assert [p for loan in Loan.objects.exclude(status="pending") for p in check(loan)] == []


def test_the_loan_page_shows_installments_brought_to_date(portfolio, make_user):
    runner.run(to=dt.date(2026, 1, 20))
    loan = Loan.objects.filter(penalty_daily_fen__gt=0, penalty_as_of__lt=dt.date(2026, 1, 20)).select_related(
        "product").order_by("id").first()
    state = replayed(loan, loan.state_as_of)
    total = sum(s.penalty for s in state.installments if s.status == "overdue")
    stored = sum(Installment.objects.filter(loan=loan, status="overdue").values_list("penalty_fen", flat=True))
    assert total > stored
    client = Client()
    client.force_login(make_user("auditor", "HO"))
    page = client.get(reverse("loan-detail", args=[loan.loan_no])).content.decode()
    shown = 0
    for s in state.installments:
        if s.status == "overdue" and s.penalty:
            row = re.search(rf'<tr data-installment="{s.number}" data-status="overdue".*?</tr>', page, re.S).group(0)
            cells = re.findall(r'<td class="num">([^<]*)</td>', row)
            assert cells[3:5] == [format_amount(s.penalty), format_amount(s.compound)]  # penalty, compound
            shown += 1
    assert shown

def test_migration_gives_existing_loans_their_daily_amounts(portfolio):
    """Migration ledger 0010 on loans stored the old way (installments' penalty through state_as_of, no daily
    amounts): each loan gets what the engine states, and the next days close to the fen."""
    runner.run(to=dt.date(2026, 1, 12))
    services.post_repayment(actor=None, loan=Loan.objects.filter(status="overdue").order_by("id").first(),
                            amount=Decimal("1.00"), value_date=dt.date(2026, 1, 13), reference="ONE-1")
    wanted = {}
    for loan in Loan.objects.filter(status__in=["active", "overdue"]).select_related("product"):
        values, rows, _state, data = expected(loan, loan.state_as_of)
        wanted[loan.pk] = (values["penalty_daily_fen"], values["compound_daily_fen"])
        for seq, row in data.installments.items():  # the old way: every installment stored to date
            Installment.objects.filter(pk=row.pk).update(penalty_fen=rows[seq]["penalty_fen"],
                                                         compound_fen=rows[seq]["compound_fen"])
    Loan.objects.update(penalty_as_of=None, penalty_daily_fen=0, compound_daily_fen=0)
    assert sum(p for p, _c in wanted.values()) > 0

    migration = importlib.import_module("postloan.ledger.migrations.0010_penalty_daily")
    migration.backfill(apps, SimpleNamespace(connection=connection))

    got = {pk: (p, c) for pk, p, c in Loan.objects.filter(pk__in=wanted).values_list(
        "id", "penalty_daily_fen", "compound_daily_fen")}
    assert got == wanted
    assert not Loan.objects.filter(pk__in=wanted).exclude(penalty_as_of=F("state_as_of")).exists()
    assert [p for loan in Loan.objects.exclude(status="pending") for p in check(loan)] == []
    runner.run(to=dt.date(2026, 1, 20))
    assert [p for loan in Loan.objects.exclude(status="pending") for p in check(loan)] == []

