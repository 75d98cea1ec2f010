"""The shell: home with each role's work queue, the audit trail, reference lists, the business date."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.generic import TemplateView
from django_filters.views import FilterView
from django_tables2 import SingleTableMixin

from postloan.kernel import businessdate
from postloan.kernel.api_views import audit_scope
from postloan.kernel.models import AuditEvent
from postloan.org.models import Branch, User
from postloan.org.permissions import restrict
from postloan.org.roles import CREDIT_OFFICER, ROLES, roles_of

from . import figures, filters, tables, workqueue


class ActionRequiredMixin(LoginRequiredMixin):
    """Refuse (403) unless the user holds ``action``."""

    action: str = ""

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        if self.action and not request.user.has_perm(self.action):
            raise PermissionDenied(_("You are not allowed to see this page."))
        return super().dispatch(request, *args, **kwargs)


class ListPage(ActionRequiredMixin, SingleTableMixin, FilterView):
    """A sortable, filterable, paginated list: a filterset, a table, one template."""

    template_name = "web/list.html"
    title = ""
    branch_field: str | None = "branch"

    def get_queryset(self):
        return restrict(super().get_queryset(), self.request.user, self.action, self.branch_field)

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["title"] = self.title
        return ctx


class HomeView(LoginRequiredMixin, TemplateView):
    template_name = "web/home.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        user = self.request.user
        ctx["queues"] = workqueue.queues_for(user)
        ctx["role_names"] = [ROLES[r] for r in sorted(roles_of(user))]
        if CREDIT_OFFICER in roles_of(user):
            ctx["my_loans"] = figures.my_loans(user)
        else:
            ctx["branch_portfolio"] = figures.branch_portfolio(user)
        return ctx


class AuditListView(ListPage):
    model = AuditEvent
    table_class = tables.AuditEventTable
    filterset_class = filters.AuditEventFilter
    action = "kernel.view_audit"
    title = gettext_lazy("Audit trail")

    def get_queryset(self):
        return audit_scope(AuditEvent.objects.select_related("branch"), self.request.user)


class AuditObjectView(ActionRequiredMixin, TemplateView):
    """Every recorded change of one object: business actions and field-level history."""

    template_name = "kernel/audit_object.html"
    action = "kernel.view_audit"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        events = audit_scope(AuditEvent.objects.all(), self.request.user).filter(
            object_type=kwargs["object_type"], object_id=kwargs["object_id"]
        )
        ctx["events"] = events
        ctx["object_type"] = kwargs["object_type"]
        ctx["object_id"] = kwargs["object_id"]
        ctx["field_history"] = field_history(kwargs["object_type"], kwargs["object_id"])
        return ctx


def field_history(object_type: str, object_id: str) -> list[dict]:
    """Field-by-field changes recorded by django-simple-history for the object, newest first."""
    from django.apps import apps

    try:
        model = apps.get_model(object_type)
    except (LookupError, ValueError):
        return []
    history = getattr(model, "history", None)
    if history is None:
        return []
    rows = list(history.filter(**{model._meta.pk.attname: object_id}).order_by("-history_date")[:200])
    changes = []
    for newer, older in zip(rows, rows[1:] + [None], strict=False):
        diff = newer.diff_against(older).changes if older is not None else []
        changes.append({"at": newer.history_date, "user": newer.history_user, "type": newer.get_history_type_display(),
                        "reason": newer.history_change_reason, "changes": diff})
    return changes


class BranchListView(ListPage):
    model = Branch
    table_class = tables.BranchTable
    filterset_class = filters.BranchFilter
    action = "org.view_branch"
    branch_field = ""
    title = gettext_lazy("Branches")


class UserListView(ListPage):
    model = User
    table_class = tables.UserTable
    filterset_class = filters.UserFilter
    action = "org.view_user"
    title = gettext_lazy("Users")

    def get_queryset(self):
        return super().get_queryset().select_related("branch").prefetch_related("groups")


class BusinessDateForm(forms.Form):
    date = forms.DateField(label=gettext_lazy("New business date"), widget=forms.DateInput(attrs={"type": "date", "class": "form-control"},
                                                  format="%Y-%m-%d"))
    reason = forms.CharField(label=gettext_lazy("Reason"), widget=forms.Textarea(attrs={"rows": 2, "class": "form-control"}))


def business_date_view(request):
    if not request.user.is_authenticated:
        return redirect("login")
    if not request.user.has_perm("kernel.set_business_date"):
        raise PermissionDenied(_("Only an administrator may set the business date."))
    form = BusinessDateForm(request.POST or None, initial={"date": businessdate.current()})
    if request.method == "POST" and form.is_valid():
        try:
            businessdate.set_business_date(actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, _("The business date is now %(date)s.") % {"date": form.cleaned_data["date"]})
            return redirect("business-date")
    return render(request, "kernel/business_date.html", {"form": form, "title": _("Business date")})
