"""Every change to the loan ledger: one function per business action.

Each runs in one transaction, checks the actor's role and branch, validates its
input (a ``ValidationError`` naming the field, nothing changed), writes
postings (never edits them), re-derives the loan's state by replay, and writes
an audit event.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from postloan.kernel import audit, businessdate, calendars
from postloan.kernel.errors import ValidationError, field_error
from postloan.kernel.money import from_fen, to_fen
from postloan.org.permissions import require

from . import engine, quick, schedule
from .models import Installment, Loan, Posting, Product, ReversalRequest, ScheduleVersion
from .state import inputs, penalty_to_date, refresh, replayed

MAX_RATE = Decimal("0.36")


# ---------------------------------------------------------------------------
# validation helpers


def _amount(value, field: str = "amount") -> int:
    """A positive amount in yuan (Decimal, str or int) as fen."""
    if isinstance(value, float):
        raise field_error(field, _("Give amounts as exact decimals, not floating point."))
    try:
        amount = Decimal(str(value).replace(",", "").strip())
    except (InvalidOperation, ValueError):
        raise field_error(field, _("Enter an amount such as 1234.56."))
    if not amount.is_finite():
        raise field_error(field, _("Enter an amount such as 1234.56."))
    if amount <= 0:
        raise field_error(field, _("The amount must be greater than zero."))
    if amount != amount.quantize(Decimal("0.01")):
        raise field_error(field, _("At most two decimal places (fen)."))
    return to_fen(amount)


def _rate(value, field: str = "annual_rate") -> Decimal:
    """An annual rate given as a fraction (0.0435)."""
    try:
        rate = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise field_error(field, _("Enter a rate such as 0.0435 (4.35%)."))
    if not rate.is_finite() or rate < 0 or rate > MAX_RATE:
        raise field_error(field, _("The annual rate must be between 0 and 36%."))
    return rate


_UNKNOWN = object()


def _value_date(loan: Loan | None, value_date, field: str = "value_date", *, today: dt.date | None = None,
                first=_UNKNOWN) -> dt.date:
    """A value date on or before the business date (``today``) and, for a loan, not before its first
    disbursement (``first``; both looked up unless a bulk caller gives them)."""
    if not isinstance(value_date, dt.date):
        raise field_error(field, _("Enter a valid date."))
    today = today or businessdate.current()
    if value_date > today:
        raise field_error(field, _("The value date cannot be after the business date (%(date)s).") % {"date": today})
    if loan is not None:
        if first is _UNKNOWN:
            first = (Posting.objects.filter(loan=loan, kind=Posting.Kind.DISBURSEMENT)
                     .order_by("value_date").values_list("value_date", flat=True).first())
        if first is not None and value_date < first:
            raise field_error(field, _("The value date cannot be before the disbursement (%(date)s).") % {"date": first})
    return value_date


def _reference(loan: Loan, reference: str, taken: set | None = None) -> str:
    """A reference not used on the loan yet (``taken``: the (loan id, reference) pairs a bulk caller found)."""
    reference = (reference or "").strip()
    if not reference:
        raise field_error("reference", _("Give a reference (e.g. the core banking transaction number)."))
    if len(reference) > 64:
        raise field_error("reference", _("At most 64 characters."))
    if ((loan.pk, reference) in taken) if taken is not None else Posting.objects.filter(
            loan=loan, reference=reference).exists():
        raise field_error("reference", _("This reference is already used on this loan."))
    return reference


def _open(loan: Loan) -> None:
    if loan.status not in (Loan.Status.ACTIVE, Loan.Status.OVERDUE):
        raise field_error("loan", _("Loan %(loan)s is %(status)s: nothing can be posted to it.")
                          % {"loan": loan.loan_no, "status": loan.get_status_display()})


def _calendar(holiday_rule: str):
    return None if holiday_rule == "none" else calendars.load("CN")


def _engine_error(exc: ValueError) -> ValidationError:
    message = str(exc)
    field = message.split(":", 1)[0].split(" ", 1)[0] if message else "non_field_errors"
    if not field.isidentifier():
        field = "non_field_errors"
    return field_error(field, message)


def _post(loan: Loan, *, kind: str, value_date: dt.date, amount_fen: int, reference: str, actor, reason: str = "",
          reverses: Posting | None = None, approver=None) -> Posting:
    return Posting.objects.create(loan=loan, kind=kind, value_date=value_date, booking_date=businessdate.current(),
                                  amount_fen=amount_fen, reference=reference, actor=_user(actor), reason=reason,
                                  reverses=reverses, approver=_user(approver))


def _user(actor):
    return actor if getattr(actor, "pk", None) else None


def _state_after(loan: Loan, action: str, actor, reason: str = "", before: dict | None = None, replay: bool = True,
                 **extra) -> None:
    if replay:
        refresh(loan)
    after = {"status": loan.status, "principal_outstanding": from_fen(loan.principal_outstanding_fen),
             "total_due": from_fen(loan.total_due_fen), "days_past_due": loan.days_past_due} | extra
    audit.record(actor=actor, action=action, obj=loan, before=before, after=after, reason=reason)


def _before(loan: Loan) -> dict:
    return {"status": loan.status, "principal_outstanding": from_fen(loan.principal_outstanding_fen),
            "total_due": from_fen(loan.total_due_fen), "days_past_due": loan.days_past_due}


def _lock(loan: Loan) -> Loan:
    return Loan.objects.select_for_update().select_related("product", "branch").get(pk=loan.pk)


# ---------------------------------------------------------------------------
# schedules


def schedule_terms(*, principal_fen: int, annual_rate: Decimal, term_months: int, method: str, frequency: str,
                   start: dt.date, first_due: dt.date | None, day_count: str, interest_basis: str,
                   holiday_rule: str) -> schedule.ScheduleTerms:
    try:
        return schedule.ScheduleTerms(
            principal=from_fen(principal_fen), annual_rate=annual_rate, term_months=term_months, start=start,
            method=method, frequency=frequency, first_due=first_due, day_count=day_count,
            interest_basis=interest_basis, calendar=_calendar(holiday_rule),
            holiday_rule=holiday_rule if holiday_rule != "none" else "following")
    except (ValueError, TypeError) as exc:
        raise _engine_error(exc) if isinstance(exc, ValueError) else field_error("non_field_errors", str(exc))


def _store_version(loan: Loan, rows: list[schedule.Installment], *, reason: str, value_date: dt.date,
                   posting: Posting | None) -> ScheduleVersion:
    number = (ScheduleVersion.objects.filter(loan=loan).order_by("-number").values_list("number", flat=True)
              .first() or 0) + 1
    version = ScheduleVersion.objects.create(loan=loan, number=number, reason=reason, value_date=value_date,
                                             posting=posting)
    seq = (Installment.objects.filter(loan=loan).order_by("-seq").values_list("seq", flat=True).first() or 0)
    Installment.objects.bulk_create([
        Installment(loan=loan, version=version, seq=seq + i, number=row.number, period_start=row.period_start,
                    period_end=row.period_end, due_date=row.due_date, principal_fen=to_fen(row.principal),
                    interest_fen=to_fen(row.interest))
        for i, row in enumerate(rows, start=1)
    ])
    return version


# ---------------------------------------------------------------------------
# products and loans


@transaction.atomic
def create_product(*, actor, **fields) -> Product:
    if actor is not None:
        require(actor, "ledger.manage_product")
    product = Product(**fields)
    product.full_clean()
    order = product.allocation_order.split(",")
    if sorted(order) != sorted(engine.DEFAULT_ORDER):
        raise field_error("allocation_order", _("List each of fee, penalty, compound, interest, principal once."))
    product.save()
    audit.record(actor=actor, action="ledger.create_product", obj=product, after=audit.snapshot(product))
    return product


@transaction.atomic
def book_loan(*, actor, loan_no: str, customer, product: Product, principal, annual_rate, term_months: int,
              start_date: dt.date, first_due_date: dt.date | None = None, purpose: str = "",
              guarantee_type: str = "credit", officer=None, method: str | None = None,
              frequency: str | None = None, source: str = "manual", schedule_rows: list[dict] | None = None
              ) -> Loan:
    """Book a loan contract (status pending until disbursed). ``schedule_rows`` (due_date, principal,
    interest) gives a schedule entered by hand: the method becomes ``manual``."""
    if actor is not None:
        require(actor, "ledger.book_loan", customer.branch)
    errors: dict[str, list] = {}

    def check(field, fn):
        try:
            return fn()
        except ValidationError as exc:
            for f, msgs in exc.message_dict.items():
                errors.setdefault(f, []).extend(msgs)

    principal_fen = check("principal", lambda: _amount(principal, "principal"))
    rate = check("annual_rate", lambda: _rate(annual_rate))
    if not (loan_no or "").strip():
        errors.setdefault("loan_no", []).append(_("Give the loan number."))
    elif Loan.objects.filter(loan_no=loan_no).exists():
        errors.setdefault("loan_no", []).append(_("A loan with this number exists already."))
    if not product.active:
        errors.setdefault("product", []).append(_("This product is no longer offered."))
    if rate is not None and not (product.min_rate <= rate <= product.max_rate):
        errors.setdefault("annual_rate", []).append(
            _("The product allows rates from %(min)s to %(max)s.") % {"min": product.min_rate, "max": product.max_rate})
    if not isinstance(term_months, int) or term_months <= 0:
        errors.setdefault("term_months", []).append(_("The term must be a positive number of months."))
    elif not (product.min_term_months <= term_months <= product.max_term_months):
        errors.setdefault("term_months", []).append(
            _("The product allows terms from %(min)s to %(max)s months.")
            % {"min": product.min_term_months, "max": product.max_term_months})
    if not isinstance(start_date, dt.date):
        errors.setdefault("start_date", []).append(_("Enter a valid date."))
    if errors:
        raise ValidationError(errors)
    method = method or product.method
    frequency = frequency or product.frequency
    manual = None
    if schedule_rows is not None:
        try:
            rows = schedule.manual_schedule(schedule_rows, principal=from_fen(principal_fen), start=start_date)
        except (ValueError, TypeError) as exc:
            raise field_error("schedule_rows", str(exc))
        manual = [{"due_date": r.due_date.isoformat(), "principal": str(r.principal), "interest": str(r.interest)}
                  for r in rows]
        method = "manual"
    terms = schedule_terms(principal_fen=principal_fen, annual_rate=rate, term_months=term_months,
                           method=product.method if method == "manual" else method, frequency=frequency, start=start_date, first_due=first_due_date,
                           day_count=product.day_count, interest_basis=product.interest_basis,
                           holiday_rule=product.holiday_rule)
    loan = Loan(loan_no=loan_no.strip(), customer=customer, product=product, branch=customer.branch,
                officer=officer or customer.officer, currency=product.currency, principal_fen=principal_fen,
                annual_rate=rate, term_months=term_months, method=method, frequency=frequency,
                day_count=product.day_count, interest_basis=product.interest_basis,
                holiday_rule=product.holiday_rule, start_date=start_date, first_due_date=first_due_date,
                maturity_date=rows[-1].due_date if manual else terms.maturity,
                original_maturity_date=rows[-1].due_date if manual else terms.maturity, purpose=purpose,
                guarantee_type=guarantee_type, source=source, manual_schedule=manual)
    loan.full_clean(exclude=["officer"])
    loan.save()
    audit.record(actor=actor, action="ledger.book_loan", obj=loan,
                 after={"principal": from_fen(principal_fen), "annual_rate": rate, "term_months": term_months,
                        "method": method, "start_date": start_date})
    return loan


def contract_schedule(loan: Loan, principal_fen: int | None = None) -> list[schedule.Installment]:
    if loan.manual_schedule:
        if principal_fen not in (None, loan.principal_fen):
            raise field_error("amount", _("A schedule entered by hand is disbursed in full."))
        return schedule.manual_schedule(loan.manual_schedule, principal=from_fen(loan.principal_fen),
                                        start=loan.start_date)
    terms = schedule_terms(principal_fen=principal_fen or loan.principal_fen, annual_rate=Decimal(loan.annual_rate),
                           term_months=loan.term_months, method=loan.method, frequency=loan.frequency,
                           start=loan.start_date, first_due=loan.first_due_date, day_count=loan.day_count,
                           interest_basis=loan.interest_basis, holiday_rule=loan.holiday_rule)
    return schedule.generate_schedule(terms)


@transaction.atomic
def disburse(*, actor, loan: Loan, value_date: dt.date, reference: str, amount=None) -> Posting:
    """Pay out the loan (or one tranche of it). The first disbursement fixes the contract schedule;
    a later tranche re-amortises the outstanding principal over the remaining periods."""
    if actor is not None:
        require(actor, "ledger.disburse", loan.branch)
    loan = _lock(loan)
    if loan.status in (Loan.Status.SETTLED, Loan.Status.WRITTEN_OFF):
        raise field_error("loan", _("The loan is closed."))
    value_date = _value_date(None, value_date)
    reference = _reference(loan, reference)
    amount_fen = loan.principal_fen - loan.disbursed_fen if amount is None else _amount(amount)
    if amount_fen <= 0 or loan.disbursed_fen + amount_fen > loan.principal_fen:
        raise field_error("amount", _("Disbursements cannot exceed the contract amount (%(left)s left).")
                          % {"left": from_fen(loan.principal_fen - loan.disbursed_fen)})
    before = _before(loan)
    if loan.disbursed_fen == 0:
        if value_date < loan.start_date:
            raise field_error("value_date", _("The loan starts on %(date)s.") % {"date": loan.start_date})
        posting = _post(loan, kind=Posting.Kind.DISBURSEMENT, value_date=value_date, amount_fen=amount_fen,
                        reference=reference, actor=actor)
        _store_version(loan, contract_schedule(loan, amount_fen), reason=ScheduleVersion.Reason.INITIAL,
                       value_date=value_date, posting=posting)
    else:
        posting = _post(loan, kind=Posting.Kind.DISBURSEMENT, value_date=value_date, amount_fen=amount_fen,
                        reference=reference, actor=actor)
        state = replayed(loan, value_date)
        balance = state.principal_outstanding - state.principal_due + amount_fen
        _reschedule(loan, value_date=value_date, balance_fen=balance, reason=ScheduleVersion.Reason.DISBURSEMENT,
                    reference=f"{reference}:schedule", actor=actor, state=state)
    _state_after(loan, "ledger.disburse", actor, before=before, amount=from_fen(amount_fen), reference=reference)
    return posting


def _future_rows(loan: Loan, state: engine.LoanState, value_date: dt.date) -> list[engine.InstallmentState]:
    return [s for s in state.installments if s.due_date > value_date]


def _reschedule(loan: Loan, *, value_date: dt.date, balance_fen: int, reason: str, reference: str, actor,
                state: engine.LoanState, extra_periods: int = 0, fixed_installment_fen: int | None = None,
                annual_rate: Decimal | None = None, head: list[schedule.Installment] | None = None,
                remaining_periods: int | None = None, method: str | None = None) -> ScheduleVersion:
    """A new schedule version from ``value_date``: ``head`` rows (e.g. a prepayment due that day), then the
    balance re-amortised over the remaining (plus extra) periods on the original due-date grid."""
    future = _future_rows(loan, state, value_date)
    periods = remaining_periods if remaining_periods is not None else len(future) + extra_periods
    rows: list[schedule.Installment] = list(head or [])
    if balance_fen > 0:
        if periods <= 0:
            raise field_error("value_date", _("No installments remain after this date to re-schedule."))
        anchor = future[0].due_date if future else None
        first_due = _unadjusted_next_due(loan, value_date)
        try:
            rows += schedule.remaining_schedule(
                from_fen(balance_fen), annual_rate if annual_rate is not None else Decimal(loan.annual_rate),
                value_date, periods, method=method or _amortising_method(loan), frequency=loan.frequency,
                first_due=first_due, due_day=(loan.first_due_date or loan.start_date).day,
                day_count=loan.day_count, interest_basis=loan.interest_basis,
                calendar=_calendar(loan.holiday_rule),
                holiday_rule=loan.holiday_rule if loan.holiday_rule != "none" else "following",
                fixed_installment=from_fen(fixed_installment_fen) if fixed_installment_fen else None,
                first_number=(head[-1].number + 1) if head else _next_number(state, value_date),
            )
        except ValueError as exc:
            raise _engine_error(exc)
        del anchor
    posting = _post(loan, kind=Posting.Kind.SCHEDULE_CHANGE, value_date=value_date, amount_fen=0,
                    reference=reference, actor=actor, reason=reason)
    version = _store_version(loan, rows, reason=reason, value_date=value_date, posting=posting)
    if rows:
        last = max(r.period_end for r in rows)
        Loan.objects.filter(pk=loan.pk).update(maturity_date=last)
        loan.maturity_date = last
    return version


def _amortising_method(loan: Loan) -> str:
    return loan.method if loan.method in ("equal_installment", "equal_principal", "interest_only") else \
        "equal_installment"


def _next_number(state: engine.LoanState, value_date: dt.date) -> int:
    done = [s for s in state.installments if s.due_date <= value_date]
    return len(done) + 1


def _unadjusted_next_due(loan: Loan, value_date: dt.date) -> dt.date | None:
    """The next date on the loan's original due-date grid strictly after ``value_date``."""
    from postloan.kernel.calendar import add_months

    anchor = loan.first_due_date or loan.start_date
    months = schedule.FREQUENCIES[loan.frequency]
    day = anchor.day
    k = 0 if loan.first_due_date else 1
    while True:
        candidate = add_months(anchor, k * months, day)
        if candidate > value_date:
            return candidate
        k += 1


