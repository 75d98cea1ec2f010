"""A loan's statement for a period, as PDF.

The statement shows the loan's terms, its balances at the start of the period (the end of the day before)
and at its end, the postings whose value date falls in the period with how each was allocated, and the
installments due in it. Balances come from a replay of the ledger (``ledger.state.replayed``), so a
statement for a past period shows what the ledger said then, corrected by any later reversal.

WeasyPrint renders the HTML; the style sheet names a CJK font (Debian's ``fonts-wqy-microhei`` or
``fonts-noto-cjk``), else Chinese prints as boxes. Nothing is fetched from the network.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from django.template.loader import render_to_string
from django.utils.translation import gettext_lazy as _

from postloan.kernel import businessdate

from .models import Installment, Loan, Posting
from .state import penalty_to_date, replayed

BALANCE_FIELDS = (
    ("principal_outstanding", _("Principal outstanding")),
    ("principal_due", _("Principal due")),
    ("interest_due", _("Interest due")),
    ("penalty_due", _("Penalty interest due")),
    ("compound_due", _("Compound interest due")),
    ("fee_due", _("Fees due")),
    ("overdue_principal", _("Overdue principal")),
    ("overdue_interest", _("Overdue interest")),
    ("interest_accrued", _("Interest accrued, not yet due")),
    ("credit", _("Credit (overpayment held)")),
)
COMPONENTS = ("principal", "interest", "penalty", "compound", "fee", "credit")


def context(loan: Loan, start: dt.date, end: dt.date) -> dict:
    """What the statement shows, as template context."""
    opening = replayed(loan, start - dt.timedelta(days=1))
    closing = replayed(loan, end)
    postings = list(
        Posting.objects.filter(loan=loan, value_date__gte=start, value_date__lte=end)
        .select_related("reverses").prefetch_related("allocations").order_by("value_date", "id"))
    reversed_refs = dict(Posting.objects.filter(loan=loan, kind=Posting.Kind.REVERSAL)
                         .values_list("reverses_id", "reference"))
    rows = []
    for p in postings:
        split = defaultdict(int)
        for a in p.allocations.all():
            split[a.component] += a.amount_fen
        rows.append({"posting": p, "split": [split.get(c, 0) for c in COMPONENTS],
                     "reversed_by": reversed_refs.get(p.id)})
    installments = penalty_to_date(loan, list(
        Installment.objects.filter(loan=loan, due_date__gte=start, due_date__lte=end)
        .exclude(status=Installment.Status.SUPERSEDED).order_by("due_date", "seq")))
    return {
        "loan": loan,
        "start": start,
        "end": end,
        "printed_on": businessdate.current(),
        "balances": [(label, getattr(opening, name), getattr(closing, name)) for name, label in BALANCE_FIELDS],
        "opening": opening,
        "closing": closing,
        "rows": rows,
        "installments": installments,
    }


def render_html(loan: Loan, start: dt.date, end: dt.date) -> str:
    return render_to_string("ledger/statement.html", context(loan, start, end))


def render_pdf(loan: Loan, start: dt.date, end: dt.date, *, base_url: str | None = None) -> bytes:
    import weasyprint
    from weasyprint.urls import URLFetcher

    # The statement embeds everything it needs: no fetch from anywhere (offline, and no request forgery).
    fetcher = URLFetcher(allowed_protocols=("data",))
    return weasyprint.HTML(string=render_html(loan, start, end), base_url=base_url,
                           url_fetcher=fetcher).write_pdf()
