"""Customers in the web UI: the list (search by name, identifier, customer number, officer) and the
customer's page with their contacts, related parties and loans. Scoped to the user's branch."""

from __future__ import annotations

import django_filters
import django_tables2 as tables
from django import forms
from django.db.models import Count, Q, Sum
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.generic import TemplateView

from postloan.org.models import Branch, User
from postloan.org.permissions import branch_q, restrict
from postloan.web.tables import BaseTable
from postloan.web.views import ActionRequiredMixin, ListPage

from .models import Customer


def _branches(request):
    return Branch.objects.filter(branch_q(request.user, "")).order_by("path") if request else Branch.objects.none()


def _officers(request):
    if request is None:
        return User.objects.none()
    return (User.objects.filter(branch_q(request.user, "branch"), customers__isnull=False)
            .order_by("full_name", "username").distinct())


class CustomerFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label=_("Name, number or identifier"))
    officer = django_filters.ModelChoiceFilter(queryset=_officers, label=_("Credit officer"))
    branch = django_filters.ModelChoiceFilter(queryset=_branches, label=_("Branch"), method="filter_branch")
    kind = django_filters.ChoiceFilter(choices=Customer.Kind.choices, label=_("Kind"))

    class Meta:
        model = Customer
        fields = ["q", "officer", "branch", "kind"]

    @property
    def form(self):
        form = super().form
        for field in form.fields.values():
            css = "form-select" if isinstance(field.widget, forms.Select) else "form-control"
            if css not in field.widget.attrs.get("class", ""):
                field.widget.attrs["class"] = f"{field.widget.attrs.get('class', '')} {css}".strip()
        return form

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(name__icontains=value) | Q(customer_no__iexact=value)
                               | Q(id_number__iexact=value.upper()) | Q(officer__full_name__icontains=value)
                               | Q(officer__username__iexact=value))

    def filter_branch(self, queryset, name, value):
        return queryset.filter(branch__path__startswith=value.path)


class CustomerTable(BaseTable):
    customer_no = tables.Column(linkify=lambda record: reverse("customer-detail", args=[record.customer_no]))
    name = tables.Column(linkify=lambda record: reverse("customer-detail", args=[record.customer_no]))
    branch = tables.Column(accessor="branch__name", order_by=("branch__code",), verbose_name=_("Branch"))
    officer = tables.Column(order_by=("officer__full_name",))
    industry = tables.Column(accessor="industry__name", order_by=("industry__code",), verbose_name=_("Industry"))
    loan_count = tables.Column(verbose_name=_("Loans"), attrs={"td": {"class": "num"}, "th": {"class": "num"}})

    class Meta(BaseTable.Meta):
        model = Customer
        fields = ["customer_no", "name", "kind", "id_number", "branch", "officer", "industry", "loan_count"]
        row_attrs = {"data-customer": lambda record: record.customer_no}


class CustomerListView(ListPage):
    model = Customer
    table_class = CustomerTable
    filterset_class = CustomerFilter
    action = "customers.view_customer"
    title = _("Customers")

    def get_queryset(self):
        return (super().get_queryset().select_related("branch", "officer", "industry")
                .annotate(loan_count=Count("loans")))


class CustomerDetailView(ActionRequiredMixin, TemplateView):
    template_name = "customers/customer_detail.html"
    action = "customers.view_customer"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        user = self.request.user
        customer = get_object_or_404(
            restrict(Customer.objects.select_related("branch", "officer", "industry", "group"), user, self.action),
            customer_no=kwargs["customer_no"])
        loans = (restrict(customer.loans.select_related("product", "officer"), user, "ledger.view_loan")
                 .order_by("-start_date", "loan_no"))
        totals = loans.aggregate(outstanding=Sum("principal_outstanding_fen"), overdue_principal=Sum(
            "overdue_principal_fen"), overdue_interest=Sum("overdue_interest_fen"))
        ctx.update({
            "customer": customer,
            "title": customer.name,
            "contacts": customer.contacts.order_by("role", "name"),
            "related_parties": customer.related_parties.select_related("related_customer").order_by("relation"),
            "loans": loans,
            "total_outstanding": totals["outstanding"] or 0,
            "total_overdue": (totals["overdue_principal"] or 0) + (totals["overdue_interest"] or 0),
        })
        return ctx