@transaction.atomic
def post_repayment(*, actor, loan: Loan, amount, value_date: dt.date, reference: str) -> Posting:
    """A repayment: allocated by the product's order, oldest installment first; any excess is held as credit."""
    if actor is not None:
        require(actor, "ledger.post_repayment", loan.branch)
    loan = _lock(loan)
    _open(loan)
    amount_fen = _amount(amount)
    value_date = _value_date(loan, value_date)
    reference = _reference(loan, reference)
    before = _before(loan)
    posting = _post(loan, kind=Posting.Kind.REPAYMENT, value_date=value_date, amount_fen=amount_fen,
                    reference=reference, actor=actor)
    try:
        # the common case (dated today, nothing left over) without a replay; anything else is replayed
        replay = bool(quick.repay([(loan, posting)], businessdate.current()))
        _state_after(loan, "ledger.post_repayment", actor, before=before, replay=replay, amount=from_fen(amount_fen),
                     reference=reference)
    except ValueError as exc:
        raise _engine_error(exc)
    return posting


@transaction.atomic
def post_repayments(*, actor, items: list[dict]) -> list[Posting]:
    """Many repayments at once (a core-banking feed, the demo bank): each item ``{loan, amount, value_date,
    reference}`` is validated exactly as ``post_repayment`` does, then each loan is replayed once. All or
    nothing: an error names the item (``items[3].amount``) and changes nothing."""
    from .state import refresh_many

    postings, loans, events, seen = [], {}, [], set()
    today = businessdate.current()
    loan_ids = {item["loan"].pk for item in items}
    firsts: dict[int, dt.date] = {}
    for loan_id, value_date in Posting.objects.filter(loan_id__in=loan_ids, kind=Posting.Kind.DISBURSEMENT) \
            .order_by("-value_date").values_list("loan_id", "value_date"):
        firsts[loan_id] = value_date  # the earliest wins
    taken = set(Posting.objects.filter(loan_id__in=loan_ids, reference__in={
        str(item["reference"] or "").strip() for item in items}).values_list("loan_id", "reference"))
    for index, item in enumerate(items):
        loan = item["loan"]
        if (loan.pk, item["reference"]) in seen:
            raise field_error(f"items[{index}].reference", _("This reference is already used on this loan."))
        seen.add((loan.pk, item["reference"]))
        try:
            if actor is not None:
                require(actor, "ledger.post_repayment", loan.branch)
            _open(loan)
            amount_fen = _amount(item["amount"])
            value_date = _value_date(loan, item["value_date"], today=today, first=firsts.get(loan.pk))
            reference = _reference(loan, item["reference"], taken)
        except ValidationError as exc:
            raise ValidationError({f"items[{index}].{field}": msgs for field, msgs in exc.message_dict.items()})
        postings.append(Posting(loan=loan, kind=Posting.Kind.REPAYMENT, value_date=value_date,
                                booking_date=today, amount_fen=amount_fen, reference=reference,
                                actor=_user(actor)))
        loans[loan.pk] = loan
    Posting.objects.bulk_create(postings)
    by_loan = list(Loan.objects.filter(pk__in=list(loans)).select_related("product", "branch"))
    fresh = {loan.pk: loan for loan in by_loan}
    by_loan = quick.repay([(fresh[p.loan_id], p) for p in postings], today)
    try:
        refresh_many(by_loan, today)
    except ValueError as exc:
        raise _engine_error(exc)
    from postloan.kernel.models import AuditEvent

    for posting in postings:
        events.append(AuditEvent(actor=_user(actor), actor_name=getattr(actor, "username", "system"),
                                 action="ledger.post_repayment", object_type="ledger.loan",
                                 object_id=str(posting.loan_id), object_repr=posting.loan.loan_no,
                                 branch_id=posting.loan.branch_id, business_date=today,
                                 after={"amount": str(from_fen(posting.amount_fen)), "reference": posting.reference,
                                        "value_date": posting.value_date.isoformat()}))
    AuditEvent.objects.bulk_create(events, batch_size=1000)
    return postings


