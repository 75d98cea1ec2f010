"""``POST /api/imports/<kind>/``: import customers, loans or repayments over the API.

The body is either a multipart form with a ``file`` (CSV or .xlsx, the same
files as ``postloan import``) or a JSON list of row objects with the same
columns. The answer is 200 with the counts and every rejected row, even when
some rows were rejected; 400 when the request itself is wrong (unknown kind,
no file, a file that is neither CSV nor .xlsx, a body that is not a list of
objects). ``?dry_run=1`` checks and reports without saving anything.

Wiring (config/urls.py, inside ``api_patterns``)::

    path("imports/<str:kind>/", ImportView.as_view(), name="import"),
"""

from __future__ import annotations

import json
from decimal import Decimal

from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, serializers
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from .imports import KINDS, ImportFormatError, import_file, import_rows

#: Rows accepted in one JSON body (larger feeds: upload a file, or use the command line).
MAX_JSON_ROWS = 10_000


class RowErrorSerializer(serializers.Serializer):
    row = serializers.IntegerField()
    field = serializers.CharField()
    message = serializers.CharField()


class ImportResultSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=KINDS)
    rows = serializers.IntegerField()
    accepted = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    rejected_rows = serializers.IntegerField()
    dry_run = serializers.BooleanField()
    rejected = RowErrorSerializer(many=True)


class ImportView(APIView):
    """Import customers, loans or repayments: a CSV/xlsx ``file`` or a JSON list of rows."""

    actions_required = {"post": "ledger.import"}
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    @extend_schema(
        operation_id="import_rows",
        parameters=[
            OpenApiParameter("kind", OpenApiTypes.STR, OpenApiParameter.PATH, enum=list(KINDS)),
            OpenApiParameter("dry_run", OpenApiTypes.BOOL, OpenApiParameter.QUERY, required=False,
                             description="check and report only; nothing is saved"),
        ],
        request={
            "multipart/form-data": inline_serializer("ImportFile", {"file": serializers.FileField()}),
            "application/json": {"type": "array", "items": {"type": "object", "additionalProperties": True}},
        },
        responses={200: ImportResultSerializer},
    )
    def post(self, request, kind: str):
        if kind not in KINDS:
            raise exceptions.ValidationError({"kind": [_("Choose one of %(kinds)s.") % {"kinds": ", ".join(KINDS)}]})
        unknown = set(request.query_params) - {"dry_run", "lang", "format"}
        if unknown:
            raise exceptions.ValidationError({name: [_("Unknown query parameter.")] for name in sorted(unknown)})
        dry_run = (request.query_params.get("dry_run") or "").strip().lower() in {"1", "true", "yes"}
        content_type = (request.content_type or "").split(";", 1)[0].strip().lower()
        if content_type == "application/json":
            rows = self._json_rows(request)
            result = import_rows(kind, rows, actor=request.user, dry_run=dry_run)
        elif content_type in {"multipart/form-data", "application/x-www-form-urlencoded"}:
            upload = request.FILES.get("file")
            if upload is None:
                raise exceptions.ValidationError({"file": [_("Attach the file to import as “file”.")]})
            try:
                result = import_file(kind, upload, actor=request.user, filename=upload.name, dry_run=dry_run)
            except ImportFormatError as exc:
                raise exceptions.ValidationError({"file": [str(exc)]})
        else:
            raise exceptions.UnsupportedMediaType(content_type or "(none)")
        return Response(ImportResultSerializer(result.as_dict()).data)

    @staticmethod
    def _json_rows(request) -> list:
        # Parsed here, not by DRF's parser, so that numbers become Decimal and never float.
        try:
            rows = json.loads(request.body or b"null", parse_float=Decimal)
        except (ValueError, UnicodeDecodeError) as exc:
            raise exceptions.ParseError(_("The body is not valid JSON: %(error)s") % {"error": exc})
        if not isinstance(rows, list) or not rows:
            raise exceptions.ValidationError({"non_field_errors": [_("Send a non-empty list of row objects.")]})
        if len(rows) > MAX_JSON_ROWS:
            raise exceptions.ValidationError({"non_field_errors": [
                _("At most %(n)s rows in one request: upload a file instead.") % {"n": MAX_JSON_ROWS}]})
        return rows
