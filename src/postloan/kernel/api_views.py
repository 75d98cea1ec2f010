"""API for the business date and the audit trail."""

from __future__ import annotations

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.response import Response
from rest_framework.views import APIView

from postloan.org.permissions import restrict

from . import businessdate
from .models import AuditEvent


class BusinessDateSerializer(serializers.Serializer):
    date = serializers.DateField()


class BusinessDateSetSerializer(serializers.Serializer):
    date = serializers.DateField()
    reason = serializers.CharField(allow_blank=False, trim_whitespace=True)


class BusinessDateView(APIView):
    """The bank's business date. Administrators may set it, with a reason."""

    actions_required = {"get": "kernel.view_business_date", "post": "kernel.set_business_date"}

    @extend_schema(responses=BusinessDateSerializer)
    def get(self, request):
        return Response({"date": businessdate.current()})

    @extend_schema(request=BusinessDateSetSerializer, responses=BusinessDateSerializer)
    def post(self, request):
        data = BusinessDateSetSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        row = businessdate.set_business_date(actor=request.user, **data.validated_data)
        return Response({"date": row.date})


class AuditEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = ["id", "at", "business_date", "actor", "actor_name", "action", "object_type", "object_id",
                  "object_repr", "branch", "before", "after", "reason"]


class AuditEventFilter(django_filters.FilterSet):
    since = django_filters.IsoDateTimeFilter(field_name="at", lookup_expr="gte")
    until = django_filters.IsoDateTimeFilter(field_name="at", lookup_expr="lt")
    actor = django_filters.CharFilter(field_name="actor_name")
    action = django_filters.CharFilter(field_name="action", lookup_expr="startswith")

    class Meta:
        model = AuditEvent
        fields = ["object_type", "object_id", "branch"]


class AuditEventViewSet(viewsets.ReadOnlyModelViewSet):
    """The audit trail: append-only, searchable, scoped by branch (events without a branch are head office's)."""

    queryset = AuditEvent.objects.select_related("branch")
    serializer_class = AuditEventSerializer
    filterset_class = AuditEventFilter
    search_fields = ["object_repr", "reason", "actor_name", "action"]
    ordering_fields = ["at"]
    actions_required = {"*": "kernel.view_audit"}

    def get_queryset(self):
        return audit_scope(super().get_queryset(), self.request.user)


def audit_scope(queryset, user):
    """Audit events the user may read: their branch subtree; head office also sees branchless events."""
    scoped = restrict(queryset, user, "kernel.view_audit")
    branch = getattr(user, "branch", None)
    if user.is_superuser or (branch is not None and branch.is_head_office):
        return restrict(queryset, user, "kernel.view_audit", None)
    return scoped