def payoff_quote(loan: Loan, on: dt.date) -> engine.Payoff:
    if not isinstance(on, dt.date):
        raise field_error("date", _("Enter a valid date."))
    if loan.disbursed_fen == 0 and loan.status == Loan.Status.PENDING:
        raise field_error("loan", _("The loan has not been disbursed."))
    first = (Posting.objects.filter(loan=loan, kind=Posting.Kind.DISBURSEMENT).order_by("value_date")
             .values_list("value_date", flat=True).first())
    if first and on < first:
        raise field_error("date", _("The date is before the disbursement (%(date)s).") % {"date": first})
    data = inputs(loan)
    return engine.payoff(data.dues, data.events, data.terms, on)


@transaction.atomic
def prepay(*, actor, loan: Loan, value_date: dt.date, reference: str, mode: str, amount=None) -> Posting:
    """Prepayment. ``mode``: ``full`` (settle the loan), ``shorten_term`` (keep the installment) or
    ``lower_installment`` (keep the term). What is due and the interest accrued to the value date are
    paid first; the rest reduces principal, and the remaining schedule is re-drawn."""
    if actor is not None:
        require(actor, "ledger.prepay", loan.branch)
    if mode not in ("full", "shorten_term", "lower_installment"):
        raise field_error("mode", _("Choose full, shorten_term or lower_installment."))
    loan = _lock(loan)
    _open(loan)
    value_date = _value_date(loan, value_date)
    reference = _reference(loan, reference)
    before = _before(loan)
    data = inputs(loan)
    quote = engine.payoff(data.dues, data.events, data.terms, value_date)
    state = engine.replay(data.dues, data.events, data.terms, value_date)
    accrued = quote.interest - state.interest_due
    unbilled = state.principal_outstanding - state.principal_due
    due_now = quote.total - unbilled  # everything except principal not yet billed, net of credit
    if mode == "full":
        amount_fen = quote.total if amount is None else _amount(amount)
        if amount_fen < quote.total:
            raise field_error("amount", _("Settling the loan on %(date)s takes %(total)s.")
                              % {"date": value_date, "total": from_fen(quote.total)})
        principal_now = unbilled
    else:
        amount_fen = _amount(amount)
        principal_now = amount_fen - due_now
        if principal_now <= 0:
            raise field_error("amount", _("The amount must exceed what is due now (%(due)s).")
                              % {"due": from_fen(max(due_now, 0))})
        if principal_now >= unbilled:
            raise field_error("amount", _("That repays the whole loan: use a full prepayment."))
    if mode != "full":
        # The principal it repays (and the interest accrued to the value date) falls due that day; the rest of
        # the principal is re-scheduled. A full prepayment needs no new schedule: paying the payoff amount
        # settles the loan, the interest not yet earned is cancelled.
        future = _future_rows(loan, state, value_date)
        current = future[0] if future else None
        head = [schedule.Installment(number=_next_number(state, value_date),
                                     period_start=_current_period_start(data, value_date), period_end=value_date,
                                     due_date=value_date, principal=from_fen(principal_now),
                                     interest=from_fen(accrued), total=from_fen(principal_now + accrued),
                                     balance=from_fen(unbilled - principal_now))]
        fixed = None
        if mode == "shorten_term" and current is not None:
            if _amortising_method(loan) != "equal_installment" or loan.method != "equal_installment":
                raise field_error("mode", _("Keeping the installment needs an equal-installment loan."))
            fixed = current.principal + current.interest
        _reschedule(loan, value_date=value_date, balance_fen=unbilled - principal_now,
                    reason=ScheduleVersion.Reason.PREPAYMENT, reference=f"{reference}:schedule", actor=actor,
                    state=state, head=head, fixed_installment_fen=fixed)
    posting = _post(loan, kind=Posting.Kind.PREPAYMENT, value_date=value_date, amount_fen=amount_fen,
                    reference=reference, actor=actor, reason=mode)
    try:
        _state_after(loan, "ledger.prepay", actor, before=before, amount=from_fen(amount_fen), mode=mode,
                     reference=reference)
    except ValueError as exc:
        raise _engine_error(exc)
    return posting


