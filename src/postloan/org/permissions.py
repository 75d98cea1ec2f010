"""One way to scope data and check actions, used by UI, API and services alike.

``restrict(queryset, user, action)`` returns the rows the user may act on:
nothing when the role lacks the action, otherwise the rows of the user's
branch and every branch below it (head office sees all).
``require(user, action, obj)`` raises ``PermissionDenied`` for a refusal.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _


def branch_q(user, branch_field: str = "branch") -> Q:
    """A filter for the rows in the user's branch subtree, via ``<branch_field>__path``.

    ``branch_field=""`` filters the Branch table itself.
    """
    if getattr(user, "is_superuser", False):
        return Q()
    branch = getattr(user, "branch", None)
    if branch is None:
        return Q(pk__in=[])
    if branch.is_head_office:
        return Q()
    prefix = f"{branch_field}__" if branch_field else ""
    return Q(**{f"{prefix}path__startswith": branch.path})


def restrict(queryset: QuerySet, user, action: str, branch_field: str | None = "branch") -> QuerySet:
    if not user or not user.is_authenticated or not user.has_perm(action):
        return queryset.none()
    if branch_field is None:
        return queryset
    return queryset.filter(branch_q(user, branch_field))


def in_scope(user, branch) -> bool:
    """Whether ``branch`` lies in the user's branch subtree."""
    if getattr(user, "is_superuser", False):
        return True
    own = getattr(user, "branch", None)
    if own is None or branch is None:
        return False
    return own.is_head_office or branch.path.startswith(own.path)


def require(user, action: str, branch=None) -> None:
    """Refuse unless the user may do ``action`` (on an object of ``branch``)."""
    if not user or not user.is_authenticated or not user.has_perm(action):
        raise PermissionDenied(_("You are not allowed to do this (%(action)s).") % {"action": action})
    if branch is not None and not in_scope(user, branch):
        raise PermissionDenied(_("This belongs to another branch."))
