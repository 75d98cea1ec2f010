from __future__ import annotations

import datetime as dt
import json

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from postloan.cob import runner
from postloan.kernel import businessdate

from . import services
from .models import CobDay, CobRun, CobStep


class RunForm(forms.Form):
    to = forms.DateField(label=gettext_lazy("Close up to and including"), required=False,
                         widget=forms.DateInput(attrs={"type": "date", "class": "form-control"}, format="%Y-%m-%d"))


def history(request):
    """The close of business: recent runs and days, each step's duration over time, and the run button."""
    if not request.user.is_authenticated:
        return redirect("login")
    if not request.user.has_perm("cob.view_run"):
        raise PermissionDenied(_("You are not allowed to see this page."))
    form = RunForm(request.POST or None, initial={"to": businessdate.current()})
    if request.method == "POST":
        if not request.user.has_perm("cob.run"):
            raise PermissionDenied(_("Only an administrator may run the close of business."))
        if form.is_valid():
            try:
                run = services.start(actor=request.user, to=form.cleaned_data["to"])
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            except runner.CobFailed as exc:
                messages.error(request, str(exc))
                return redirect("cob-history")
            else:
                if run is None:
                    messages.info(request, _("The close of business is queued for a worker."))
                else:
                    messages.success(request, _("Closed %(from)s to %(to)s. The business date is now %(date)s.") % {
                        "from": run.from_date, "to": run.to_date, "date": businessdate.current()})
                return redirect("cob-history")
    days = list(CobDay.objects.prefetch_related("steps").order_by("-date")[:30])
    chart_days = list(reversed(days))
    names = sorted({s.name for d in chart_days for s in d.steps.all()},
                   key=lambda n: next((s.order for d in chart_days for s in d.steps.all() if s.name == n), 0))
    series = [{"name": n, "type": "line", "data": [
        round(next((s.seconds for s in d.steps.all() if s.name == n), 0), 3) for d in chart_days]} for n in names]
    chart = {"dates": [d.date.isoformat() for d in chart_days], "series": series}
    return render(request, "cob/history.html", {
        "title": _("Close of business"), "form": form, "runs": CobRun.objects.select_related("actor")[:10],
        "days": days, "chart": json.dumps(chart), "can_run": request.user.has_perm("cob.run"),
        "failed_steps": CobStep.objects.filter(status="failed").select_related("day")[:5],
        "today": dt.date.today()})