def _current_period_start(data, value_date: dt.date) -> dt.date:
    effective = sorted(data.dues, key=lambda d: d.due_date)
    for due in effective:
        if (due.period_end or due.due_date) > value_date:
            return due.period_start
    return value_date


@transaction.atomic
def charge_fee(*, actor, loan: Loan, amount, value_date: dt.date, reference: str, reason: str) -> Posting:
    if actor is not None:
        require(actor, "ledger.charge_fee", loan.branch)
    loan = _lock(loan)
    _open(loan)
    amount_fen = _amount(amount)
    value_date = _value_date(loan, value_date)
    reference = _reference(loan, reference)
    if not (reason or "").strip():
        raise field_error("reason", _("Say what the fee is for."))
    before = _before(loan)
    posting = _post(loan, kind=Posting.Kind.FEE_CHARGE, value_date=value_date, amount_fen=amount_fen,
                    reference=reference, actor=actor, reason=reason)
    _state_after(loan, "ledger.charge_fee", actor, reason=reason, before=before, amount=from_fen(amount_fen))
    return posting


@transaction.atomic
def waive(*, actor, loan: Loan, component: str, amount, value_date: dt.date, reference: str, reason: str) -> Posting:
    """Waive fees or penalty interest (a credit department decision)."""
    if actor is not None:
        require(actor, "ledger.waive_fee", loan.branch)
    kinds = {"fee": Posting.Kind.FEE_WAIVER, "penalty": Posting.Kind.PENALTY_WAIVER}
    if component not in kinds:
        raise field_error("component", _("Choose fee or penalty."))
    loan = _lock(loan)
    _open(loan)
    amount_fen = _amount(amount)
    value_date = _value_date(loan, value_date)
    reference = _reference(loan, reference)
    if not (reason or "").strip():
        raise field_error("reason", _("Give the reason for the waiver."))
    before = _before(loan)
    posting = _post(loan, kind=kinds[component], value_date=value_date, amount_fen=amount_fen, reference=reference,
                    actor=actor, reason=reason)
    try:
        _state_after(loan, f"ledger.waive_{component}", actor, reason=reason, before=before,
                     amount=from_fen(amount_fen))
    except ValueError as exc:
        raise field_error("amount", str(exc))
    return posting


