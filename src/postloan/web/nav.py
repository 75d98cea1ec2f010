"""The navigation menu. Each app registers its entries with the action that shows them."""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class NavItem:
    label: object
    url_name: str
    action: str
    group: object = ""
    order: int = 100


_ITEMS: list[NavItem] = []


def register(item: NavItem) -> None:
    if item not in _ITEMS:
        _ITEMS.append(item)


def items_for(user) -> list[dict]:
    visible = []
    for item in sorted(_ITEMS, key=lambda i: i.order):
        if user.has_perm(item.action):
            visible.append({"label": item.label, "url": reverse(item.url_name), "group": item.group,
                            "url_name": item.url_name})
    return visible


register(NavItem(_("Close of business"), "cob-history", "cob.view_run", _("Oversight"), 700))
register(NavItem(_("Audit trail"), "audit-list", "kernel.view_audit", _("Oversight"), 800))
register(NavItem(_("Branches"), "branch-list", "org.view_branch", _("Administration"), 900))
register(NavItem(_("Users"), "user-list", "org.view_user", _("Administration"), 910))
register(NavItem(_("Business date"), "business-date", "kernel.set_business_date", _("Administration"), 920))
register(NavItem(_("Reference data"), "admin:index", "org.change_branch", _("Administration"), 930))
