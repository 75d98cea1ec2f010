"""Errors that services raise. Each names the field it is about.

Services raise Django's ``ValidationError`` with a ``{field: message}`` dict, so
forms show the message next to the field and the API returns
``{"field": ["message"]}`` with status 400; nothing is changed because the
service's transaction rolls back.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError

__all__ = ["ValidationError", "PermissionDenied", "field_error"]


def field_error(field: str, message) -> ValidationError:
    return ValidationError({field: [message]})
