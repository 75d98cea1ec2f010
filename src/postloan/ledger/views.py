"""The loan ledger's web UI: the loan list, the loan page, the statement PDF and the action forms.

Views parse, authorise and delegate: every change goes through ``ledger.services``. Each action is a form,
then a preview of its effect (the service run in a transaction that is rolled back), then a confirmation
that runs the service for real. Querysets are scoped with ``restrict``: a loan of another branch is a 404.
"""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Max, Prefetch
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View
from django.views.generic import TemplateView

from postloan.kernel import businessdate
from postloan.org.permissions import restrict
from postloan.web.views import ActionRequiredMixin, ListPage

from . import filters, forms, navigation, services, statement, tables
from .models import Allocation, Installment, Loan, Posting, ReversalRequest, ScheduleVersion
from .state import penalty_to_date

# Importing ``navigation`` registers the menu entries and work queues (idempotent; LedgerConfig.ready()
# imports it too).
REGISTERED = navigation

LOANS = Loan.objects.select_related("customer", "product", "branch", "officer")


def scoped_loan(user, loan_no: str, action: str = "ledger.view_loan") -> Loan:
    """The loan if the user may do ``action`` on it, else 404 (a loan of another branch does not exist
    for them)."""
    return get_object_or_404(restrict(LOANS, user, action), loan_no=loan_no)


