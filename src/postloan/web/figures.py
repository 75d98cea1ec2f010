"""The home page's figures: a credit officer's own loans, and the portfolio by branch below a user's branch.

Read-only selectors the view calls (the views stay thin); the branch figures come from the close of
business's daily aggregates, not from the live ledger.
"""

from __future__ import annotations

from django.db.models import Count, Max, Q, Sum
from django.urls import reverse
from django.utils.http import urlencode

from postloan.kernel.money import format_amount
from postloan.org.models import Branch
from postloan.org.permissions import branch_q, restrict


def _loan_list_url(**params) -> str:
    return f"{reverse('loan-list')}?{urlencode(params)}"


def my_loans(user) -> dict:
    """A credit officer's own open loans in figures, read live like the work queues (an officer's loans are a
    small, indexed set): how many, the principal outstanding, how many are overdue and their overdue principal."""
    from postloan.ledger.models import Loan

    open_loans = restrict(Loan.objects.all(), user, "ledger.view_loan").filter(
        officer=user, status__in=(Loan.Status.ACTIVE, Loan.Status.OVERDUE))
    figures = open_loans.aggregate(
        open=Count("id"), outstanding=Sum("principal_outstanding_fen", default=0),
        overdue=Count("id", filter=Q(days_past_due__gt=0)),
        overdue_principal=Sum("overdue_principal_fen", default=0))
    return {"open": figures["open"], "outstanding": format_amount(figures["outstanding"]),
            "overdue": figures["overdue"], "overdue_principal": format_amount(figures["overdue_principal"]),
            "url": _loan_list_url(officer=user.pk), "overdue_url": _loan_list_url(officer=user.pk, overdue="yes")}


def branch_portfolio(user) -> dict | None:
    """The portfolio of each branch directly below the user's (its sub-branches included), as of the last close
    of business: statistics come from the day's pre-aggregated table, not the live ledger. A head-office user
    sees every branch. None when the user's branch has none below it, or no day has been closed yet."""
    from postloan.cob.models import PortfolioAggregate

    own = getattr(user, "branch", None)
    if own is None or not user.has_perm("ledger.view_loan"):
        return None
    children = list(Branch.objects.filter(parent=own).order_by("path"))
    if not children:
        return None
    day = PortfolioAggregate.objects.filter(dimension="branch").aggregate(day=Max("date"))["day"]
    if day is None:
        return None
    paths = dict(Branch.objects.filter(branch_q(user, "")).values_list("pk", "path"))
    totals: dict[str, list[int]] = {}  # branch path -> [loans, principal outstanding, overdue principal]
    for key, loans, outstanding, overdue in PortfolioAggregate.objects.filter(date=day, dimension="branch").values_list(
            "key", "loans", "principal_outstanding_fen", "overdue_principal_fen"):
        path = paths.get(int(key))
        if path is not None:
            totals[path] = [loans, outstanding, overdue]

    def figures(within) -> dict:
        sums = [sum(v[i] for path, v in totals.items() if within(path)) for i in range(3)]
        return {"loans": sums[0], "outstanding": format_amount(sums[1]), "overdue_principal": format_amount(sums[2])}

    rows = [{"code": b.code, "name": b.name, "url": _loan_list_url(branch=b.pk),
             **figures(lambda path, b=b: path.startswith(b.path))} for b in children]
    if own.path in totals:  # loans booked at the user's own branch itself, not below it
        rows.insert(0, {"code": own.code, "name": own.name, "url": "", "itself": True,
                        **figures(lambda path: path == own.path)})
    return {"date": day, "rows": rows, "total": {"url": reverse("loan-list"), **figures(lambda path: True)}}
