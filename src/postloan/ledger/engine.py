"""The reference loan state machine: a loan's state is a pure function of its
schedule and its standing (non-reversed) events.

Pure Python, integer fen, no Django.  :func:`replay` starts from the
contract schedule and applies every event in value-date order, so a
back-valued event, or the reversal of one (the event is simply left out),
recomputes everything after it.  :func:`payoff` says what must be paid on a
day to settle the loan.  Nothing loops day by day: between two events an
installment's overdue base is constant, so penalty over a span is
``accrual.penalty_for_days`` (per-day amount × days).

Rules (the fast close-of-business must reproduce them to the fen)
-----------------------------------------------------------------

Days
    Events are applied in value-date order; events with the same value date
    keep the order they were given in.  Everything that happens on day X
    (events, credit applied) happens *before* that day's penalty accrual, so
    the accrual for day X uses the balances after X's events.  A repayment
    on X therefore pays the penalty accrued through X − 1, and the base it
    reduces no longer bears penalty from X on.

Processing of day X
    1. penalty and compound interest are brought up to date through X − 1;
    2. installments with due date ≤ X are due;
    3. credit held is applied to what is due (so money held earlier pays
       before the day's repayments);
    4. the day's events, in order;
    5. credit is applied again (for a fee charged, or a due created, that
       day) and, if ``Terms.auto_settle``, the loan is settled early when
       the credit covers everything (below);
    6. the loan is settled on X if nothing is owed any more.

    An event that creates an obligation on a settled loan (a fee, a further
    disbursement, a schedule change) reopens it at once; it settles again
    on the day it is paid.  A repayment dated after the settlement date is
    refused (ValueError "loan is settled") unless an event of its own day
    reopened the loan (in whichever order they are listed); one on the
    settlement day itself is held as credit.

Overdue, penalty (罚息) and compound interest (复利)
    An installment due on D and not fully paid at the end of D is overdue
    from D + 1 (days past due count from there, grace or not).  Penalty
    accrues on its unpaid principal at annual_rate × (1 + penalty_markup) /
    day_basis a day, compound interest on its unpaid contractual interest at
    annual_rate × (1 + compound_markup) / day_basis a day, each day rounded
    half-up to the fen, from day D + 1 + grace_days through the as-of date
    inclusive.  Grace days are never charged: an installment fully paid by
    D + grace_days bears no penalty at all, and one paid later bears penalty
    from D + 1 + grace_days only (not back to D + 1).  Penalty and compound
    interest belong to the installment, so allocation by installment works;
    neither bears further interest.

Repayments and credit
    A repayment pays everything due on its value date (installments due on
    or before it, and fees charged on or before it) by ``Terms.order`` and
    ``Terms.mode`` (see :mod:`postloan.ledger.allocation`).  Whatever is left
    is held as ``credit`` and shown in the repayment's allocations as the
    component ``"credit"`` (installment 0).  Credit is applied automatically
    on each later due date and whenever a fee is charged, before that day's
    accrual, so paying early never creates penalty.  Those applications are
    listed in ``LoanState.credit_allocations`` by date.  Repayment
    references must be unique: ``LoanState.allocations`` is keyed by them.

Early settlement (``Terms.auto_settle``, on by default)
    If, after the events of a day X, the credit covers all the principal
    not yet due plus the contractual interest accrued on it through X − 1
    (算头不算尾: the repayment day bears no interest, exactly like
    :func:`payoff`), the loan is settled on X: each installment not yet due
    is paid with its interest cut to the interest accrued through X − 1
    (the difference is ``InstallmentState.interest_cancelled``).  So paying
    the :func:`payoff` amount settles the loan with nothing left and no
    credit; an amount beyond it stays as credit (to be refunded).

Fees
    A fee charge is owed from its value date: it is the ``fee`` component
    of a loan-level pseudo-installment number 0, one bucket per charge with
    the charge's value date as its due date, so "oldest first" puts it
    among the installments by date (and before an installment due the same
    day).  Fees bear no penalty and do not count for days past due, but a
    loan with an unpaid fee is not settled.  ``LoanState.fees`` has each
    charge; ``LoanState.fee_installment`` sums them as installment 0.
    A fee waiver reduces the outstanding fees, oldest charge first.

Penalty waiver
    Reduces outstanding penalty and compound interest (accrued through
    X − 1), oldest installment first, penalty before compound within an
    installment; ValueError if more than is outstanding.

Schedule change
    Replaces every installment due after its value date that has nothing
    paid (in practice all of them) by the new dues, which must be due on or
    after the value date: a partial or full prepayment puts the principal
    (and accrued interest) it pays in a due on the value date, and the rest
    in the later dues.  Installments already due stay as they are.

Validation
    ValueError naming the field: an amount that is not a positive integer
    ("amount"), an event before the first disbursement ("value_date"), bad
    dues or installments whose principal does not add up to the amount
    disbursed once the as-of date is after the last disbursement ("dues";
    on the disbursement day itself a schedule change may still follow), a
    waiver larger than what is outstanding ("amount"), a repayment on a
    settled loan ("loan is settled"), a repeated repayment reference ("ref").

Status
    ``settled`` when something was disbursed and nothing is owed: no
    principal outstanding, every installment (due or not) paid, no fees
    (credit may remain, to be refunded); ``overdue`` when days past due >
    0; otherwise ``active``.  ``settled_on`` is the value date on which it
    became settled.  Days past due: as-of date − the due date of the oldest
    installment due before it with anything unpaid (principal, interest,
    penalty or compound; fees do not count); buckets M0 … M7+ (DOMAIN.md §7).
    An installment is ``paid`` when nothing on it is unpaid, else
    ``overdue`` if due before the as-of date, ``partly_paid`` (something
    paid) or ``due`` if due on it, ``future`` if due later.
    ``interest_accrued`` is the contractual interest of periods not yet due
    accrued through the end of the as-of date (:func:`accrual.accrued_to`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from .accrual import accrued_to, daily_rate, per_day_amount, window
from .allocation import DEFAULT_ORDER, Allocation, check_mode, check_order, plan

__all__ = [
    "Disbursement",
    "Due",
    "Event",
    "FeeCharge",
    "FeeState",
    "FeeWaiver",
    "InstallmentState",
    "LoanState",
    "Payoff",
    "PenaltyWaiver",
    "Repayment",
    "ScheduleChange",
    "Terms",
    "bucket_for",
    "payoff",
    "replay",
]

_ONE_DAY = timedelta(days=1)

BUCKETS = ((0, "M0"), (30, "M1"), (60, "M2"), (90, "M3"), (120, "M4"), (150, "M5"), (180, "M6"))


def bucket_for(days_past_due: int) -> str:
    """DOMAIN.md §7: M0 for 0, M1 1–30, M2 31–60, … M6 151–180, M7+ over 180."""
    for limit, name in BUCKETS:
        if days_past_due <= limit:
            return name
    return "M7+"


# ---------------------------------------------------------------------------
# inputs


@dataclass(frozen=True)
class Terms:
    """The loan terms the engine needs.  Rates are Decimal (floats refused)."""

    annual_rate: Decimal
    penalty_markup: Decimal = Decimal("0.5")
    compound_markup: Decimal = Decimal("0.5")
    day_basis: int = 360
    grace_days: int = 0
    order: tuple[str, ...] = DEFAULT_ORDER
    mode: str = "installment_first"
    auto_settle: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "order", check_order(self.order))
        check_mode(self.mode)
        if not isinstance(self.grace_days, int) or isinstance(self.grace_days, bool) or self.grace_days < 0:
            raise ValueError(f"grace_days must be a non-negative integer, got {self.grace_days!r}")
        # validates the rates, the markups and the day basis
        daily_rate(self.annual_rate, self.penalty_markup, self.day_basis)
        daily_rate(self.annual_rate, self.compound_markup, self.day_basis)


@dataclass(frozen=True)
class Due:
    """One scheduled installment.  ``period_end`` (the unadjusted accrual end) defaults to ``due_date``."""

    number: int
    period_start: date
    due_date: date
    principal: int
    interest: int
    period_end: date | None = None

    def __post_init__(self) -> None:
        if self.period_end is None:
            object.__setattr__(self, "period_end", self.due_date)


@dataclass(frozen=True)
class Disbursement:
    value_date: date
    amount: int
    ref: str = ""


@dataclass(frozen=True)
class Repayment:
    value_date: date
    amount: int
    ref: str = ""


@dataclass(frozen=True)
class FeeCharge:
    """A fee owed from ``value_date`` (installment 0, component "fee")."""

    value_date: date
    amount: int
    ref: str = ""


@dataclass(frozen=True)
class FeeWaiver:
    """Waives outstanding fees, oldest first; ValueError if more than is outstanding."""

    value_date: date
    amount: int
    ref: str = ""


@dataclass(frozen=True)
class PenaltyWaiver:
    """Waives outstanding penalty then compound interest, oldest installment first."""

    value_date: date
    amount: int
    ref: str = ""


@dataclass(frozen=True)
class ScheduleChange:
    """Replaces the installments due after ``value_date`` (none of them paid) with ``dues``."""

    value_date: date
    dues: tuple[Due, ...]
    ref: str = ""
    reason: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.dues, tuple):
            object.__setattr__(self, "dues", tuple(self.dues))


Event = Disbursement | Repayment | FeeCharge | FeeWaiver | PenaltyWaiver | ScheduleChange
_AMOUNT_EVENTS = (Disbursement, Repayment, FeeCharge, FeeWaiver, PenaltyWaiver)


# ---------------------------------------------------------------------------
# outputs


@dataclass(frozen=True, slots=True)
class InstallmentState:
    """An installment at the as-of date.  ``penalty``/``compound``/``fee`` are what was charged
    (net of waivers); ``paid_*`` what was paid; the difference is outstanding."""

    number: int
    period_start: date
    period_end: date
    due_date: date
    principal: int
    interest: int
    penalty: int
    compound: int
    fee: int
    paid_principal: int
    paid_interest: int
    paid_penalty: int
    paid_compound: int
    paid_fee: int
    status: str  # paid, partly_paid, due, overdue, future
    penalty_waived: int = 0
    compound_waived: int = 0
    fee_waived: int = 0
    interest_cancelled: int = 0  # contractual interest not earned because the loan was settled early

    @property
    def outstanding(self) -> int:
        return (self.principal + self.interest + self.penalty + self.compound + self.fee
                - self.paid_principal - self.paid_interest - self.paid_penalty - self.paid_compound
                - self.paid_fee)


@dataclass(frozen=True, slots=True)
class FeeState:
    ref: str
    value_date: date
    amount: int
    paid: int
    waived: int

    @property
    def outstanding(self) -> int:
        return self.amount - self.paid - self.waived


@dataclass(frozen=True)
class LoanState:
    as_of: date
    disbursed: int
    principal_outstanding: int  # disbursed − principal paid
    principal_due: int  # billed (due on or before as_of) and unpaid
    interest_due: int
    penalty_due: int
    compound_due: int
    fee_due: int
    overdue_principal: int  # of installments due before as_of
    overdue_interest: int
    interest_accrued: int  # contractual interest accrued through as_of, not yet due
    credit: int
    days_past_due: int
    bucket: str
    next_due_date: date | None
    maturity_date: date | None
    status: str  # active, overdue, settled
    settled_on: date | None
    installments: tuple[InstallmentState, ...]
    allocations: dict[str, list[Allocation]]
    credit_allocations: dict[date, list[Allocation]] = field(default_factory=dict)
    fees: tuple[FeeState, ...] = ()
    fee_installment: InstallmentState | None = None
    principal_paid: int = 0
    # the accrual window for the days after as_of (accrual.window): what the close of business accrues from
    accrual_until: date | None = None
    accrual_start: date | None = None
    accrual_days: int = 0
    accrual_interest: int = 0
    accrual_paid: int = 0
    accrual_fixed: int = 0
    # the penalty and compound interest the loan bears a day from as_of + 1, on the installments whose penalty
    # has started by as_of (per-day amounts, summed): what the close of business adds for each day without an
    # event, plus the installments whose penalty starts that day
    penalty_daily: int = 0
    compound_daily: int = 0

    @property
    def total_due(self) -> int:
        return self.principal_due + self.interest_due + self.penalty_due + self.compound_due + self.fee_due


@dataclass(frozen=True)
class Payoff:
    """What must be paid on ``on`` to settle the loan: every component, less the credit held."""

    on: date
    principal: int  # all principal outstanding, due or not
    interest: int  # interest due and unpaid + interest accrued through on − 1
    penalty: int
    compound: int
    fee: int
    credit: int
    total: int


# ---------------------------------------------------------------------------
# the replay


class _Inst:
    __slots__ = ("number", "ps", "pe", "due", "due_ord", "principal", "interest", "pen", "comp",
                 "pp", "pi", "ppen", "pcomp", "pen_w", "comp_w", "acc_from", "cancelled")

    def __init__(self, due: Due, grace: int) -> None:
        self.number = due.number
        self.ps = due.period_start
        self.pe = due.period_end
        self.due = due.due_date
        self.due_ord = due.due_date.toordinal()
        self.principal = due.principal
        self.interest = due.interest
        self.pen = self.comp = 0
        self.pp = self.pi = self.ppen = self.pcomp = 0
        self.pen_w = self.comp_w = 0
        self.acc_from = self.due_ord + 1 + grace  # first day not yet accrued
        self.cancelled = 0

    def closed(self) -> bool:
        return (self.pp == self.principal and self.pi == self.interest and self.ppen == self.pen
                and self.pcomp == self.comp)


class _Fee:
    __slots__ = ("ref", "day", "day_ord", "amount", "paid", "waived")

    def __init__(self, ref: str, day: date, amount: int) -> None:
        self.ref = ref
        self.day = day
        self.day_ord = day.toordinal()
        self.amount = amount
        self.paid = 0
        self.waived = 0


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_dues(dues: Any, taken: set[int]) -> list[Due]:
    """Validate dues (ValueError naming "dues"); ``taken`` collects the numbers in use."""
    try:
        items = list(dues)
    except TypeError:
        raise ValueError(f"dues must be a list of Due, got {dues!r}")
    for due in items:
        if not isinstance(due, Due):
            raise ValueError(f"dues must hold Due items, got {due!r}")
        if not _is_int(due.number) or due.number < 1:
            raise ValueError(f"dues: installment number must be a positive integer, got {due.number!r}")
        if due.number in taken:
            raise ValueError(f"dues: installment number {due.number} is used twice")
        taken.add(due.number)
        for name in ("period_start", "due_date", "period_end"):
            if not isinstance(getattr(due, name), date):
                raise ValueError(f"dues: {name} of installment {due.number} must be a date")
        if due.period_end < due.period_start:
            raise ValueError(f"dues: installment {due.number} ends before it starts")
        for name in ("principal", "interest"):
            value = getattr(due, name)
            if not _is_int(value) or value < 0:
                raise ValueError(f"dues: {name} of installment {due.number} must be a non-negative integer "
                                 f"number of fen, got {value!r}")
    return items


def _check_events(events: Any) -> list[Any]:
    """Validate and sort the events (stable within a day)."""
    try:
        items = list(events)
    except TypeError:
        raise ValueError(f"events must be a list, got {events!r}")
    refs: set[str] = set()
    for event in items:
        if not isinstance(event, (*_AMOUNT_EVENTS, ScheduleChange)):
            raise ValueError(f"events: unknown event {event!r}")
        if not isinstance(event.value_date, date):
            raise ValueError(f"value_date must be a date, got {event.value_date!r}")
        if isinstance(event, _AMOUNT_EVENTS):
            if not _is_int(event.amount) or event.amount <= 0:
                raise ValueError(f"amount must be a positive integer number of fen, got {event.amount!r} "
                                 f"({type(event).__name__} {event.ref!r})")
        if isinstance(event, Repayment):
            if event.ref in refs:
                raise ValueError(f"ref: repayment reference {event.ref!r} is used twice")
            refs.add(event.ref)
    items.sort(key=lambda e: e.value_date)
    disbursed = False
    for event in items:
        if isinstance(event, Disbursement):
            disbursed = True
        elif not disbursed:
            raise ValueError(f"value_date: {type(event).__name__} {event.ref!r} on {event.value_date} comes "
                             "before the first disbursement")
    return items


class _Run:
    """One replay.  Dates are ordinals inside; every amount is integer fen."""

    def __init__(self, dues: Any, events: Any, terms: Terms) -> None:
        if not isinstance(terms, Terms):
            raise ValueError(f"terms must be Terms, got {terms!r}")
        self.terms = terms
        self.grace = terms.grace_days
        self.pen_rate = daily_rate(terms.annual_rate, terms.penalty_markup, terms.day_basis)
        self.comp_rate = daily_rate(terms.annual_rate, terms.compound_markup, terms.day_basis)
        rank = {c: i for i, c in enumerate(terms.order)}
        self.r_fee, self.r_pen, self.r_comp = rank["fee"], rank["penalty"], rank["compound"]
        self.r_int, self.r_prin = rank["interest"], rank["principal"]
        self.mode = terms.mode
        grace = self.grace
        self.insts = [_Inst(d, grace) for d in _check_dues(dues, set())]
        self.insts.sort(key=lambda i: (i.due_ord, i.number))
        self.scheduled_principal = sum(i.principal for i in self.insts)
        self.events = _check_events(events)
        self.due_ptr = 0  # insts[:due_ptr] are due
        self.open: list[_Inst] = []  # due installments with something unpaid
        self.fees: list[_Fee] = []
        self.open_fees: list[_Fee] = []
        self.disbursed = 0
        self.principal_paid = 0
        self.credit = 0
        self.allocations: dict[str, list[Allocation]] = {}
        self.credit_allocations: dict[date, list[Allocation]] = {}
        self.settled_on: int | None = None

    # -- the timeline ------------------------------------------------------

    def run(self, limit: int) -> None:
        """Process every day up to ``limit`` (an ordinal) on which something happens."""
        events = self.events
        n = len(events)
        i = 0
        insts = self.insts
        while True:
            nxt = None
            if i < n:
                d = events[i].value_date.toordinal()
                if d <= limit:
                    nxt = d
            if self.credit > 0 and self.due_ptr < len(insts):
                d = insts[self.due_ptr].due_ord
                if d <= limit and (nxt is None or d < nxt):
                    nxt = d
            if nxt is None:
                return
            j = i
            while j < n and events[j].value_date.toordinal() == nxt:
                j += 1
            self._day(nxt, events[i:j])
            i = j
            insts = self.insts  # a schedule change replaces the list

    def _day(self, x: int, todays: list[Any]) -> None:
        self._advance(x)
        self._catch_up(x - 1)
        if self.credit > 0:
            self._sweep(x)
        settled_before = self.settled_on if self.settled_on is not None and self.settled_on < x else None
        for event in todays:
            self._apply(x, event)
            if self.settled_on is not None and not self._is_settled():
                self.settled_on = None  # reopened (a fee, a disbursement): settles again on a later payment
        if settled_before is not None and self.settled_on == settled_before:
            # still settled after the day's events (whatever their order): a repayment has nothing to pay
            for event in todays:
                if type(event) is Repayment:
                    raise ValueError(f"loan is settled (on {date.fromordinal(settled_before)}): repayment "
                                     f"{event.ref!r} on {event.value_date} cannot be applied")
        if todays and self.credit > 0:
            self._sweep(x)
            if self.terms.auto_settle:
                self._auto_settle(x)
        self._check_settled(x)

    def _advance(self, x: int) -> None:
        insts = self.insts
        p = self.due_ptr
        count = len(insts)
        while p < count and insts[p].due_ord <= x:
            if not insts[p].closed():
                self.open.append(insts[p])
            p += 1
        self.due_ptr = p

    def _catch_up(self, through: int) -> None:
        """Penalty and compound interest on every overdue installment through day ``through``."""
        pen_rate, comp_rate = self.pen_rate, self.comp_rate
        for inst in self.open:
            start = inst.acc_from
            if start > through:
                continue
            days = through - start + 1
            base = inst.principal - inst.pp
            if base:
                inst.pen += (2 * base * pen_rate.numerator + pen_rate.denominator) // (2 * pen_rate.denominator) * days
            base = inst.interest - inst.pi
            if base:
                inst.comp += ((2 * base * comp_rate.numerator + comp_rate.denominator)
                              // (2 * comp_rate.denominator) * days)
            inst.acc_from = through + 1

    def _prune(self) -> None:
        self.open = [i for i in self.open if not i.closed()]
        self.open_fees = [f for f in self.open_fees if f.amount != f.paid + f.waived]

    # -- paying ------------------------------------------------------------

    def _pay(self, amount: int) -> tuple[list[Allocation], int]:
        """Pay ``amount`` to what is due now; return the allocations and what is left."""
        items: list[tuple[int, int, int, int, Any]] = []
        for fee in self.open_fees:
            items.append((fee.day_ord, 0, self.r_fee, fee.amount - fee.paid - fee.waived, (fee, "fee")))
        for inst in self.open:
            key, num = inst.due_ord, inst.number
            items.append((key, num, self.r_pen, inst.pen - inst.ppen, (inst, "penalty")))
            items.append((key, num, self.r_comp, inst.comp - inst.pcomp, (inst, "compound")))
            items.append((key, num, self.r_int, inst.interest - inst.pi, (inst, "interest")))
            items.append((key, num, self.r_prin, inst.principal - inst.pp, (inst, "principal")))
        if not items:
            return [], amount
        paid, left = plan(amount, items, self.mode)
        allocations = []
        for (target, component), take in paid:
            if component == "fee":
                target.paid += take
                allocations.append(Allocation(0, "fee", take))
                continue
            if component == "principal":
                target.pp += take
                self.principal_paid += take
            elif component == "interest":
                target.pi += take
            elif component == "penalty":
                target.ppen += take
            else:
                target.pcomp += take
            allocations.append(Allocation(target.number, component, take))
        self._prune()
        return allocations, left

    def _sweep(self, x: int) -> None:
        if not self.open and not self.open_fees:
            return
        allocations, left = self._pay(self.credit)
        if allocations:
            self.credit = left
            self.credit_allocations.setdefault(date.fromordinal(x), []).extend(allocations)

    def _auto_settle(self, x: int) -> None:
        if self.open or self.open_fees:
            return
        # nothing due is unpaid, so the principal not yet paid is all in future installments:
        # a cheap lower bound on what settling takes
        if self.credit < self.scheduled_principal - self.principal_paid:
            return
        future = [i for i in self.insts[self.due_ptr:] if not i.closed()]
        if not future:
            return
        through = date.fromordinal(x - 1)
        plans = []
        need = 0
        for inst in future:
            interest = max(inst.pi, accrued_to(inst.interest, inst.ps, inst.pe, through))
            plans.append((inst, interest))
            need += inst.principal - inst.pp + interest - inst.pi
        if self.credit < need:
            return
        allocations = self.credit_allocations.setdefault(date.fromordinal(x), [])
        interest_first = self.r_int < self.r_prin
        for inst, interest in plans:
            inst.cancelled = inst.interest - interest
            inst.interest = interest
            parts = [("interest", interest - inst.pi), ("principal", inst.principal - inst.pp)]
            if not interest_first:
                parts.reverse()
            for component, take in parts:
                if take:
                    allocations.append(Allocation(inst.number, component, take))
            self.principal_paid += inst.principal - inst.pp
            inst.pi = inst.interest
            inst.pp = inst.principal
        self.credit -= need

    def _is_settled(self) -> bool:
        return (self.disbursed > 0 and self.principal_paid == self.disbursed and not self.open
                and not self.open_fees and all(i.closed() for i in self.insts[self.due_ptr:]))

    def _check_settled(self, x: int) -> None:
        if not self._is_settled():
            self.settled_on = None
        elif self.settled_on is None:
            self.settled_on = x

    # -- events ------------------------------------------------------------

    def _apply(self, x: int, event: Any) -> None:
        kind = type(event)
        if kind is Repayment:
            allocations, left = self._pay(event.amount)
            if left:
                self.credit += left
                allocations.append(Allocation(0, "credit", left))
            self.allocations[event.ref] = allocations
        elif kind is Disbursement:
            self.disbursed += event.amount
        elif kind is FeeCharge:
            fee = _Fee(event.ref, event.value_date, event.amount)
            self.fees.append(fee)
            self.open_fees.append(fee)
        elif kind is FeeWaiver:
            outstanding = sum(f.amount - f.paid - f.waived for f in self.open_fees)
            if event.amount > outstanding:
                raise ValueError(f"amount: fee waiver {event.ref!r} of {event.amount} exceeds the fees "
                                 f"outstanding on {event.value_date} ({outstanding})")
            left = event.amount
            for fee in self.open_fees:
                take = min(left, fee.amount - fee.paid - fee.waived)
                fee.waived += take
                left -= take
            self._prune()
        elif kind is PenaltyWaiver:
            outstanding = sum(i.pen - i.ppen + i.comp - i.pcomp for i in self.open)
            if event.amount > outstanding:
                raise ValueError(f"amount: penalty waiver {event.ref!r} of {event.amount} exceeds the penalty "
                                 f"and compound interest outstanding on {event.value_date} ({outstanding})")
            left = event.amount
            for inst in self.open:
                take = min(left, inst.pen - inst.ppen)
                inst.pen -= take
                inst.pen_w += take
                left -= take
                take = min(left, inst.comp - inst.pcomp)
                inst.comp -= take
                inst.comp_w += take
                left -= take
            self._prune()
        else:  # ScheduleChange
            self._change_schedule(x, event)

    def _change_schedule(self, x: int, event: ScheduleChange) -> None:
        due_part = self.insts[: self.due_ptr]
        kept = [i for i in self.insts[self.due_ptr:] if i.pp or i.pi or i.ppen or i.pcomp]
        taken = {i.number for i in due_part} | {i.number for i in kept}
        new = []
        for due in _check_dues(event.dues, taken):
            if due.due_date < event.value_date:
                raise ValueError(f"dues: installment {due.number} of schedule change {event.ref!r} is due "
                                 f"on {due.due_date}, before the change ({event.value_date})")
            new.append(_Inst(due, self.grace))
        future = kept + new
        future.sort(key=lambda i: (i.due_ord, i.number))
        self.insts = due_part + future
        self.scheduled_principal = sum(i.principal for i in self.insts)
        self._advance(x)

    # -- results -----------------------------------------------------------

    def _check_principal(self, day: int) -> None:
        disbursements = [e.value_date.toordinal() for e in self.events if type(e) is Disbursement]
        if disbursements and max(disbursements) < day:
            scheduled = self.scheduled_principal
            if scheduled != self.disbursed:
                raise ValueError(f"dues: the installments' principal ({scheduled}) does not add up to the "
                                 f"amount disbursed ({self.disbursed})")

    def state(self, as_of: date) -> LoanState:
        a = as_of.toordinal()
        self._advance(a)
        self._catch_up(a)
        self._check_principal(a)
        rows = []
        principal_due = interest_due = penalty_due = compound_due = 0
        overdue_principal = overdue_interest = accrued = 0
        oldest = next_due = None
        open_future = []
        for inst in self.insts:
            op = inst.principal - inst.pp
            oi = inst.interest - inst.pi
            opn = inst.pen - inst.ppen
            oc = inst.comp - inst.pcomp
            closed = not (op or oi or opn or oc)
            if inst.due_ord <= a:
                principal_due += op
                interest_due += oi
                penalty_due += opn
                compound_due += oc
                if closed:
                    status = "paid"
                elif inst.due_ord < a:
                    status = "overdue"
                    overdue_principal += op
                    overdue_interest += oi
                    if oldest is None:
                        oldest = inst.due_ord
                else:
                    status = "partly_paid" if (inst.pp or inst.pi or inst.ppen or inst.pcomp) else "due"
            else:
                if closed:
                    status = "paid"
                else:
                    status = "partly_paid" if (inst.pp or inst.pi) else "future"
                    open_future.append(inst)
                    if inst.ps <= as_of:
                        accrued += max(0, accrued_to(inst.interest, inst.ps, inst.pe, as_of) - inst.pi)
            if next_due is None and not closed and inst.due_ord >= a:
                next_due = inst.due
            rows.append(InstallmentState(
                inst.number, inst.ps, inst.pe, inst.due, inst.principal, inst.interest, inst.pen, inst.comp, 0,
                inst.pp, inst.pi, inst.ppen, inst.pcomp, 0, status, inst.pen_w, inst.comp_w, 0, inst.cancelled))
        fees = tuple(FeeState(f.ref, f.day, f.amount, f.paid, f.waived) for f in self.fees)
        fee_due = sum(f.outstanding for f in fees)
        fee_installment = None
        if fees:
            unpaid = [f.value_date for f in fees if f.outstanding]
            if not unpaid:
                fee_status = "paid"
            elif unpaid[0] < as_of:
                fee_status = "overdue"
            else:
                fee_status = "partly_paid" if any(f.paid for f in fees) else "due"
            first = fees[0].value_date
            fee_installment = InstallmentState(
                0, first, first, first, 0, 0, 0, 0, sum(f.amount - f.waived for f in fees), 0, 0, 0, 0,
                sum(f.paid for f in fees), fee_status, 0, 0, sum(f.waived for f in fees), 0)
        dpd = a - oldest if oldest is not None else 0
        penalty_daily = compound_daily = 0
        pen_rate, comp_rate = self.pen_rate, self.comp_rate
        for inst in self.open:
            if inst.due_ord + 1 + self.grace <= a:  # its penalty has started
                penalty_daily += per_day_amount(inst.principal - inst.pp, pen_rate)
                compound_daily += per_day_amount(inst.interest - inst.pi, comp_rate)
        settled = self.settled_on is not None
        first = as_of + _ONE_DAY
        until, w_start, days, w_interest, w_paid, fixed = window(
            [(i.ps, i.pe, i.due, i.interest, i.pi) for i in open_future if i.ps <= first and i.due > first],
            min((i.ps for i in open_future if i.ps > first), default=None), as_of)
        return LoanState(
            as_of=as_of,
            disbursed=self.disbursed,
            principal_outstanding=self.disbursed - self.principal_paid,
            principal_due=principal_due,
            interest_due=interest_due,
            penalty_due=penalty_due,
            compound_due=compound_due,
            fee_due=fee_due,
            overdue_principal=overdue_principal,
            overdue_interest=overdue_interest,
            interest_accrued=accrued,
            credit=self.credit,
            days_past_due=dpd,
            bucket=bucket_for(dpd),
            next_due_date=next_due,
            maturity_date=max((i.due for i in self.insts), default=None),
            status="settled" if settled else ("overdue" if dpd > 0 else "active"),
            settled_on=date.fromordinal(self.settled_on) if settled else None,
            installments=tuple(rows),
            allocations={ref: list(parts) for ref, parts in self.allocations.items()},
            credit_allocations={day: list(parts) for day, parts in self.credit_allocations.items()},
            fees=fees,
            fee_installment=fee_installment,
            principal_paid=self.principal_paid,
            accrual_until=until,
            accrual_start=w_start,
            accrual_days=days,
            accrual_interest=w_interest,
            accrual_paid=w_paid,
            accrual_fixed=fixed,
            penalty_daily=penalty_daily,
            compound_daily=compound_daily,
        )

    def payoff(self, on: date) -> Payoff:
        x = on.toordinal()
        self._advance(x)
        self._catch_up(x - 1)
        self._check_principal(x)
        through = on - _ONE_DAY
        principal = interest = penalty = compound = 0
        for inst in self.insts:
            principal += inst.principal - inst.pp
            penalty += inst.pen - inst.ppen
            compound += inst.comp - inst.pcomp
            if inst.due_ord <= x:
                interest += inst.interest - inst.pi
            elif inst.ps <= through:
                interest += max(0, accrued_to(inst.interest, inst.ps, inst.pe, through) - inst.pi)
        fee = sum(f.amount - f.paid - f.waived for f in self.fees)
        owed = principal + interest + penalty + compound + fee
        return Payoff(on=on, principal=principal, interest=interest, penalty=penalty, compound=compound, fee=fee,
                      credit=self.credit, total=max(0, owed - self.credit))


def _check_day(value: object, name: str) -> date:
    if not isinstance(value, date) or isinstance(value, datetime):
        raise ValueError(f"{name} must be a date, got {value!r}")
    return value


def replay(dues: list[Due], events: list[Event], terms: Terms, as_of: date) -> LoanState:
    """The loan's state at the end of ``as_of``: ``dues`` (the contract schedule) with every event
    whose value date is on or before ``as_of`` applied, penalty accrued through ``as_of``."""
    as_of = _check_day(as_of, "as_of")
    run = _Run(dues, events, terms)
    run.run(as_of.toordinal())
    return run.state(as_of)


def payoff(dues: list[Due], events: list[Event], terms: Terms, on: date) -> Payoff:
    """What a repayment on ``on`` (after that day's events) must be to settle the loan: principal
    outstanding, interest due plus interest accrued through ``on`` − 1, penalty and compound interest
    through ``on`` − 1, fees, less the credit held (never below zero)."""
    on = _check_day(on, "on")
    run = _Run(dues, events, terms)
    run.run(on.toordinal())
    return run.payoff(on)