def add_service_errors(form, exc: ValidationError) -> None:
    """Show a service's ``ValidationError({field: [msg]})`` next to the form's field (or above the form)."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc.messages)
        return
    mapping = getattr(form, "service_fields", {})
    for field, errors in exc.message_dict.items():
        name = mapping.get(field, field)
        form.add_error(name if name in form.fields else None, errors)


def preview_basis(loan: Loan) -> str:
    """What a preview was computed on: the loan's last posting and the business date. A confirmation on a
    different basis (someone posted meanwhile, the day closed, the confirm button was pressed twice) is
    shown again as a fresh preview instead of being posted."""
    last = Posting.objects.filter(loan=loan).aggregate(m=Max("id"))["m"] or 0
    return f"{last}:{businessdate.current().isoformat()}"


BALANCE_ROWS = [
    # (attribute, label, kind, shown on the loan page's balance card)
    ("principal_outstanding_fen", gettext_lazy("Principal outstanding"), "money", True),
    ("principal_due_fen", gettext_lazy("Principal due"), "money", True),
    ("interest_due_fen", gettext_lazy("Interest due"), "money", True),
    ("penalty_due_fen", gettext_lazy("Penalty interest due"), "money", True),
    ("compound_due_fen", gettext_lazy("Compound interest due"), "money", True),
    ("fee_due_fen", gettext_lazy("Fees due"), "money", True),
    ("total_due_fen", gettext_lazy("Total due now"), "money", True),
    ("overdue_principal_fen", gettext_lazy("Overdue principal"), "money", True),
    ("overdue_interest_fen", gettext_lazy("Overdue interest"), "money", True),
    ("interest_accrued_fen", gettext_lazy("Interest accrued, not yet due"), "money", True),
    ("credit_fen", gettext_lazy("Credit (overpayment held)"), "money", True),
    ("days_past_due", gettext_lazy("Days past due"), "int", True),
    ("bucket", gettext_lazy("Bucket"), "text", True),
    ("next_due_date", gettext_lazy("Next due date"), "date", True),
    ("maturity_date", gettext_lazy("Maturity date"), "date", False),
    ("annual_rate", gettext_lazy("Annual rate"), "rate", False),
    ("get_status_display", gettext_lazy("Status"), "text", False),
]
OVERDUE_ATTRS = {"overdue_principal_fen", "overdue_interest_fen", "days_past_due"}


def _value(obj, attr: str):
    value = getattr(obj, attr)
    return value() if callable(value) else value


def balance_rows(loan: Loan) -> list[dict]:
    return [{"label": label, "kind": kind, "value": _value(loan, attr),
             "danger": attr in OVERDUE_ATTRS and bool(_value(loan, attr))}
            for attr, label, kind, in_card in BALANCE_ROWS if in_card]


def compare_balances(before: Loan, after: Loan) -> list[dict]:
    rows = []
    for attr, label, kind, _in_card in BALANCE_ROWS:
        b, a = _value(before, attr), _value(after, attr)
        rows.append({"label": label, "kind": kind, "before": b, "after": a, "changed": b != a,
                     "delta": (a - b) if kind in ("money", "int") and b != a else None})
    return rows


def paid_fen(row: Installment) -> int:
    return (row.paid_principal_fen + row.paid_interest_fen + row.paid_penalty_fen + row.paid_compound_fen
            + row.paid_fee_fen)


def current_installments(loan: Loan) -> list[Installment]:
    """The loan's installments, penalty and compound interest brought to the state's date."""
    return penalty_to_date(loan, list(Installment.objects.filter(loan=loan).exclude(
        status=Installment.Status.SUPERSEDED).select_related("version").order_by("due_date", "seq")))


def schedule_rows(installments) -> list[dict]:
    """Each installment with what it asks in all (principal, interest, penalty, compound, fee), what was
    paid and what is left."""
    rows = []
    for row in installments:
        paid = paid_fen(row)
        rows.append({"row": row, "paid": paid, "outstanding": row.outstanding_fen,
                     "total": row.outstanding_fen + paid})
    return rows


# ---------------------------------------------------------------------------
# lists and pages


class LoanListView(ListPage):
    model = Loan
    table_class = tables.LoanTable
    filterset_class = filters.LoanFilter
    action = "ledger.view_loan"
    title = gettext_lazy("Loans")

    def get_queryset(self):
        return super().get_queryset().select_related("customer", "product", "branch", "officer")


class LoanDetailView(ActionRequiredMixin, TemplateView):
    template_name = "ledger/loan_detail.html"
    action = "ledger.view_loan"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        user = self.request.user
        loan = scoped_loan(user, kwargs["loan_no"])
        today = businessdate.current()
        postings = list(
            Posting.objects.filter(loan=loan).select_related("actor", "approver", "reverses", "schedule_version")
            .prefetch_related(Prefetch("allocations", queryset=Allocation.objects.select_related("installment")
                                       .order_by("id")))
            .order_by("value_date", "id"))
        reversed_by = {p.reverses_id: p for p in postings if p.reverses_id}
        pending = {r.posting_id: r for r in ReversalRequest.objects.filter(
            posting__loan=loan, status=ReversalRequest.Status.PENDING).select_related("requested_by")}
        may_request = user.has_perm("ledger.request_reversal")
        posting_rows = []
        for p in postings:
            reversal = reversed_by.get(p.id)
            reversible = (p.kind != Posting.Kind.REVERSAL and reversal is None and p.id not in pending
                          and not (p.kind == Posting.Kind.SCHEDULE_CHANGE and p.reference.endswith(":schedule")))
            posting_rows.append({"posting": p, "reversed_by": reversal, "pending": pending.get(p.id),
                                 "note": posting_note(p),
                                 "allocations": list(p.allocations.all()),
                                 "can_request_reversal": may_request and reversible})
        versions = list(ScheduleVersion.objects.filter(loan=loan).select_related("posting").order_by("number"))
        standing = {p.id for p in postings if p.id not in reversed_by and p.kind != Posting.Kind.REVERSAL}
        for v in versions:
            v.stands = v.posting_id is None or v.posting_id in standing
        payoff_date = self._date(self.request.GET.get("payoff_date")) or today
        ctx.update({
            "loan": loan,
            "title": loan.loan_no,
            "today": today,
            "balances": balance_rows(loan),
            "schedule": schedule_rows(current_installments(loan)),
            "versions": versions,
            "postings": posting_rows,
            "pending_requests": list(pending.values()),
            "actions": loan_actions(user, loan),
            "payoff": payoff_context(loan, payoff_date),
            "statement_from": max(loan.start_date, today.replace(month=1, day=1)) if loan.start_date <= today
            else loan.start_date,
            "statement_to": today,
            "may_approve": user.has_perm("ledger.approve_reversal"),
        })
        return ctx

    @staticmethod
    def _date(text):
        try:
            return dt.date.fromisoformat(text) if text else None
        except ValueError:
            return None


PREPAYMENT_MODES = dict(forms.PrepaymentForm.MODES)


def posting_note(posting: Posting) -> str:
    """What the posting's ``reason`` says, in words: a prepayment's mode, a schedule change's cause."""
    if posting.kind == Posting.Kind.PREPAYMENT:
        return str(PREPAYMENT_MODES.get(posting.reason, posting.reason))
    if posting.kind == Posting.Kind.SCHEDULE_CHANGE:
        version = getattr(posting, "schedule_version", None)
        return str(version.get_reason_display()) if version else posting.reason
    if posting.kind == Posting.Kind.REVERSAL:
        return ""
    return posting.reason