# ---------------------------------------------------------------------------
# reversal (maker–checker)


@transaction.atomic
def request_reversal(*, actor, posting: Posting, reason: str) -> ReversalRequest:
    require(actor, "ledger.request_reversal", posting.loan.branch)
    if not (reason or "").strip():
        raise field_error("reason", _("Say why the posting is wrong."))
    if posting.kind == Posting.Kind.REVERSAL:
        raise field_error("posting", _("A reversal cannot be reversed; post the correct entry instead."))
    if Posting.objects.filter(reverses=posting).exists():
        raise field_error("posting", _("This posting is already reversed."))
    if posting.kind == Posting.Kind.SCHEDULE_CHANGE and posting.reference.endswith(":schedule"):
        raise field_error("posting", _("Reverse the prepayment or disbursement this schedule belongs to."))
    if ReversalRequest.objects.filter(posting=posting, status=ReversalRequest.Status.PENDING).exists():
        raise field_error("posting", _("A reversal of this posting is already awaiting approval."))
    request = ReversalRequest.objects.create(posting=posting, requested_by=actor, reason=reason.strip())
    audit.record(actor=actor, action="ledger.request_reversal", obj=posting.loan, reason=reason,
                 after={"posting": posting.reference, "kind": posting.kind, "amount": from_fen(posting.amount_fen)})
    return request


