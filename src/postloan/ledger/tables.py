"""Tables of the ledger's lists: amounts are integer fen shown as money, right-aligned."""

from __future__ import annotations

import django_tables2 as tables
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from postloan.kernel.money import format_amount
from postloan.web.tables import BaseTable

from .models import Loan, ReversalRequest
from .templatetags.ledger_tags import status_badge

NUM = {"td": {"class": "num"}, "th": {"class": "num"}}
NOWRAP = {"td": {"class": "text-nowrap"}}


class FenColumn(tables.Column):
    """Integer fen as ``1,234.56``, right-aligned."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("attrs", NUM)
        super().__init__(*args, **kwargs)

    def render(self, value):
        return format_amount(int(value))


class LoanTable(BaseTable):
    loan_no = tables.Column(linkify=lambda record: reverse("loan-detail", args=[record.loan_no]))
    customer = tables.Column(linkify=lambda record: reverse("customer-detail", args=[record.customer.customer_no]),
                             order_by=("customer__name",), accessor="customer__name", verbose_name=_("Customer"))
    product = tables.Column(accessor="product__name", order_by=("product__code",), verbose_name=_("Product"))
    branch = tables.Column(accessor="branch__name", order_by=("branch__code",), verbose_name=_("Branch"))
    officer = tables.Column(accessor="officer", order_by=("officer__full_name",))
    principal_fen = FenColumn()
    principal_outstanding_fen = FenColumn()
    total_due = FenColumn(accessor="total_due_fen", orderable=False, verbose_name=_("Due now"))
    days_past_due = tables.Column(attrs=NUM)
    bucket = tables.Column()
    status = tables.Column()
    next_due_date = tables.DateColumn(format="Y-m-d", attrs=NOWRAP)
    maturity_date = tables.DateColumn(format="Y-m-d", attrs=NOWRAP)

    class Meta(BaseTable.Meta):
        model = Loan
        fields = ["loan_no", "customer", "product", "branch", "officer", "principal_fen",
                  "principal_outstanding_fen", "total_due", "days_past_due", "bucket", "status", "next_due_date",
                  "maturity_date"]
        row_attrs = {"data-loan": lambda record: record.loan_no}

    def render_status(self, record):
        return status_badge(record)


class ReversalRequestTable(BaseTable):
    requested_at = tables.DateTimeColumn(format="Y-m-d H:i", attrs=NOWRAP)
    loan = tables.Column(accessor="posting__loan__loan_no", verbose_name=_("Loan"),
                         linkify=lambda record: reverse("loan-detail", args=[record.posting.loan.loan_no]))
    posting = tables.Column(accessor="posting__reference", verbose_name=_("Posting"))
    kind = tables.Column(accessor="posting__kind", verbose_name=_("Kind"), orderable=False)
    value_date = tables.DateColumn(accessor="posting__value_date", format="Y-m-d", verbose_name=_("Value date"),
                                  attrs=NOWRAP)
    amount = FenColumn(accessor="posting__amount_fen", verbose_name=_("Amount"))
    requested_by = tables.Column(accessor="requested_by")
    reason = tables.Column()
    status = tables.Column()
    actions = tables.Column(empty_values=(), orderable=False, verbose_name="")

    class Meta(BaseTable.Meta):
        model = ReversalRequest
        fields = ["requested_at", "loan", "posting", "kind", "value_date", "amount", "requested_by", "reason",
                  "status", "actions"]
        order_by = ("-requested_at",)
        row_attrs = {"data-request": lambda record: record.pk}

    def render_kind(self, record):
        return record.posting.get_kind_display()

    def render_status(self, record):
        return status_badge(record)

    def render_actions(self, record):
        if record.status != ReversalRequest.Status.PENDING:
            return format_html("{}", record.decided_by or "")
        user = getattr(getattr(self, "request", None), "user", None)
        mine = user is not None and record.requested_by_id == user.pk
        return render_to_string("ledger/_reversal_actions.html", {"req": record, "mine": mine})
