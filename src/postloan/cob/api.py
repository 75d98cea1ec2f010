from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from . import services
from .models import CobDay, CobRun, CobStep


class StepSerializer(serializers.ModelSerializer):
    class Meta:
        model = CobStep
        fields = ["name", "status", "seconds", "rows", "totals", "error"]


class DaySerializer(serializers.ModelSerializer):
    steps = StepSerializer(many=True, read_only=True)

    class Meta:
        model = CobDay
        fields = ["date", "status", "seconds", "started_at", "finished_at", "steps"]


class RunSerializer(serializers.ModelSerializer):
    actor = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = CobRun
        fields = ["id", "status", "from_date", "to_date", "started_at", "finished_at", "actor", "host", "pid",
                  "error"]


class RunRequestSerializer(serializers.Serializer):
    to = serializers.DateField(required=False, allow_null=True,
                               help_text="last date to close (default: the current business date)")


class CobRunViewSet(viewsets.ReadOnlyModelViewSet):
    """Close-of-business runs; ``POST /api/cob/runs/`` runs or resumes it (administrators)."""

    queryset = CobRun.objects.select_related("actor")
    serializer_class = RunSerializer
    filterset_fields = ["status"]
    actions_required = {"list": "cob.view_run", "retrieve": "cob.view_run", "create": "cob.run",
                        "days": "cob.view_run"}

    @extend_schema(request=RunRequestSerializer, responses={201: RunSerializer, 202: None})
    def create(self, request):
        data = RunRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        run = services.start(actor=request.user, to=data.validated_data.get("to"))
        if run is None:
            return Response({"queued": True}, status=status.HTTP_202_ACCEPTED)
        return Response(RunSerializer(run).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=DaySerializer(many=True))
    @action(detail=False)
    def days(self, request):
        days = CobDay.objects.prefetch_related("steps").order_by("-date")[:60]
        return Response(DaySerializer(days, many=True).data)