ACTIONS = [
    # (url name, label, permission, needs an open loan, button style)
    ("loan-disburse", gettext_lazy("Disburse"), "ledger.disburse", False, "primary"),
    ("loan-repay", gettext_lazy("Repayment"), "ledger.post_repayment", True, "primary"),
    ("loan-prepay", gettext_lazy("Prepayment"), "ledger.prepay", True, "outline-primary"),
    ("loan-charge-fee", gettext_lazy("Charge fee"), "ledger.charge_fee", True, "outline-secondary"),
    ("loan-waive", gettext_lazy("Waive"), "ledger.waive_fee", True, "outline-secondary"),
    ("loan-extend", gettext_lazy("Extend"), "ledger.change_terms", True, "outline-secondary"),
    ("loan-restructure", gettext_lazy("Restructure"), "ledger.change_terms", True, "outline-secondary"),
    ("loan-reprice", gettext_lazy("Change rate"), "ledger.change_terms", True, "outline-secondary"),
]


def loan_actions(user, loan: Loan) -> list[dict]:
    """The action buttons the user may press on this loan."""
    shown = []
    for url_name, label, perm, needs_open, style in ACTIONS:
        if not user.has_perm(perm):
            continue
        if needs_open and not loan.is_open:
            continue
        if url_name == "loan-disburse" and (loan.disbursed_fen >= loan.principal_fen
                                            or loan.status in (Loan.Status.SETTLED, Loan.Status.WRITTEN_OFF)):
            continue
        shown.append({"url": reverse(url_name, args=[loan.loan_no]), "label": label, "style": style,
                      "name": url_name})
    return shown


def payoff_context(loan: Loan, on: dt.date | None, error: str | None = None) -> dict:
    ctx = {"date": on, "quote": None, "error": error, "loan": loan}
    if on is None or error or not loan.is_open:
        return ctx
    try:
        ctx["quote"] = services.payoff_quote(loan, on)
    except ValidationError as exc:
        ctx["error"] = " ".join(exc.messages)
    except ValueError as exc:  # the engine refuses a date it cannot quote
        ctx["error"] = str(exc)
    return ctx


class PayoffView(ActionRequiredMixin, View):
    """The payoff quote for a date: a fragment for htmx, a small page otherwise."""

    action = "ledger.view_loan"

    def get(self, request, loan_no):
        loan = scoped_loan(request.user, loan_no)
        form = forms.PayoffForm(request.GET)
        if form.is_valid():
            ctx = payoff_context(loan, form.cleaned_data["date"])
        else:
            ctx = payoff_context(loan, None, error=" ".join(m for e in form.errors.values() for m in e))
        status = 200 if not ctx["error"] or request.htmx else 400
        template = "ledger/_payoff.html" if request.htmx else "ledger/payoff.html"
        return render(request, template, {"payoff": ctx, "loan": loan, "title": _("Payoff quote")}, status=status)