@transaction.atomic
def approve_reversal(*, actor, request: ReversalRequest) -> Posting:
    """The second person approves: a reversal posting undoes the original, and the loan is re-derived."""
    request = ReversalRequest.objects.select_for_update().select_related("posting__loan").get(pk=request.pk)
    posting = request.posting
    require(actor, "ledger.approve_reversal", posting.loan.branch)
    if request.status != ReversalRequest.Status.PENDING:
        raise field_error("request", _("This request has already been decided."))
    if actor.pk == request.requested_by_id:
        raise field_error("request", _("A reversal needs a second person: you asked for it, someone else approves."))
    loan = _lock(posting.loan)
    standing = _standing(loan)
    if posting.kind == Posting.Kind.DISBURSEMENT and any(
            p.id != posting.id and p.kind != Posting.Kind.SCHEDULE_CHANGE for p in standing
            if p.value_date >= posting.value_date):
        raise field_error("posting", _("Reverse the later postings before the disbursement."))
    before = _before(loan)
    reversal = _post(loan, kind=Posting.Kind.REVERSAL, value_date=posting.value_date, amount_fen=posting.amount_fen,
                     reference=f"REV-{posting.reference}"[:64], actor=request.requested_by, approver=actor,
                     reason=request.reason, reverses=posting)
    companion = Posting.objects.filter(loan=loan, reference=f"{posting.reference}:schedule").first()
    if companion and not Posting.objects.filter(reverses=companion).exists():
        _post(loan, kind=Posting.Kind.REVERSAL, value_date=companion.value_date, amount_fen=0,
              reference=f"REV-{companion.reference}"[:64], actor=request.requested_by, approver=actor,
              reason=request.reason, reverses=companion)
    request.status = ReversalRequest.Status.APPROVED
    request.decided_by = actor
    from django.utils import timezone

    request.decided_at = timezone.now()
    request.save()
    _restore_maturity(loan)
    try:
        _state_after(loan, "ledger.reverse_posting", actor, reason=request.reason, before=before,
                     reversed=posting.reference)
    except ValueError as exc:
        raise _engine_error(exc)
    return reversal


