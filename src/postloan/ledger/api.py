"""REST API for customers, products, loans, schedules, postings and payoff quotes.

Serializers validate shapes; every change goes through ``ledger.services``.
"""

from __future__ import annotations

import datetime as dt

import django_filters
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from postloan.customers import services as customer_services
from postloan.customers.models import Customer, Industry
from postloan.kernel.money import from_fen
from postloan.org.api import ScopedViewSetMixin
from postloan.org.models import Branch, User
from postloan.org.permissions import restrict

from . import services
from .models import Installment, Loan, Posting, Product, ReversalRequest
from .state import penalty_to_date


class Money(serializers.Field):
    """Fen in the database, a decimal string with two places on the wire."""

    def to_representation(self, value):
        return f"{from_fen(value):.2f}"

    def to_internal_value(self, data):
        return data


def money(source: str, **kw):
    return Money(source=source, read_only=True, **kw)


# --- customers ---------------------------------------------------------------


class CustomerSerializer(serializers.ModelSerializer):
    branch = serializers.SlugRelatedField(slug_field="code", read_only=True)
    officer = serializers.SlugRelatedField(slug_field="username", read_only=True)
    industry = serializers.PrimaryKeyRelatedField(read_only=True)

    class Meta:
        model = Customer
        fields = ["id", "customer_no", "kind", "name", "id_type", "id_number", "branch", "officer", "industry",
                  "size", "region", "address", "phone", "email", "group"]


class CustomerCreateSerializer(serializers.Serializer):
    customer_no = serializers.CharField(max_length=32)
    kind = serializers.ChoiceField(choices=Customer.Kind.choices)
    name = serializers.CharField(max_length=200)
    id_number = serializers.CharField(max_length=18)
    branch = serializers.SlugRelatedField(slug_field="code", queryset=Branch.objects.all())
    officer = serializers.SlugRelatedField(slug_field="username", queryset=User.objects.all(), required=False,
                                           allow_null=True)
    industry = serializers.PrimaryKeyRelatedField(queryset=Industry.objects.all(), required=False, allow_null=True)
    size = serializers.ChoiceField(choices=Customer.Size.choices, required=False, allow_blank=True)
    region = serializers.CharField(required=False, allow_blank=True)
    address = serializers.CharField(required=False, allow_blank=True)
    phone = serializers.CharField(required=False, allow_blank=True)
    email = serializers.EmailField(required=False, allow_blank=True)


