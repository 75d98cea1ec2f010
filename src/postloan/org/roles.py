"""Roles and what each may do.

A role is a Django group named by its code. Actions are ``rules``
permissions (``user.has_perm("ledger.post_repayment")``) built from role
predicates, so the UI, the API and the services ask the same question.
Adding an action: add it to ``ACTIONS`` with the roles that may do it.
"""

from __future__ import annotations

import rules
from django.utils.translation import gettext_lazy as _

CREDIT_OFFICER = "credit_officer"
CREDIT_HEAD = "credit_head"
COLLECTOR = "collector"
ACCOUNTANT = "accountant"
CUSTODIAN = "custodian"
ARCHIVIST = "archivist"
AUDITOR = "auditor"
ADMIN = "admin"

ROLES: dict[str, object] = {
    CREDIT_OFFICER: _("Credit officer"),
    CREDIT_HEAD: _("Credit department head / risk manager"),
    COLLECTOR: _("Collector"),
    ACCOUNTANT: _("Accountant"),
    CUSTODIAN: _("Collateral custodian"),
    ARCHIVIST: _("Archivist"),
    AUDITOR: _("Auditor"),
    ADMIN: _("Administrator"),
}

STAFF_ROLES = tuple(r for r in ROLES if r != AUDITOR)
ALL_ROLES = tuple(ROLES)

# action -> roles allowed. "view_*" actions are read-only; the auditor holds
# only those, so an auditor can read everything and change nothing.
ACTIONS: dict[str, tuple[str, ...]] = {
    # organisation and reference data
    "org.view_branch": ALL_ROLES,
    "org.view_user": (ADMIN, AUDITOR, CREDIT_HEAD),
    "org.manage_users": (ADMIN,),
    "org.manage_branches": (ADMIN,),
    # the audit trail
    "kernel.view_audit": (AUDITOR, ADMIN, CREDIT_HEAD),
    "kernel.set_business_date": (ADMIN,),
    "kernel.view_business_date": ALL_ROLES,
    # reference data in the admin area (Django's model permission names)
    "org.add_branch": (ADMIN,),
    "org.change_branch": (ADMIN,),
    "org.change_user": (ADMIN,),
    "kernel.view_auditevent": (AUDITOR, ADMIN),
    "kernel.view_calendarcoverage": (ADMIN,),
    "kernel.change_calendarcoverage": (ADMIN,),
    "kernel.add_calendarday": (ADMIN,),
    "kernel.change_calendarday": (ADMIN,),
    "kernel.delete_calendarday": (ADMIN,),
    "customers.view_industry": (ADMIN,),
    "customers.change_industry": (ADMIN,),
    "customers.view_customergroup": (ADMIN,),
    "customers.add_customergroup": (ADMIN,),
    "customers.change_customergroup": (ADMIN,),
    "ledger.view_product": ALL_ROLES,
    "ledger.add_product": (ADMIN,),
    "ledger.change_product": (ADMIN,),
}


def has_role(*codes: str):
    """A predicate true when the user holds any of the given roles."""

    name = "has_role:" + ",".join(codes)

    @rules.predicate(name=name)
    def predicate(user) -> bool:
        if not user or not user.is_authenticated or not user.is_active:
            return False
        return bool(set(codes) & roles_of(user))

    return predicate


def roles_of(user) -> set[str]:
    """The user's role codes, cached on the user object for the request."""
    if not user or not user.is_authenticated:
        return set()
    cached = getattr(user, "_postloan_roles", None)
    if cached is None:
        cached = set(user.groups.values_list("name", flat=True)) & set(ROLES)
        user._postloan_roles = cached
    return cached


def register(action: str, roles: tuple[str, ...]) -> None:
    """Register (or replace) an action: later apps call this from their ``ready()``."""
    ACTIONS[action] = roles
    rules.set_perm(action, has_role(*roles))


for _action, _roles in list(ACTIONS.items()):
    register(_action, _roles)