@transaction.atomic
def reject_reversal(*, actor, request: ReversalRequest, reason: str = "") -> ReversalRequest:
    request = ReversalRequest.objects.select_for_update().select_related("posting__loan").get(pk=request.pk)
    if actor.pk != request.requested_by_id:
        require(actor, "ledger.approve_reversal", request.posting.loan.branch)
    if request.status != ReversalRequest.Status.PENDING:
        raise field_error("request", _("This request has already been decided."))
    if actor.pk != request.requested_by_id and not (reason or "").strip():
        raise field_error("reason", _("Say why the reversal is rejected."))
    from django.utils import timezone

    request.status = ReversalRequest.Status.REJECTED
    request.decided_by = actor
    request.decided_at = timezone.now()
    request.save()
    audit.record(actor=actor, action="ledger.reject_reversal", obj=request.posting.loan, reason=reason)
    return request


def _standing(loan: Loan) -> list[Posting]:
    postings = list(Posting.objects.filter(loan=loan))
    reversed_ids = {p.reverses_id for p in postings if p.reverses_id}
    return [p for p in postings if p.kind != Posting.Kind.REVERSAL and p.id not in reversed_ids]


def _restore_maturity(loan: Loan) -> None:
    """The maturity follows the schedule versions that still stand."""
    standing_ids = {p.id for p in _standing(loan)}
    versions = [v for v in ScheduleVersion.objects.filter(loan=loan).order_by("number")
                if v.posting_id is None or v.posting_id in standing_ids or v.number == 1]
    if versions:
        last = Installment.objects.filter(version=versions[-1]).order_by("-period_end").first()
        if last:
            Loan.objects.filter(pk=loan.pk).update(maturity_date=last.period_end)
            loan.maturity_date = last.period_end


# ---------------------------------------------------------------------------
# changes of terms


def _reference_for(loan: Loan, prefix: str) -> str:
    n = Posting.objects.filter(loan=loan, reference__startswith=prefix).count() + 1
    return f"{prefix}-{n}"


@transaction.atomic
def reprice(*, actor, loan: Loan, annual_rate, value_date: dt.date, reason: str) -> ScheduleVersion:
    """A rate change from ``value_date``: the principal not yet due is re-amortised at the new rate."""
    if actor is not None:
        require(actor, "ledger.change_terms", loan.branch)
    loan = _lock(loan)
    _open(loan)
    rate = _rate(annual_rate)
    if not (loan.product.min_rate <= rate <= loan.product.max_rate):
        raise field_error("annual_rate", _("The product allows rates from %(min)s to %(max)s.")
                          % {"min": loan.product.min_rate, "max": loan.product.max_rate})
    value_date = _value_date(loan, value_date)
    if not (reason or "").strip():
        raise field_error("reason", _("Give the reason for the rate change."))
    before = _before(loan) | {"annual_rate": loan.annual_rate}
    state = replayed(loan, value_date)
    balance, head = _split_current_period(loan, state, value_date)
    version = _reschedule(loan, value_date=value_date, balance_fen=balance, reason=ScheduleVersion.Reason.REPRICE,
                          reference=_reference_for(loan, "REPRICE"), actor=actor, state=state, annual_rate=rate,
                          head=head)
    Loan.objects.filter(pk=loan.pk).update(annual_rate=rate)
    loan.annual_rate = rate
    _state_after(loan, "ledger.reprice", actor, reason=reason, before=before, annual_rate=rate)
    return version


def _split_current_period(loan: Loan, state: engine.LoanState, value_date: dt.date):
    """Interest accrued in the current period to ``value_date`` becomes due that day; the principal not yet
    billed is what gets re-scheduled."""
    data = inputs(loan)
    quote = engine.payoff(data.dues, data.events, data.terms, value_date)
    accrued = quote.interest - state.interest_due
    unbilled = state.principal_outstanding - state.principal_due
    head = []
    if accrued > 0:
        head = [schedule.Installment(number=_next_number(state, value_date),
                                     period_start=_current_period_start(data, value_date), period_end=value_date,
                                     due_date=value_date, principal=from_fen(0), interest=from_fen(accrued),
                                     total=from_fen(accrued), balance=from_fen(unbilled))]
    return unbilled, head


EXTENSION_LIMITS = ((12, None), (60, "half"), (10**6, 36))  # (term up to, limit) — 贷款通则 Art 12