class ScheduleVersionView(ActionRequiredMixin, TemplateView):
    """One version of the schedule, with each row's state (rows replaced by a later version are marked)."""

    template_name = "ledger/schedule_version.html"
    action = "ledger.view_loan"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        loan = scoped_loan(self.request.user, kwargs["loan_no"])
        version = get_object_or_404(ScheduleVersion.objects.select_related("posting"), loan=loan,
                                    number=kwargs["number"])
        ctx.update({"loan": loan, "version": version, "title": f"{loan.loan_no} v{version.number}",
                    "schedule": schedule_rows(penalty_to_date(loan, list(version.installments.order_by("seq")))),
                    "versions": ScheduleVersion.objects.filter(loan=loan).order_by("number")})
        return ctx


class StatementView(ActionRequiredMixin, View):
    """``/loans/<loan_no>/statement.pdf?from=YYYY-MM-DD&to=YYYY-MM-DD``."""

    action = "ledger.view_loan"

    def get(self, request, loan_no):
        loan = scoped_loan(request.user, loan_no)
        form = forms.StatementForm(request.GET)
        problem = None
        if not form.is_valid():
            problem = " ".join(m for errors in form.errors.values() for m in errors)
        elif form.cleaned_data["end"] > businessdate.current():
            problem = _("The period cannot end after the business date (%(date)s).") % {
                "date": businessdate.current().isoformat()}
        if problem:
            return render(request, "ledger/statement_error.html",
                          {"loan": loan, "message": problem, "title": _("Statement")}, status=400)
        start, end = form.cleaned_data["start"], form.cleaned_data["end"]
        pdf = statement.render_pdf(loan, start, end, base_url=request.build_absolute_uri("/"))
        response = HttpResponse(pdf, content_type="application/pdf")
        name = f"statement-{loan.loan_no}-{start:%Y%m%d}-{end:%Y%m%d}.pdf"
        response["Content-Disposition"] = f'inline; filename="{name}"'
        return response


# ---------------------------------------------------------------------------
# actions: form -> preview -> confirm


class LoanActionView(ActionRequiredMixin, View):
    """A business action on a loan. GET: the form. POST: the preview of its effect (the service run and
    rolled back). POST with ``confirm``: the service, then back to the loan page with a message."""

    action = ""
    form_class: type[forms.BootstrapForm] = forms.BootstrapForm
    title = ""
    intro = ""
    success_message = ""
    form_template = "ledger/action_form.html"
    preview_template = "ledger/action_preview.html"
    shows_effect = True

    def perform(self, **kwargs):
        raise NotImplementedError

    def get_loan(self) -> Loan:
        return scoped_loan(self.request.user, self.kwargs["loan_no"], self.action)

    def initial(self) -> dict:
        return {"value_date": businessdate.current()}

    def context(self, loan: Loan, **extra) -> dict:
        return {"loan": loan, "title": self.title, "intro": self.intro, "view": self,
                "action_url": self.request.path} | extra

    def get(self, request, *args, **kwargs):
        loan = self.get_loan()
        return render(request, self.form_template, self.context(loan, form=self.form_class(initial=self.initial())))

    def post(self, request, *args, **kwargs):
        loan = self.get_loan()
        form = self.form_class(request.POST)
        if "edit" in request.POST or not form.is_valid():
            return render(request, self.form_template, self.context(loan, form=form))
        kwargs = form.service_kwargs()
        basis = preview_basis(loan)
        stale = False
        if request.POST.get("confirm"):
            if request.POST.get("basis") == basis:
                try:
                    self.perform(actor=request.user, loan=loan, **kwargs)
                except ValidationError as exc:
                    add_service_errors(form, exc)
                    return render(request, self.form_template, self.context(loan, form=form))
                messages.success(request, self.success_message or _("Done."))
                return HttpResponseRedirect(reverse("loan-detail", args=[loan.loan_no]))
            stale = True
        try:
            effect = services.preview(self.perform, actor=request.user, loan=loan, **kwargs)
        except ValidationError as exc:
            add_service_errors(form, exc)
            return render(request, self.form_template, self.context(loan, form=form))
        return render(request, self.preview_template,
                      self.context(loan, form=form, basis=basis, stale=stale, **self.effect_context(loan, effect)))

    def effect_context(self, loan: Loan, effect: dict) -> dict:
        if not self.shows_effect:
            return {}
        before_rows = list(Installment.objects.filter(loan=loan))
        before_paid = {r.seq: paid_fen(r) for r in before_rows}
        rows = schedule_rows(effect["installments"])
        for row in rows:
            was = before_paid.get(row["row"].seq)
            row["new"] = was is None
            row["paid_now"] = row["paid"] - (was or 0)
        return {"after": effect["loan"], "comparison": compare_balances(loan, effect["loan"]), "schedule": rows,
                "schedule_changed": any(r["new"] for r in rows)}


