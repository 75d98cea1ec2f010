"""The bank's business date: read everywhere, moved only by the close of business or an administrator."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from . import audit
from .errors import PermissionDenied, field_error
from .models import BusinessDate


def current() -> dt.date:
    """The current business date (created as today's local date on first use)."""
    row = BusinessDate.objects.filter(pk=1).values_list("date", flat=True).first()
    if row is None:
        row = BusinessDate.objects.get_or_create(pk=1, defaults={"date": timezone.localdate()})[0].date
    return row


@transaction.atomic
def set_business_date(*, actor, date: dt.date, reason: str) -> BusinessDate:
    """An administrator moves the business date by hand, with a reason."""
    if not actor or not actor.has_perm("kernel.set_business_date"):
        raise PermissionDenied(_("Only an administrator may set the business date."))
    if not isinstance(date, dt.date):
        raise field_error("date", _("Enter a valid date."))
    if not (reason or "").strip():
        raise field_error("reason", _("Give a reason for changing the business date."))
    row, _created = BusinessDate.objects.select_for_update().get_or_create(pk=1, defaults={"date": date})
    before = row.date
    row.date = date
    row.save()
    audit.record(
        actor=actor,
        action="kernel.set_business_date",
        obj=row,
        object_repr=_("Business date"),
        before={"date": before},
        after={"date": date},
        reason=reason.strip(),
    )
    return row


def advance(*, to: dt.date, actor=None, reason: str = "close of business") -> None:
    """Move the business date forward; called by the close of business when a date completes."""
    row = BusinessDate.objects.select_for_update().get(pk=1)
    before = row.date
    if to <= before:
        raise field_error("date", _("The business date only moves forward."))
    row.date = to
    row.save()
    audit.record(
        actor=actor,
        action="cob.advance_business_date",
        obj=row,
        object_repr="Business date",
        before={"date": before},
        after={"date": to},
        reason=reason,
    )
