"""The pieces every API endpoint shares: permission by action, strict query
parameters, pagination, and one error body shape ``{"field": ["message"]}``.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext as _
from rest_framework import exceptions, pagination, permissions
from rest_framework.filters import BaseFilterBackend

ALWAYS_ALLOWED_PARAMS = {"page", "page_size", "format", "ordering", "search", "lang"}


class RolePermission(permissions.BasePermission):
    """Authenticated, and holding the action the view names for this request.

    A view declares ``actions = {"list": "ledger.view_loan", "create": ...}``
    (keys are DRF action names or HTTP methods; ``"*"`` is the fallback).
    Unsafe methods without a declared action are refused.
    """

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not user or not user.is_authenticated:
            return False
        action = required_action(request, view)
        if action is None:
            return request.method in permissions.SAFE_METHODS
        return user.has_perm(action)


def required_action(request, view) -> str | None:
    declared: dict[str, str] = getattr(view, "actions_required", None) or {}
    for key in (getattr(view, "action", None), request.method.lower(), "*"):
        if key and key in declared:
            return declared[key]
    return None


class StrictQueryParams(BaseFilterBackend):
    """Unknown query parameters are an error, not silently ignored."""

    def filter_queryset(self, request, queryset, view):
        allowed = set(ALWAYS_ALLOWED_PARAMS) | set(getattr(view, "extra_query_params", ()))
        filterset_class = getattr(view, "filterset_class", None)
        if filterset_class is not None:
            allowed |= set(filterset_class.base_filters)
        allowed |= set(getattr(view, "filterset_fields", None) or ())
        unknown = sorted(set(request.query_params) - allowed)
        if unknown:
            raise exceptions.ValidationError(
                {name: [_("Unknown query parameter. Allowed: %(allowed)s.") % {"allowed": ", ".join(sorted(allowed))}]
                 for name in unknown}
            )
        return queryset


class Pagination(pagination.PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 500


def exception_handler(exc, context):
    """Django's ValidationError and PermissionDenied become DRF's, so every error has one shape."""
    from rest_framework.views import exception_handler as drf_exception_handler  # DRF imports this module

    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "error_dict"):
            detail = {field: [str(m) for e in errors for m in e.messages] for field, errors in exc.error_dict.items()}
        else:
            detail = {"non_field_errors": [str(m) for m in exc.messages]}
        exc = exceptions.ValidationError(detail)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(response.data, list):
        response.data = {"non_field_errors": response.data}
    return response
