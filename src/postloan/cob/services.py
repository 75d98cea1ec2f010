"""Starting the close of business from the UI or the API."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _

from . import runner
from .models import CobRun


def start(*, actor, to: dt.date | None) -> CobRun | None:
    """Run or resume the close of business. In-process on the embedded database (returns the finished run);
    with a broker, queued for a worker (returns None; the history shows it when it starts)."""
    if not actor or not actor.has_perm("cob.run"):
        raise PermissionDenied(_("Only an administrator may run the close of business."))
    runner.plan_dates(to)  # refuse bad dates here, before anything is queued
    if settings.CELERY_BROKER_URL:
        from .tasks import run_cob

        run_cob.delay(to.isoformat() if to else None, actor.pk)
        return None
    return runner.run(to=to, actor=actor)
