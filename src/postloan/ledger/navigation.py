"""The ledger's menu entries and home work queues.

Importing this module registers them (registration is idempotent); ``LedgerConfig.ready()`` imports it.

- credit officer: their own open loans that are overdue, and those falling due in the next 7 days;
- accountant and credit head: reversal requests waiting for a second person.
"""

from __future__ import annotations

import datetime as dt

from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from postloan.kernel import businessdate
from postloan.kernel.money import format_amount
from postloan.org.permissions import restrict
from postloan.org.roles import ACCOUNTANT, CREDIT_HEAD, CREDIT_OFFICER
from postloan.web import nav, workqueue

DUE_SOON_DAYS = 7
QUEUE_LIMIT = 20


def _officer_loans(user):
    from .models import Loan

    return (restrict(Loan.objects.select_related("customer"), user, "ledger.view_loan")
            .filter(officer=user, status__in=(Loan.Status.ACTIVE, Loan.Status.OVERDUE)))


def _more(items: list[dict], total: int, params: dict) -> list[dict]:
    if total > len(items):
        items.append({"label": _("All %(n)s …") % {"n": total},
                      "url": f"{reverse('loan-list')}?{urlencode(params)}", "detail": ""})
    return items


def overdue_items(user) -> list[dict]:
    """The officer's own loans with something overdue, the longest overdue first."""
    loans = _officer_loans(user).filter(days_past_due__gt=0).order_by("-days_past_due", "loan_no")
    total = loans.count()
    items = [{
        "label": f"{loan.loan_no} · {loan.customer.name}",
        "url": reverse("loan-detail", args=[loan.loan_no]),
        "detail": _("%(days)s days past due (%(bucket)s), %(amount)s overdue") % {
            "days": loan.days_past_due, "bucket": loan.bucket,
            "amount": format_amount(loan.overdue_principal_fen + loan.overdue_interest_fen + loan.penalty_due_fen
                                    + loan.compound_due_fen)},
    } for loan in loans[:QUEUE_LIMIT]]
    return _more(items, total, {"officer": user.pk, "overdue": "yes"})


def due_soon_items(user) -> list[dict]:
    """The officer's own loans (not overdue) with an installment due in the next seven days."""
    from .models import Installment

    today = businessdate.current()
    until = today + dt.timedelta(days=DUE_SOON_DAYS)
    loans = (_officer_loans(user).filter(days_past_due=0, next_due_date__gte=today, next_due_date__lte=until)
             .order_by("next_due_date", "loan_no"))
    total = loans.count()
    shown = list(loans[:QUEUE_LIMIT])
    amounts: dict[tuple[int, dt.date], int] = {}
    rows = (Installment.objects.filter(loan__in=shown, due_date__gte=today, due_date__lte=until)
            .exclude(status__in=(Installment.Status.SUPERSEDED, Installment.Status.PAID)))
    for row in rows:
        key = (row.loan_id, row.due_date)
        amounts[key] = amounts.get(key, 0) + row.outstanding_fen
    items = [{
        "label": f"{loan.loan_no} · {loan.customer.name}",
        "url": reverse("loan-detail", args=[loan.loan_no]),
        "detail": _("due %(date)s: %(amount)s") % {
            "date": loan.next_due_date.isoformat(),
            "amount": format_amount(amounts.get((loan.pk, loan.next_due_date), 0))},
    } for loan in shown]
    return _more(items, total, {"officer": user.pk, "overdue": "no"})


def reversal_items(user) -> list[dict]:
    """Reversal requests waiting for a second person, oldest first. Your own are listed as waiting for a
    colleague (the service refuses to let you approve them)."""
    from .models import ReversalRequest

    requests = (restrict(ReversalRequest.objects.select_related("posting__loan", "requested_by"), user,
                         "ledger.approve_reversal", "posting__loan__branch")
                .filter(status=ReversalRequest.Status.PENDING).order_by("requested_at"))
    total = requests.count()
    items = []
    for req in requests[:QUEUE_LIMIT]:
        mine = req.requested_by_id == user.pk
        items.append({
            "label": f"{req.posting.loan.loan_no} · {req.posting.reference} · "
                     f"{format_amount(req.posting.amount_fen)}",
            "url": reverse("reversal-approve", args=[req.pk]),
            "detail": (_("your request: a colleague approves it") if mine else
                       _("asked by %(who)s: %(reason)s") % {"who": req.requested_by.display_name,
                                                           "reason": req.reason}),
        })
    if total > len(items):
        items.append({"label": _("All %(n)s …") % {"n": total}, "url": reverse("reversal-list"), "detail": ""})
    return items


nav.register(nav.NavItem(gettext_lazy("Customers"), "customer-list", "customers.view_customer",
                         gettext_lazy("Customers"), 100))
nav.register(nav.NavItem(gettext_lazy("Loans"), "loan-list", "ledger.view_loan", gettext_lazy("Loans"), 110))
nav.register(nav.NavItem(gettext_lazy("Reversal requests"), "reversal-list", "ledger.approve_reversal",
                         gettext_lazy("Loans"), 120))

workqueue.register(workqueue.Queue(
    key="ledger.overdue", roles=(CREDIT_OFFICER,), title=gettext_lazy("My overdue loans"), items=overdue_items,
    order=10, empty=gettext_lazy("None of your loans is overdue.")))
workqueue.register(workqueue.Queue(
    key="ledger.due_soon", roles=(CREDIT_OFFICER,), title=gettext_lazy("My loans due in the next 7 days"),
    items=due_soon_items, order=20, empty=gettext_lazy("Nothing falls due in the next 7 days.")))
workqueue.register(workqueue.Queue(
    key="ledger.reversals", roles=(ACCOUNTANT, CREDIT_HEAD), title=gettext_lazy("Reversals awaiting a second person"),
    items=reversal_items, order=30, empty=gettext_lazy("No reversal is waiting.")))