class DisburseView(LoanActionView):
    action = "ledger.disburse"
    form_class = forms.DisburseForm
    title = gettext_lazy("Disburse")
    success_message = gettext_lazy("The disbursement is posted.")

    def perform(self, **kwargs):
        return services.disburse(**kwargs)

    def initial(self) -> dict:
        loan, today = self.get_loan(), businessdate.current()
        return {"value_date": min(loan.start_date, today) if loan.disbursed_fen == 0 else today}


class RepaymentView(LoanActionView):
    action = "ledger.post_repayment"
    form_class = forms.RepaymentForm
    title = gettext_lazy("Repayment")
    intro = gettext_lazy("The amount is allocated by the product's order, oldest installment first; any excess "
                         "is held as credit.")
    success_message = gettext_lazy("The repayment is posted.")

    def perform(self, **kwargs):
        return services.post_repayment(**kwargs)


class PrepaymentView(LoanActionView):
    action = "ledger.prepay"
    form_class = forms.PrepaymentForm
    title = gettext_lazy("Prepayment")
    intro = gettext_lazy("What is due and the interest accrued to the value date are paid first; the rest "
                         "reduces the principal and the remaining schedule is redrawn.")
    success_message = gettext_lazy("The prepayment is posted.")

    def perform(self, **kwargs):
        return services.prepay(**kwargs)


class ChargeFeeView(LoanActionView):
    action = "ledger.charge_fee"
    form_class = forms.ChargeFeeForm
    title = gettext_lazy("Charge fee")
    success_message = gettext_lazy("The fee is charged.")

    def perform(self, **kwargs):
        return services.charge_fee(**kwargs)


class WaiveView(LoanActionView):
    action = "ledger.waive_fee"
    form_class = forms.WaiveForm
    title = gettext_lazy("Waive fees or penalty interest")
    success_message = gettext_lazy("The waiver is posted.")

    def perform(self, **kwargs):
        return services.waive(**kwargs)


class ExtendView(LoanActionView):
    action = "ledger.change_terms"
    form_class = forms.ExtendForm
    title = gettext_lazy("Extension")
    intro = gettext_lazy("An extension must be agreed before maturity; a secured loan needs the guarantor's "
                         "written consent.")
    success_message = gettext_lazy("The loan is extended; the new schedule applies.")

    def perform(self, **kwargs):
        return services.extend(**kwargs)


class RestructureView(LoanActionView):
    action = "ledger.change_terms"
    form_class = forms.RestructureForm
    title = gettext_lazy("Restructuring")
    intro = gettext_lazy("The principal not yet due is rescheduled over the new term; amounts already overdue "
                         "stay due. The loan is marked restructured for risk classification.")
    success_message = gettext_lazy("The loan is restructured; the new schedule applies.")

    def perform(self, **kwargs):
        return services.restructure(**kwargs)


class RepriceView(LoanActionView):
    action = "ledger.change_terms"
    form_class = forms.RepriceForm
    title = gettext_lazy("Change of rate")
    success_message = gettext_lazy("The new rate applies; the schedule is redrawn.")

    def perform(self, **kwargs):
        return services.reprice(**kwargs)