class CustomerFilter(django_filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains")
    officer = django_filters.CharFilter(field_name="officer__username")
    branch = django_filters.CharFilter(field_name="branch__code")

    class Meta:
        model = Customer
        fields = ["name", "kind", "id_number", "officer", "branch", "industry", "customer_no"]


class CustomerViewSet(ScopedViewSetMixin, viewsets.ModelViewSet):
    queryset = Customer.objects.select_related("branch", "officer", "industry")
    serializer_class = CustomerSerializer
    filterset_class = CustomerFilter
    search_fields = ["name", "customer_no", "id_number"]
    ordering_fields = ["customer_no", "name"]
    view_action = "customers.view_customer"
    actions_required = {"list": "customers.view_customer", "retrieve": "customers.view_customer",
                        "create": "customers.manage_customer"}
    http_method_names = ["get", "post", "head", "options"]

    def get_serializer_class(self):
        return CustomerCreateSerializer if self.action == "create" else CustomerSerializer

    def create(self, request, *args, **kwargs):
        data = CustomerCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        customer = customer_services.create_customer(actor=request.user, **data.validated_data)
        return Response(CustomerSerializer(customer).data, status=status.HTTP_201_CREATED)


# --- products ---------------------------------------------------------------------


class ProductSerializer(serializers.ModelSerializer):
    class Meta:
        model = Product
        exclude = []
        fields = "__all__"


class ProductViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Product.objects.all()
    serializer_class = ProductSerializer
    filterset_fields = ["segment", "method", "active", "code"]
    actions_required = {"*": "ledger.view_loan"}


# --- loans -------------------------------------------------------------------------


class LoanSerializer(serializers.ModelSerializer):
    customer = serializers.SlugRelatedField(slug_field="customer_no", read_only=True)
    product = serializers.SlugRelatedField(slug_field="code", read_only=True)
    branch = serializers.SlugRelatedField(slug_field="code", read_only=True)
    officer = serializers.SlugRelatedField(slug_field="username", read_only=True)
    principal = money("principal_fen")
    disbursed = money("disbursed_fen")
    principal_outstanding = money("principal_outstanding_fen")
    principal_due = money("principal_due_fen")
    interest_due = money("interest_due_fen")
    penalty_due = money("penalty_due_fen")
    compound_due = money("compound_due_fen")
    fee_due = money("fee_due_fen")
    overdue_principal = money("overdue_principal_fen")
    overdue_interest = money("overdue_interest_fen")
    interest_accrued = money("interest_accrued_fen")
    credit = money("credit_fen")

    class Meta:
        model = Loan
        fields = ["id", "loan_no", "customer", "product", "branch", "officer", "currency", "principal",
                  "annual_rate", "term_months", "method", "frequency", "day_count", "interest_basis", "holiday_rule",
                  "start_date", "first_due_date", "maturity_date", "original_maturity_date", "purpose",
                  "guarantee_type", "status", "restructured", "restructured_on", "extension_months", "state_as_of",
                  "disbursed", "principal_outstanding", "principal_due", "interest_due", "penalty_due",
                  "compound_due", "fee_due", "overdue_principal", "overdue_interest", "interest_accrued", "credit",
                  "days_past_due", "bucket", "next_due_date", "settled_on"]


class LoanCreateSerializer(serializers.Serializer):
    loan_no = serializers.CharField(max_length=32)
    customer = serializers.SlugRelatedField(slug_field="customer_no", queryset=Customer.objects.all())
    product = serializers.SlugRelatedField(slug_field="code", queryset=Product.objects.all())
    principal = serializers.DecimalField(max_digits=16, decimal_places=2)
    annual_rate_pct = serializers.DecimalField(max_digits=7, decimal_places=4,
                                               help_text="percent a year: 4.35 means 4.35%")
    term_months = serializers.IntegerField()
    start_date = serializers.DateField()
    first_due_date = serializers.DateField(required=False, allow_null=True)
    method = serializers.ChoiceField(choices=["equal_installment", "equal_principal", "interest_only", "bullet"],
                                     required=False)
    frequency = serializers.ChoiceField(choices=["monthly", "quarterly", "semiannual", "annual"], required=False)
    purpose = serializers.CharField(required=False, allow_blank=True)
    guarantee_type = serializers.ChoiceField(choices=Loan.Guarantee.choices, required=False)
    schedule_rows = serializers.ListField(
        child=serializers.DictField(), required=False,
        help_text="a schedule entered by hand: [{due_date, principal, interest}, ...]")


class InstallmentSerializer(serializers.ModelSerializer):
    principal = money("principal_fen")
    interest = money("interest_fen")
    penalty = money("penalty_fen")
    compound = money("compound_fen")
    paid_principal = money("paid_principal_fen")
    paid_interest = money("paid_interest_fen")
    paid_penalty = money("paid_penalty_fen")
    paid_compound = money("paid_compound_fen")
    version = serializers.IntegerField(source="version.number", read_only=True)

    class Meta:
        model = Installment
        fields = ["number", "version", "period_start", "period_end", "due_date", "principal", "interest",
                  "penalty", "compound", "paid_principal", "paid_interest", "paid_penalty", "paid_compound",
                  "status"]


class PostingSerializer(serializers.ModelSerializer):
    amount = money("amount_fen")
    actor = serializers.SlugRelatedField(slug_field="username", read_only=True)
    approver = serializers.SlugRelatedField(slug_field="username", read_only=True)
    reverses = serializers.SlugRelatedField(slug_field="reference", read_only=True)
    allocations = serializers.SerializerMethodField()

    class Meta:
        model = Posting
        fields = ["id", "kind", "value_date", "booking_date", "amount", "reference", "reverses", "actor",
                  "approver", "reason", "allocations"]

    def get_allocations(self, obj) -> list[dict]:
        return [{"installment": a.installment.number if a.installment else None, "component": a.component,
                 "amount": f"{from_fen(a.amount_fen):.2f}"} for a in obj.allocations.all()]


class RepaymentSerializer(serializers.Serializer):
    amount = serializers.DecimalField(max_digits=16, decimal_places=2)
    value_date = serializers.DateField()
    reference = serializers.CharField(max_length=64)


class DisbursementSerializer(serializers.Serializer):
    amount = serializers.DecimalField(max_digits=16, decimal_places=2, required=False)
    value_date = serializers.DateField()
    reference = serializers.CharField(max_length=64)


class PrepaymentSerializer(serializers.Serializer):
    mode = serializers.ChoiceField(choices=["full", "shorten_term", "lower_installment"])
    amount = serializers.DecimalField(max_digits=16, decimal_places=2, required=False)
    value_date = serializers.DateField()
    reference = serializers.CharField(max_length=64)


class ReversalRequestSerializer(serializers.Serializer):
    posting = serializers.CharField(help_text="the reference of the posting to reverse")
    reason = serializers.CharField()


class ReversalSerializer(serializers.ModelSerializer):
    posting = serializers.SlugRelatedField(slug_field="reference", read_only=True)
    requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    decided_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = ReversalRequest
        fields = ["id", "posting", "reason", "status", "requested_by", "requested_at", "decided_by", "decided_at"]


class PayoffSerializer(serializers.Serializer):
    date = serializers.DateField()
    principal = serializers.CharField()
    interest = serializers.CharField()
    penalty = serializers.CharField()
    compound = serializers.CharField()
    fee = serializers.CharField()
    credit = serializers.CharField()
    total = serializers.CharField()


def payoff_body(quote, on: dt.date) -> dict:
    return {"date": on} | {k: f"{from_fen(getattr(quote, k)):.2f}" for k in
                           ("principal", "interest", "penalty", "compound", "fee", "credit", "total")}


class ExtensionSerializer(serializers.Serializer):
    months = serializers.IntegerField()
    value_date = serializers.DateField()
    guarantor_consent = serializers.BooleanField(default=False)
    reason = serializers.CharField()


class RestructureSerializer(serializers.Serializer):
    term_months = serializers.IntegerField()
    value_date = serializers.DateField()
    annual_rate_pct = serializers.DecimalField(max_digits=7, decimal_places=4, required=False)
    method = serializers.ChoiceField(choices=["equal_installment", "equal_principal", "interest_only"],
                                     required=False)
    reason = serializers.CharField()


class RepriceSerializer(serializers.Serializer):
    annual_rate_pct = serializers.DecimalField(max_digits=7, decimal_places=4)
    value_date = serializers.DateField()
    reason = serializers.CharField()


class LoanFilter(django_filters.FilterSet):
    branch = django_filters.CharFilter(field_name="branch__code")
    officer = django_filters.CharFilter(field_name="officer__username")
    product = django_filters.CharFilter(field_name="product__code")
    customer = django_filters.CharFilter(field_name="customer__customer_no")
    overdue = django_filters.BooleanFilter(method="filter_overdue")
    min_dpd = django_filters.NumberFilter(field_name="days_past_due", lookup_expr="gte")

    class Meta:
        model = Loan
        fields = ["branch", "officer", "product", "customer", "status", "bucket", "overdue", "min_dpd"]

    def filter_overdue(self, queryset, name, value):
        return queryset.filter(days_past_due__gt=0) if value else queryset.filter(days_past_due=0)


class LoanViewSet(ScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """Loans, scoped to the user's branch. Actions post to the ledger through its services."""

    queryset = Loan.objects.select_related("customer", "product", "branch", "officer")
    serializer_class = LoanSerializer
    filterset_class = LoanFilter
    search_fields = ["loan_no", "customer__name", "customer__customer_no"]
    ordering_fields = ["loan_no", "days_past_due", "principal_outstanding_fen", "maturity_date"]
    lookup_field = "loan_no"
    view_action = "ledger.view_loan"
    extra_query_params = ("date",)
    actions_required = {
        "list": "ledger.view_loan", "retrieve": "ledger.view_loan", "schedule": "ledger.view_loan",
        "postings": "ledger.view_loan", "payoff": "ledger.view_loan", "create": "ledger.book_loan",
        "disburse": "ledger.disburse", "repay": "ledger.post_repayment", "prepay": "ledger.prepay",
        "extend": "ledger.change_terms", "restructure": "ledger.change_terms", "reprice": "ledger.change_terms",
        "request_reversal": "ledger.request_reversal",
    }

    def create(self, request):
        data = LoanCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = dict(data.validated_data)
        customer = get_object_or_404(restrict(Customer.objects.all(), request.user, "customers.view_customer"),
                                     pk=v.pop("customer").pk)
        rate = v.pop("annual_rate_pct") / 100
        loan = services.book_loan(actor=request.user, customer=customer, annual_rate=rate, **v)
        return Response(LoanSerializer(loan).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=InstallmentSerializer(many=True))
    @action(detail=True)
    def schedule(self, request, loan_no=None):
        loan = self.get_object()
        rows = penalty_to_date(loan, list(loan.installments.select_related("version").exclude(
            status=Installment.Status.SUPERSEDED).order_by("due_date", "seq")))
        return Response(InstallmentSerializer(rows, many=True).data)

    @extend_schema(request=None, responses=PostingSerializer(many=True))
    @action(detail=True)
    def postings(self, request, loan_no=None):
        loan = self.get_object()
        rows = loan.postings.select_related("actor", "approver", "reverses").prefetch_related(
            "allocations__installment").order_by("value_date", "id")
        return Response(PostingSerializer(rows, many=True).data)

    @extend_schema(parameters=[OpenApiParameter("date", dt.date, required=True)], responses=PayoffSerializer)
    @action(detail=True)
    def payoff(self, request, loan_no=None):
        loan = self.get_object()
        field = serializers.DateField()
        try:
            on = field.to_internal_value(request.query_params.get("date", ""))
        except serializers.ValidationError as exc:
            raise serializers.ValidationError({"date": exc.detail})
        return Response(payoff_body(services.payoff_quote(loan, on), on))

    def _act(self, serializer_class, fn, request, **extra):
        loan = self.get_object()
        data = serializer_class(data=request.data)
        data.is_valid(raise_exception=True)
        result = fn(actor=request.user, loan=loan, **(dict(data.validated_data) | extra))
        loan.refresh_from_db()
        body = {"loan": LoanSerializer(loan).data}
        if isinstance(result, Posting):
            body["posting"] = PostingSerializer(result).data
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(request=DisbursementSerializer)
    @action(detail=True, methods=["post"])
    def disburse(self, request, loan_no=None):
        return self._act(DisbursementSerializer, services.disburse, request)

    @extend_schema(request=RepaymentSerializer)
    @action(detail=True, methods=["post"])
    def repay(self, request, loan_no=None):
        return self._act(RepaymentSerializer, services.post_repayment, request)

    @extend_schema(request=PrepaymentSerializer)
    @action(detail=True, methods=["post"])
    def prepay(self, request, loan_no=None):
        return self._act(PrepaymentSerializer, services.prepay, request)

    @extend_schema(request=ExtensionSerializer)
    @action(detail=True, methods=["post"])
    def extend(self, request, loan_no=None):
        return self._act(ExtensionSerializer, services.extend, request)

    @extend_schema(request=RestructureSerializer)
    @action(detail=True, methods=["post"])
    def restructure(self, request, loan_no=None):
        def run(*, annual_rate_pct=None, **kw):
            return services.restructure(annual_rate=None if annual_rate_pct is None else annual_rate_pct / 100,
                                        **kw)

        return self._act(RestructureSerializer, run, request)

    @extend_schema(request=RepriceSerializer)
    @action(detail=True, methods=["post"])
    def reprice(self, request, loan_no=None):
        def run(*, annual_rate_pct, **kw):
            return services.reprice(annual_rate=annual_rate_pct / 100, **kw)

        return self._act(RepriceSerializer, run, request)

    @extend_schema(request=ReversalRequestSerializer, responses=ReversalSerializer)
    @action(detail=True, methods=["post"], url_path="reversals")
    def request_reversal(self, request, loan_no=None):
        loan = self.get_object()
        data = ReversalRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        posting = loan.postings.filter(reference=data.validated_data["posting"]).first()
        if posting is None:
            raise serializers.ValidationError({"posting": ["No posting with this reference on the loan."]})
        req = services.request_reversal(actor=request.user, posting=posting, reason=data.validated_data["reason"])
        return Response(ReversalSerializer(req).data, status=status.HTTP_201_CREATED)


class ReversalViewSet(ScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """Reversal requests awaiting a second person's approval."""

    queryset = ReversalRequest.objects.select_related("posting__loan", "requested_by", "decided_by")
    serializer_class = ReversalSerializer
    filterset_fields = ["status"]
    view_action = "ledger.view_loan"
    branch_field = "posting__loan__branch"
    actions_required = {"list": "ledger.view_loan", "retrieve": "ledger.view_loan",
                        "approve": "ledger.approve_reversal", "reject": "ledger.approve_reversal"}

    @extend_schema(request=None, responses=PostingSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        posting = services.approve_reversal(actor=request.user, request=self.get_object())
        return Response(PostingSerializer(posting).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=ReversalSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        req = services.reject_reversal(actor=request.user, request=self.get_object(),
                                       reason=str(request.data.get("reason", "")))
        return Response(ReversalSerializer(req).data)
