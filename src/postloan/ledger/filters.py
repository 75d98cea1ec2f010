"""Filters of the ledger's lists. Choices (branches, officers) are limited to what the user may see."""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from postloan.org.models import Branch, User
from postloan.org.permissions import branch_q
from postloan.org.roles import CREDIT_OFFICER

from .engine import BUCKETS
from .models import Loan, Product, ReversalRequest

BUCKET_CHOICES = [(name, name) for _limit, name in BUCKETS] + [("M7+", "M7+")]
YES_NO = [("yes", _("Yes")), ("no", _("No"))]


class BootstrapFilterSet(django_filters.FilterSet):
    """Bootstrap classes on the filter form's widgets."""

    @property
    def form(self):
        form = super().form
        if not getattr(form, "_styled", False):
            for field in form.fields.values():
                widget = field.widget
                css = "form-select" if isinstance(widget, forms.Select) else "form-control"
                widget.attrs["class"] = f"{widget.attrs.get('class', '')} {css}".strip()
            form._styled = True
        return form


def branches_in_scope(request):
    if request is None:
        return Branch.objects.none()
    return Branch.objects.filter(branch_q(request.user, "")).order_by("path")


def officers_in_scope(request):
    if request is None:
        return User.objects.none()
    return (User.objects.filter(branch_q(request.user, "branch"), groups__name=CREDIT_OFFICER)
            .order_by("full_name", "username").distinct())


class LoanFilter(BootstrapFilterSet):
    q = django_filters.CharFilter(method="search", label=_("Loan or customer"))
    branch = django_filters.ModelChoiceFilter(queryset=branches_in_scope, label=_("Branch"),
                                              method="filter_branch")
    officer = django_filters.ModelChoiceFilter(queryset=officers_in_scope, label=_("Credit officer"))
    product = django_filters.ModelChoiceFilter(queryset=Product.objects.all(), label=_("Product"))
    status = django_filters.ChoiceFilter(choices=Loan.Status.choices, label=_("Status"))
    overdue = django_filters.ChoiceFilter(choices=YES_NO, method="filter_overdue", label=_("Overdue"))
    bucket = django_filters.ChoiceFilter(choices=BUCKET_CHOICES, label=_("Bucket"))

    class Meta:
        model = Loan
        fields = ["q", "branch", "officer", "product", "status", "overdue", "bucket"]

    def search(self, queryset, name, value):
        value = value.strip()
        return queryset.filter(Q(loan_no__icontains=value) | Q(customer__name__icontains=value)
                               | Q(customer__customer_no__iexact=value))

    def filter_branch(self, queryset, name, value):
        """The branch and the branches below it (a branch's loans include its sub-branches')."""
        return queryset.filter(branch__path__startswith=value.path)

    def filter_overdue(self, queryset, name, value):
        return queryset.filter(days_past_due__gt=0) if value == "yes" else queryset.filter(days_past_due=0)


class ReversalRequestFilter(BootstrapFilterSet):
    status = django_filters.ChoiceFilter(choices=ReversalRequest.Status.choices, label=_("Status"),
                                         empty_label=_("Any"))
    loan = django_filters.CharFilter(field_name="posting__loan__loan_no", lookup_expr="iexact",
                                     label=_("Loan number"))

    class Meta:
        model = ReversalRequest
        fields = ["status", "loan"]

    def __init__(self, data=None, *args, **kwargs):
        # The list opens on what is waiting: pending requests, unless a status was chosen.
        if data is None or "status" not in data:
            data = data.copy() if data is not None else {}
            data["status"] = ReversalRequest.Status.PENDING
        super().__init__(data, *args, **kwargs)