class RequestReversalView(LoanActionView):
    """The first person asks for a posting to be reversed; nothing changes until a second person approves."""

    action = "ledger.request_reversal"
    form_class = forms.ReversalRequestForm
    title = gettext_lazy("Request a reversal")
    intro = gettext_lazy("A reversal needs a second person: it takes effect when a colleague approves it.")
    success_message = gettext_lazy("The reversal is requested; it takes effect when a second person approves it.")
    shows_effect = False

    def get_posting(self, loan: Loan) -> Posting:
        return get_object_or_404(Posting.objects.prefetch_related("allocations__installment"), loan=loan,
                                 pk=self.kwargs["posting_id"])

    def initial(self) -> dict:
        return {}

    def context(self, loan: Loan, **extra) -> dict:
        return super().context(loan, posting=self.get_posting(loan), **extra)

    def perform(self, *, actor, loan, reason):
        return services.request_reversal(actor=actor, posting=self.get_posting(loan), reason=reason)


# ---------------------------------------------------------------------------
# reversal requests: the second person


class ReversalListView(ListPage):
    model = ReversalRequest
    table_class = tables.ReversalRequestTable
    filterset_class = filters.ReversalRequestFilter
    action = "ledger.approve_reversal"
    branch_field = "posting__loan__branch"
    title = gettext_lazy("Reversal requests")

    def get_queryset(self):
        return super().get_queryset().select_related("posting__loan", "requested_by", "decided_by")


def scoped_request(user, pk: int) -> ReversalRequest:
    return get_object_or_404(
        restrict(ReversalRequest.objects.select_related("posting__loan__customer", "requested_by"), user,
                 "ledger.approve_reversal", "posting__loan__branch"), pk=pk)


def _approve(*, actor, loan, request):
    return services.approve_reversal(actor=actor, request=request)


class ApproveReversalView(ActionRequiredMixin, View):
    """GET: the effect of the reversal (a rolled-back run of the approval). POST: approve it."""

    action = "ledger.approve_reversal"
    template_name = "ledger/reversal_approve.html"

    def page(self, request, req: ReversalRequest, *, errors=None, stale=False):
        loan = scoped_loan(request.user, req.posting.loan.loan_no, self.action)
        ctx = {"req": req, "loan": loan, "posting": req.posting, "title": _("Approve a reversal"),
               "errors": errors or [], "stale": stale, "basis": preview_basis(loan),
               "allocations": list(req.posting.allocations.select_related("installment").order_by("id"))}
        if not errors and req.status == ReversalRequest.Status.PENDING:
            try:
                effect = services.preview(_approve, actor=request.user, loan=loan, request=req)
            except ValidationError as exc:
                ctx["errors"] = exc.messages
            else:
                ctx["comparison"] = compare_balances(loan, effect["loan"])
                ctx["schedule"] = schedule_rows(effect["installments"])
        return render(request, self.template_name, ctx)

    def get(self, request, pk):
        return self.page(request, scoped_request(request.user, pk))

    def post(self, request, pk):
        req = scoped_request(request.user, pk)
        loan = req.posting.loan
        if request.POST.get("basis") != preview_basis(loan):
            return self.page(request, req, stale=True)
        try:
            services.approve_reversal(actor=request.user, request=req)
        except ValidationError as exc:
            return self.page(request, req, errors=exc.messages)
        messages.success(request, _("The posting %(ref)s is reversed.") % {"ref": req.posting.reference})
        return HttpResponseRedirect(reverse("loan-detail", args=[loan.loan_no]))


class RejectReversalView(ActionRequiredMixin, View):
    action = "ledger.approve_reversal"
    template_name = "ledger/reversal_reject.html"

    def get(self, request, pk):
        req = scoped_request(request.user, pk)
        return render(request, self.template_name, {"req": req, "form": forms.RejectReversalForm(),
                                                    "title": _("Reject a reversal")})

    def post(self, request, pk):
        req = scoped_request(request.user, pk)
        form = forms.RejectReversalForm(request.POST)
        if form.is_valid():
            try:
                services.reject_reversal(actor=request.user, request=req, reason=form.cleaned_data["reason"])
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, _("The reversal request is rejected; the posting stands."))
                return HttpResponseRedirect(reverse("reversal-list"))
        return render(request, self.template_name, {"req": req, "form": form, "title": _("Reject a reversal")})

