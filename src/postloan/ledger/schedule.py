"""Repayment schedule generation.

Why this module exists: the schedule (还款计划) is the contract's promise in
numbers; every later posting, overdue check and classification is measured
against it, so it must be reproducible to the fen from the contract terms
alone.  Supported methods (DOMAIN.md §1): equal installment (等额本息), equal
principal (等额本金), interest-only with principal at maturity, bullet, and a
schedule entered by hand (:func:`manual_schedule`).

Exactness.  The engine works in integer fen with the rate as an exact
fraction; every amount is rounded half-up to the cent once per installment,
and the last installment takes the remaining principal, so the principal
column always sums exactly to the loan principal.

Dates.  Unadjusted due dates fall on the same day of the month as the anchor
(``first_due`` if given, else ``start``; ``due_day`` overrides the day),
clamped to the month's end and always derived from the anchor, never from the
previous clamped date: 31 Jan → 29 Feb → 31 Mar → 30 Apr.  *Interest accrues
to the unadjusted date*; ``due_date`` is the date moved by the holiday rule.
This is the bond-market "unadjusted accrual" choice: moving a payment off a
holiday neither adds nor removes interest, the installment amounts do not
depend on the holiday calendar, and a schedule generated before next year's
holidays were published keeps its amounts when they are.

Interest.  ``interest_basis="period"``: a regular period earns
``balance × annual_rate × months / 12`` (the RMB convention: monthly rate =
annual ÷ 12).  A first period that is not a whole period (only possible when
``first_due`` is given) earns ``balance × annual_rate × year_fraction`` under
the day count, i.e. balance × daily rate × days for ACT/360.
``interest_basis="daily"``: every period earns ``balance × annual_rate ×
year_fraction(day_count, period_start, period_end)``.

A period is *regular* when its end is a whole number of schedule periods from
its start counted either way with month-end clamping, so 31 Jan → 29 Feb and
29 Feb → 31 Mar are both one month.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction

from postloan.kernel.calendar import HOLIDAY_RULES, BusinessCalendar, add_months
from postloan.kernel.daycount import DAY_COUNTS, year_fraction
from postloan.kernel.money import from_fen, parse_amount, round_half_up, to_fen

__all__ = [
    "FREQUENCIES",
    "INTEREST_BASES",
    "METHODS",
    "Installment",
    "ScheduleTerms",
    "generate_schedule",
    "level_payment",
    "manual_schedule",
    "remaining_schedule",
    "schedule_totals",
]

#: Repayment methods.
METHODS: tuple[str, ...] = ("equal_installment", "equal_principal", "interest_only", "bullet")
#: Repayment frequency → months per period.
FREQUENCIES: dict[str, int] = {"monthly": 1, "quarterly": 3, "semiannual": 6, "annual": 12}
#: How each period's interest is measured (see module docstring).
INTEREST_BASES: tuple[str, ...] = ("period", "daily")


@dataclass(frozen=True)
class Installment:
    """One row of a schedule.  Amounts are Decimals with two places.

    ``period_start``/``period_end`` bound the accrual (unadjusted dates);
    ``due_date`` is when payment is due after the holiday rule; ``balance``
    is the principal outstanding after this installment is paid.
    """

    number: int
    period_start: date
    period_end: date
    due_date: date
    principal: Decimal
    interest: Decimal
    total: Decimal
    balance: Decimal


def _require_date(value: object, name: str) -> date:
    # datetime is a date subclass but compares unequal to dates and carries a
    # time of day that a due date must not have, so it is refused.
    if not isinstance(value, date) or isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime.date")
    return value


def _require_decimal(value: object, name: str) -> Decimal:
    if isinstance(value, bool) or isinstance(value, float):
        raise TypeError(f"{name} must be a Decimal, not {type(value).__name__}")
    if isinstance(value, int):
        value = Decimal(value)
    if not isinstance(value, Decimal):
        raise TypeError(f"{name} must be a Decimal, not {type(value).__name__}")
    if not value.is_finite():
        raise ValueError(f"{name} must be a finite number")
    return value


def _require_fen(value: object, name: str) -> int:
    """A positive amount that is a whole number of fen, as int fen."""
    amount = _require_decimal(value, name)
    if amount <= 0:
        raise ValueError(f"{name} must be greater than zero")
    if round_half_up(amount, 2) != amount:
        raise ValueError(f"{name} must be a whole number of fen (at most 2 decimal places)")
    return to_fen(amount)


@dataclass(frozen=True, kw_only=True)
class ScheduleTerms:
    """The contract terms a schedule is generated from.  Validated on creation.

    ``annual_rate`` is a fraction (0.0435 = 4.35 %).  ``term_months`` must be
    a multiple of the frequency's months.  ``first_due`` (optional) is the
    first unadjusted due date; later ones follow it by whole periods; for a
    bullet loan it is the maturity date.  ``due_day`` (optional) fixes the day
    of month of due dates, e.g. 31 to keep month-end dates when re-amortising
    from a clamped 29 February.  ``calendar`` None means due dates are not
    adjusted.
    """

    principal: Decimal
    annual_rate: Decimal
    term_months: int
    start: date
    method: str = "equal_installment"
    frequency: str = "monthly"
    first_due: date | None = None
    day_count: str = "ACT/360"
    interest_basis: str = "period"
    calendar: BusinessCalendar | None = None
    holiday_rule: str = "following"
    due_day: int | None = None

    def __post_init__(self) -> None:
        _require_fen(self.principal, "principal")
        rate = _require_decimal(self.annual_rate, "annual_rate")
        if rate < 0:
            raise ValueError("annual_rate must not be negative")
        if self.method not in METHODS:
            raise ValueError(f"method: unknown {self.method!r}; expected one of {', '.join(METHODS)}")
        if self.frequency not in FREQUENCIES:
            raise ValueError(
                f"frequency: unknown {self.frequency!r}; expected one of {', '.join(FREQUENCIES)}"
            )
        if isinstance(self.term_months, bool) or not isinstance(self.term_months, int):
            raise TypeError("term_months must be an int")
        if self.term_months <= 0:
            raise ValueError("term_months must be positive")
        months = FREQUENCIES[self.frequency]
        if self.method != "bullet" and self.term_months % months:
            raise ValueError(
                f"term_months ({self.term_months}) must be a multiple of {months} "
                f"for a {self.frequency} schedule"
            )
        _require_date(self.start, "start")
        if self.first_due is not None:
            _require_date(self.first_due, "first_due")
            if self.first_due <= self.start:
                raise ValueError("first_due must be after start")
        if self.due_day is not None:
            if isinstance(self.due_day, bool) or not isinstance(self.due_day, int):
                raise TypeError("due_day must be an int")
            if not 1 <= self.due_day <= 31:
                raise ValueError("due_day must be between 1 and 31")
            if self.first_due is not None and add_months(self.first_due, 0, self.due_day) != self.first_due:
                raise ValueError(f"due_day {self.due_day} does not match first_due {self.first_due}")
        if self.day_count not in DAY_COUNTS:
            raise ValueError(
                f"day_count: unknown {self.day_count!r}; expected one of {', '.join(DAY_COUNTS)}"
            )
        if self.interest_basis not in INTEREST_BASES:
            raise ValueError(
                f"interest_basis: unknown {self.interest_basis!r}; expected one of {', '.join(INTEREST_BASES)}"
            )
        if self.calendar is not None and not isinstance(self.calendar, BusinessCalendar):
            raise TypeError("calendar must be a BusinessCalendar or None")
        if self.holiday_rule not in HOLIDAY_RULES:
            raise ValueError(
                f"holiday_rule: unknown {self.holiday_rule!r}; expected one of {', '.join(HOLIDAY_RULES)}"
            )

    @property
    def period_months(self) -> int:
        """Months per period; a bullet loan has one period spanning the term."""
        return self.term_months if self.method == "bullet" else FREQUENCIES[self.frequency]

    @property
    def installment_count(self) -> int:
        return self.term_months // self.period_months

    def unadjusted_due_dates(self) -> list[date]:
        """Accrual end dates, each derived from the anchor (never the previous date)."""
        months, count = self.period_months, self.installment_count
        if self.first_due is None:
            return [add_months(self.start, k * months, self.due_day) for k in range(1, count + 1)]
        day = self.due_day or self.first_due.day
        return [add_months(self.first_due, k * months, day) for k in range(count)]

    @property
    def maturity(self) -> date:
        """The last unadjusted due date."""
        return self.unadjusted_due_dates()[-1]


# --------------------------------------------------------------------------
# The integer engine.


def _half_up(numerator: int, denominator: int) -> int:
    """round(numerator / denominator) half-up, for numerator >= 0 < denominator."""
    return (2 * numerator + denominator) // (2 * denominator)


def _is_regular(start: date, end: date, months: int) -> bool:
    return add_months(start, months) == end or add_months(end, -months) == start


@dataclass(frozen=True)
class _Period:
    start: date
    end: date
    due: date
    regular: bool


class _Accrual:
    """Interest in fen for a balance over a period, exact until one rounding."""

    def __init__(self, annual_rate: Decimal, months: int, day_count: str, basis: str) -> None:
        rate = Fraction(annual_rate)
        self.rate_num, self.rate_den = rate.numerator, rate.denominator
        self.months = months
        self.day_count = day_count
        self.daily = basis == "daily"

    def __call__(self, balance_fen: int, period: _Period) -> int:
        if balance_fen == 0 or self.rate_num == 0:
            return 0
        if period.regular and not self.daily:
            return _half_up(balance_fen * self.rate_num * self.months, self.rate_den * 12)
        fraction = year_fraction(self.day_count, period.start, period.end)
        return _half_up(
            balance_fen * self.rate_num * fraction.numerator, self.rate_den * fraction.denominator
        )


def _periods(terms: ScheduleTerms) -> list[_Period]:
    calendar, rule = terms.calendar, terms.holiday_rule
    periods: list[_Period] = []
    previous = terms.start
    for index, end in enumerate(terms.unadjusted_due_dates()):
        regular = index > 0 or _is_regular(previous, end, terms.period_months)
        due = end if calendar is None else calendar.adjust(end, rule)
        periods.append(_Period(previous, end, due, regular))
        previous = end
    return periods


def _level_payment_fen(principal_fen: int, annual_rate: Decimal, months: int, count: int) -> int:
    """A = P·r / (1 − (1+r)^−n), r = annual_rate × months / 12, exactly, then half-up.

    Computed with integers: with r = a/b, A = P·a·(a+b)^n / (b·((a+b)^n − b^n)).
    Exact, so there is no precision setting to get wrong, and fast: a 30-year
    monthly loan needs one pair of ~1,400-digit powers.
    """
    rate = Fraction(annual_rate) * months / 12
    a, b = rate.numerator, rate.denominator
    if a == 0:
        return _half_up(principal_fen, count)
    growth, base = (a + b) ** count, b**count
    return _half_up(principal_fen * a * growth, b * (growth - base))


def level_payment(principal: Decimal, annual_rate: Decimal, periods: int, period_months: int = 1) -> Decimal:
    """The equal installment (等额本息 monthly payment) rounded half-up to the cent.

    ``annual_rate`` is a fraction; a zero rate gives principal / periods.
    """
    principal_fen = _require_fen(principal, "principal")
    rate = _require_decimal(annual_rate, "annual_rate")
    if rate < 0:
        raise ValueError("annual_rate must not be negative")
    if periods <= 0 or period_months <= 0:
        raise ValueError("periods and period_months must be positive")
    return from_fen(_level_payment_fen(principal_fen, rate, period_months, periods))


def _row(number: int, period: _Period, principal: int, interest: int, balance: int) -> Installment:
    return Installment(
        number=number,
        period_start=period.start,
        period_end=period.end,
        due_date=period.due,
        principal=from_fen(principal),
        interest=from_fen(interest),
        total=from_fen(principal + interest),
        balance=from_fen(balance),
    )


def generate_schedule(terms: ScheduleTerms) -> list[Installment]:
    """The repayment schedule for ``terms``.

    Per method, for every installment but the last (which always clears the
    balance, so principal sums exactly to the loan principal):

    * equal_installment: total = the level payment A (rounded to the cent),
      principal = A − interest.  If interest exceeds A (a long irregular
      first period) the principal is 0 and the total is the interest; the
      principal never exceeds the balance.
    * equal_principal: principal = principal / n rounded half-up (capped at
      the balance, which only matters for absurdly small loans).
    * interest_only: interest only.
    * bullet: a single installment at maturity.

    Rows are never dropped, so there are always term / frequency installments
    (one for bullet); with degenerate inputs trailing rows may be zero.
    """
    periods = _periods(terms)
    count = len(periods)
    accrue = _Accrual(terms.annual_rate, terms.period_months, terms.day_count, terms.interest_basis)
    balance = to_fen(terms.principal)
    level = 0
    if terms.method == "equal_installment":
        level = _level_payment_fen(balance, terms.annual_rate, terms.period_months, count)
    elif terms.method == "equal_principal":
        level = _half_up(balance, count)
    rows: list[Installment] = []
    for number, period in enumerate(periods, start=1):
        interest = accrue(balance, period)
        if number == count:
            principal = balance
        elif terms.method == "equal_installment":
            principal = min(max(level - interest, 0), balance)
        elif terms.method == "equal_principal":
            principal = min(level, balance)
        else:
            principal = 0
        balance -= principal
        rows.append(_row(number, period, principal, interest, balance))
    return rows


def remaining_schedule(
    balance: Decimal,
    annual_rate: Decimal,
    from_date: date,
    remaining_periods: int,
    *,
    method: str = "equal_installment",
    frequency: str = "monthly",
    first_due: date | None = None,
    due_day: int | None = None,
    day_count: str = "ACT/360",
    interest_basis: str = "period",
    calendar: BusinessCalendar | None = None,
    holiday_rule: str = "following",
    fixed_installment: Decimal | None = None,
    first_number: int = 1,
) -> list[Installment]:
    """Re-amortise an outstanding ``balance`` from ``from_date`` (e.g. after a
    partial prepayment 提前还款).

    Two choices a borrower is offered:

    * keep the term, lower the installment (``fixed_installment`` None): a new
      schedule of ``remaining_periods`` periods for the balance, any method;
    * keep the installment, shorten the term (``fixed_installment`` given,
      equal installment only): pay ``fixed_installment`` each period until the
      balance is cleared; the last installment is the remainder, normally
      smaller than the installment.  The term never grows: ``remaining_periods`` is a cap, and
      if the balance is not cleared by then the last period clears it, as the
      last installment of any schedule does.  Raises ValueError naming
      ``fixed_installment`` if it does not cover one regular period's interest
      on the balance (the loan would never be repaid).

    To keep the original due-date grid pass the next original due date as
    ``first_due`` and the original day of month as ``due_day``; ``number``
    starts at ``first_number`` so rows can continue the original numbering.
    """
    if isinstance(remaining_periods, bool) or not isinstance(remaining_periods, int):
        raise TypeError("remaining_periods must be an int")
    if remaining_periods <= 0:
        raise ValueError("remaining_periods must be positive")
    if frequency not in FREQUENCIES:
        raise ValueError(f"frequency: unknown {frequency!r}; expected one of {', '.join(FREQUENCIES)}")
    terms = ScheduleTerms(
        principal=balance,
        annual_rate=annual_rate,
        term_months=remaining_periods * FREQUENCIES[frequency],
        start=from_date,
        method=method,
        frequency=frequency,
        first_due=first_due,
        day_count=day_count,
        interest_basis=interest_basis,
        calendar=calendar,
        holiday_rule=holiday_rule,
        due_day=due_day,
    )
    offset = first_number - 1
    if fixed_installment is None:
        rows = generate_schedule(terms)
    else:
        if method != "equal_installment":
            raise ValueError("fixed_installment: keeping the installment needs method equal_installment")
        rows = _fixed_installment_rows(terms, _require_fen(fixed_installment, "fixed_installment"))
    if offset:
        rows = [_renumber(row, row.number + offset) for row in rows]
    return rows


def _renumber(row: Installment, number: int) -> Installment:
    return Installment(
        number,
        row.period_start,
        row.period_end,
        row.due_date,
        row.principal,
        row.interest,
        row.total,
        row.balance,
    )


def _fixed_installment_rows(terms: ScheduleTerms, installment: int) -> list[Installment]:
    accrue = _Accrual(terms.annual_rate, terms.period_months, terms.day_count, terms.interest_basis)
    balance = to_fen(terms.principal)
    rate = Fraction(terms.annual_rate)
    regular_interest = _half_up(balance * rate.numerator * terms.period_months, rate.denominator * 12)
    if installment < regular_interest:
        raise ValueError(
            f"fixed_installment {from_fen(installment)} does not cover the interest "
            f"{from_fen(regular_interest)} of one period; the balance would never be repaid"
        )
    periods = _periods(terms)
    rows: list[Installment] = []
    for number, period in enumerate(periods, start=1):
        interest = accrue(balance, period)
        if number == len(periods) or balance + interest <= installment:
            rows.append(_row(number, period, balance, interest, 0))
            break
        principal = min(max(installment - interest, 0), balance)
        balance -= principal
        rows.append(_row(number, period, principal, interest, balance))
    return rows


# --------------------------------------------------------------------------
# Hand-entered schedules and totals.


def _row_date(value: object, row: int, name: str) -> date:
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"row {row}: {name}: {value!r} is not a date (YYYY-MM-DD)") from None
    if not isinstance(value, date) or isinstance(value, datetime):
        raise ValueError(f"row {row}: {name}: a date is required")
    return value


def _row_amount(value: object, row: int, name: str) -> int:
    label = f"row {row}: {name}"
    if value is None:
        raise ValueError(f"{label}: an amount is required")
    if isinstance(value, bool) or isinstance(value, float):
        raise ValueError(f"{label}: enter the amount as text or Decimal, not {type(value).__name__}")
    if isinstance(value, Decimal):
        text = format(value, "f")  # "f": Decimal("1E+3") must read as 1000, not as exponent text
    elif isinstance(value, int):
        text = str(value)
    elif isinstance(value, str):
        text = value
    else:
        raise ValueError(f"{label}: {value!r} is not an amount")
    return to_fen(parse_amount(text, field=label, allow_zero=True))


def manual_schedule(
    rows: Iterable[Mapping[str, object]],
    *,
    principal: Decimal,
    start: date | None = None,
) -> list[Installment]:
    """Validate a schedule entered by hand and return it as Installments.

    Each row is a mapping with ``due_date`` (date or ISO text), ``principal``
    and ``interest`` (Decimal, int or text; never float), and optionally
    ``total``, which must then equal principal + interest.  Rules: at least one
    row; due dates strictly increasing and after ``start`` if given; amounts
    ≥ 0 with at most two decimals; the principal column never exceeds, and in
    the end sums exactly to, the loan ``principal``.  Errors are ValueErrors
    that name the row (numbered from 1) and the field.

    Hand-entered dates are taken as they are: no holiday adjustment, and
    ``period_start`` is the previous due date (``start`` for the first row,
    or the first due date itself when ``start`` is not given).
    """
    loan_fen = _require_fen(principal, "principal")
    if start is not None:
        _require_date(start, "start")
    balance = loan_fen
    previous = start
    result: list[Installment] = []
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, Mapping):
            raise ValueError(f"row {number}: expected a mapping of fields")
        due = _row_date(row.get("due_date"), number, "due_date")
        if previous is not None and due <= previous:
            what = "start" if number == 1 else f"row {number - 1}'s due date"
            raise ValueError(f"row {number}: due_date {due} must be after {what} {previous}")
        row_principal = _row_amount(row.get("principal"), number, "principal")
        row_interest = _row_amount(row.get("interest"), number, "interest")
        if row.get("total") is not None:
            row_total = _row_amount(row.get("total"), number, "total")
            if row_total != row_principal + row_interest:
                raise ValueError(f"row {number}: total {from_fen(row_total)} is not principal + interest")
        if row_principal > balance:
            raise ValueError(
                f"row {number}: principal {from_fen(row_principal)} exceeds the outstanding "
                f"balance {from_fen(balance)}"
            )
        balance -= row_principal
        period = _Period(previous or due, due, due, True)
        result.append(_row(number, period, row_principal, row_interest, balance))
        previous = due
    if not result:
        raise ValueError("row 1: a schedule needs at least one row")
    if balance:
        raise ValueError(
            f"row {len(result)}: principal: the rows repay {from_fen(loan_fen - balance)}, "
            f"not the loan principal {from_fen(loan_fen)}"
        )
    return result


def schedule_totals(installments: Sequence[Installment]) -> tuple[Decimal, Decimal, Decimal]:
    """(total principal, total interest, total) of a schedule, two places each."""
    principal = sum((row.principal for row in installments), Decimal("0.00"))
    interest = sum((row.interest for row in installments), Decimal("0.00"))
    return principal, interest, principal + interest