def extension_limit_months(original_term: int) -> int:
    """Cumulative extension allowed: short-term ≤ the original term; medium ≤ half; long ≤ 3 years."""
    if original_term <= 12:
        return original_term
    if original_term <= 60:
        return original_term // 2
    return 36


@transaction.atomic
def extend(*, actor, loan: Loan, months: int, value_date: dt.date, guarantor_consent: bool, reason: str
           ) -> ScheduleVersion:
    """展期: before maturity, with the guarantor's written consent, within the cumulative limit."""
    if actor is not None:
        require(actor, "ledger.change_terms", loan.branch)
    loan = _lock(loan)
    _open(loan)
    value_date = _value_date(loan, value_date)
    period = schedule.FREQUENCIES[loan.frequency]
    if not isinstance(months, int) or months <= 0 or months % period:
        raise field_error("months", _("Extend by a positive multiple of %(n)s months.") % {"n": period})
    if value_date >= loan.maturity_date:
        raise field_error("value_date", _("An extension must be agreed before maturity (%(date)s).")
                          % {"date": loan.maturity_date})
    if loan.guarantee_type != Loan.Guarantee.CREDIT and not guarantor_consent:
        raise field_error("guarantor_consent", _("The guarantor's written consent is required."))
    limit = extension_limit_months(loan.term_months)
    if loan.extension_months + months > limit:
        raise field_error("months", _("Cumulative extension may not exceed %(limit)s months for this term "
                                      "(already %(done)s).") % {"limit": limit, "done": loan.extension_months})
    if not (reason or "").strip():
        raise field_error("reason", _("Give the reason for the extension."))
    before = _before(loan) | {"maturity_date": loan.maturity_date}
    state = replayed(loan, value_date)
    balance, head = _split_current_period(loan, state, value_date)
    version = _reschedule(loan, value_date=value_date, balance_fen=balance, reason=ScheduleVersion.Reason.EXTENSION,
                          reference=_reference_for(loan, "EXTEND"), actor=actor, state=state,
                          extra_periods=months // period, head=head)
    Loan.objects.filter(pk=loan.pk).update(extension_months=loan.extension_months + months)
    loan.extension_months += months
    _state_after(loan, "ledger.extend", actor, reason=reason, before=before, maturity_date=loan.maturity_date,
                 months=months)
    return version


@transaction.atomic
def restructure(*, actor, loan: Loan, value_date: dt.date, term_months: int, reason: str, annual_rate=None,
                method: str | None = None) -> ScheduleVersion:
    """Restructuring: the principal not yet due is re-scheduled over a new term (and rate, method); the
    loan is marked restructured for risk classification. Amounts already overdue stay due."""
    if actor is not None:
        require(actor, "ledger.change_terms", loan.branch)
    loan = _lock(loan)
    _open(loan)
    value_date = _value_date(loan, value_date)
    period = schedule.FREQUENCIES[loan.frequency]
    if not isinstance(term_months, int) or term_months <= 0 or term_months % period:
        raise field_error("term_months", _("Give a positive multiple of %(n)s months.") % {"n": period})
    rate = _rate(annual_rate) if annual_rate is not None else Decimal(loan.annual_rate)
    if annual_rate is not None and not (loan.product.min_rate <= rate <= loan.product.max_rate):
        raise field_error("annual_rate", _("The product allows rates from %(min)s to %(max)s.")
                          % {"min": loan.product.min_rate, "max": loan.product.max_rate})
    if method is not None and method not in ("equal_installment", "equal_principal", "interest_only"):
        raise field_error("method", _("Choose equal_installment, equal_principal or interest_only."))
    if not (reason or "").strip():
        raise field_error("reason", _("Give the reason for the restructuring."))
    before = _before(loan) | {"maturity_date": loan.maturity_date, "annual_rate": loan.annual_rate}
    state = replayed(loan, value_date)
    balance, head = _split_current_period(loan, state, value_date)
    version = _reschedule(loan, value_date=value_date, balance_fen=balance,
                          reason=ScheduleVersion.Reason.RESTRUCTURE, reference=_reference_for(loan, "RESTRUCTURE"),
                          actor=actor, state=state, remaining_periods=term_months // period, annual_rate=rate,
                          head=head, method=method)
    Loan.objects.filter(pk=loan.pk).update(restructured=True, restructured_on=value_date, annual_rate=rate)
    loan.restructured, loan.restructured_on, loan.annual_rate = True, value_date, rate
    _state_after(loan, "ledger.restructure", actor, reason=reason, before=before, maturity_date=loan.maturity_date,
                 annual_rate=rate)
    return version


def preview(fn, **kwargs):
    """Run a service and roll it back: the effect on the loan, shown before the user confirms."""

    class _Rollback(Exception):
        pass

    result = {}
    try:
        with transaction.atomic():
            fn(**kwargs)
            loan = Loan.objects.get(pk=kwargs["loan"].pk)
            result["loan"] = loan
            result["installments"] = penalty_to_date(loan, list(Installment.objects.filter(loan=loan).exclude(
                status=Installment.Status.SUPERSEDED).order_by("due_date", "seq")))
            raise _Rollback
    except _Rollback:
        pass
    return result


__all__ = ["IntegrityError"]
