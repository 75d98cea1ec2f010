"""Template helpers for the loan ledger: money in fen, rates, and status badges.

``{{ loan.principal_outstanding_fen|fen }}`` shows ``1,234.56``: the value is
formatted from the integer fen, so display never rounds. ``{% status_badge obj %}``
renders a coloured badge for a loan, installment or reversal request (or a bare
status code).
"""

from __future__ import annotations

from decimal import Decimal

from django import template
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from postloan.kernel.money import format_amount

register = template.Library()

#: status code -> Bootstrap colour. Codes are shared by loans, installments and reversal requests.
BADGE_COLOURS = {
    # installments
    "future": "secondary",
    "due": "warning",
    "partly_paid": "info",
    "overdue": "danger",
    "paid": "success",
    "superseded": "light",
    # loans
    "pending": "secondary",
    "active": "success",
    "settled": "primary",
    "written_off": "dark",
    # reversal requests
    "approved": "success",
    "rejected": "secondary",
}


@register.filter
def fen(value) -> str:
    """Integer fen as money (``123456`` → ``1,234.56``); empty for ``None``."""
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        return ""
    if isinstance(value, Decimal):
        value = int(value)
    try:
        return format_amount(int(value))
    except (TypeError, ValueError):
        return ""


@register.filter
def rate_pct(value) -> str:
    """An annual rate held as a fraction (``0.0435``) shown as a percentage (``4.35%``)."""
    if value is None or value == "":
        return ""
    pct = (Decimal(str(value)) * 100).normalize()
    text = format(pct, "f")
    if "." in text:
        whole, frac = text.split(".")
        text = f"{whole}.{frac.ljust(2, '0')}"
    else:
        text = f"{text}.00"
    return f"{text}%"


@register.simple_tag
def status_badge(obj, label=None):
    """A badge for ``obj``'s status (anything with ``status`` and ``get_status_display``), or for a bare code
    with an optional label."""
    if hasattr(obj, "get_status_display"):
        code, text = obj.status, label or obj.get_status_display()
    else:
        code, text = str(obj), label or str(obj)
    colour = BADGE_COLOURS.get(code, "secondary")
    css = "text-bg-light border" if colour == "light" else f"text-bg-{colour}"
    return format_html('<span class="badge {}" data-status="{}">{}</span>', css, code, text)


COMPONENTS = {
    "principal": _("principal"),
    "interest": _("interest"),
    "penalty": _("penalty interest"),
    "compound": _("compound interest"),
    "fee": _("fee"),
    "credit": _("credit"),
}


@register.filter
def component(code) -> str:
    """The name of a repayment component (``principal``, ``interest``, ``penalty``, …)."""
    return str(COMPONENTS.get(code, code))
