"""Interest accrual and penalty interest, to the fen: the reference rules.

Pure Python, integer fen, no Django.  These rules are the reference that
the fast, set-based close-of-business (COB) must reproduce to the fen; any
other implementation is checked against this module.

Contractual interest (accrued, not yet due)
    An installment's interest ``I`` (already rounded on the schedule) is
    earned over its accrual period ``[period_start, period_end)``: the first
    day counts, the last does not (算头不算尾, DOMAIN.md §1), so the period
    has ``N = period_end − period_start`` days.  The interest accrued
    through the **end** of day ``d`` is computed cumulatively, never by
    adding rounded daily amounts, so there is no drift::

        elapsed(d)    = clamp((min(d + 1 day, period_end) − period_start).days, 0, N)
        accrued_to(d) = round_half_up(I × elapsed(d) / N)          (to the fen)

    The accrual posted for day ``d`` is ``accrued_to(d) − accrued_to(d − 1)``
    (:func:`daily_accrual`); it is 0 outside the period, and the postings
    over the period add up to exactly ``I``.  ``accrued_to(period_end − 1)``
    is ``I``.  A period with no days (``period_end == period_start``) accrues
    nothing and counts ``I`` as accrued from ``period_end`` on.

Penalty (罚息) and compound (复利) interest
    Each day is its own posting, rounded half-up to the fen::

        per_day = round_half_up(base × annual_rate × (1 + markup) / day_basis)

    computed exactly (rational arithmetic, no binary floats, no precision
    limit).  Over a span of ``days`` days with a constant ``base`` the
    amount is ``per_day × days`` (:func:`penalty_for_days`), which is what
    makes the engine's span-at-a-time computation equal to a day-by-day
    COB.  Penalty interest uses the overdue principal as the base and the
    penalty markup; compound interest uses the overdue contractual interest
    and the compound markup (both 50 % by default, DOMAIN.md §1).

Half-up means ties go up (amounts here are never negative): 1812.5 → 1813.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

__all__ = [
    "FAR",
    "accrued_to",
    "daily_accrual",
    "daily_rate",
    "penalty_for_days",
    "penalty_per_day",
    "per_day_amount",
    "window",
    "window_accrued",
]

_ONE_DAY = timedelta(days=1)


def _fen(value: object, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"{name} must be an integer number of fen, got {value!r}")
    if value < 0:
        raise ValueError(f"{name} must not be negative, got {value!r}")
    return value


def _date(value: object, name: str) -> date:
    if not isinstance(value, date):
        raise ValueError(f"{name} must be a date, got {value!r}")
    return value


def _half_up(numerator: int, denominator: int) -> int:
    """round_half_up(numerator / denominator) for numerator ≥ 0, denominator > 0."""
    return (2 * numerator + denominator) // (2 * denominator)


def accrued_to(period_interest: int, period_start: date, period_end: date, as_of: date) -> int:
    """Contractual interest of the period accrued through the end of day ``as_of`` (see module doc)."""
    _fen(period_interest, "period_interest")
    _date(period_start, "period_start")
    _date(period_end, "period_end")
    _date(as_of, "as_of")
    days = (period_end - period_start).days
    if days < 0:
        raise ValueError(f"period_end {period_end} is before period_start {period_start}")
    if days == 0:
        return period_interest if as_of >= period_end else 0
    elapsed = (min(as_of + _ONE_DAY, period_end) - period_start).days
    if elapsed <= 0:
        return 0
    if elapsed >= days:
        return period_interest
    return _half_up(period_interest * elapsed, days)


def daily_accrual(period_interest: int, period_start: date, period_end: date, day: date) -> int:
    """The accrual posted for ``day``: ``accrued_to(day) − accrued_to(day − 1)``."""
    return (accrued_to(period_interest, period_start, period_end, day)
            - accrued_to(period_interest, period_start, period_end, day - _ONE_DAY))


def _rate(value: object, name: str) -> Fraction:
    if isinstance(value, bool) or isinstance(value, float):
        raise TypeError(f"{name}: use Decimal or str, not {type(value).__name__}")
    if isinstance(value, str):
        value = Decimal(value)
    if not isinstance(value, Decimal | int):
        raise ValueError(f"{name} must be a Decimal, got {value!r}")
    if isinstance(value, Decimal) and not value.is_finite():
        raise ValueError(f"{name} must be finite, got {value!r}")
    result = Fraction(value)
    if result < 0:
        raise ValueError(f"{name} must not be negative, got {value!r}")
    return result


def daily_rate(annual_rate: Decimal, markup: Decimal, day_basis: int) -> Fraction:
    """The exact daily rate ``annual_rate × (1 + markup) / day_basis``."""
    if not isinstance(day_basis, int) or isinstance(day_basis, bool) or day_basis <= 0:
        raise ValueError(f"day_basis must be a positive integer, got {day_basis!r}")
    return _rate(annual_rate, "annual_rate") * (1 + _rate(markup, "markup")) / day_basis


def per_day_amount(base: int, rate: Fraction) -> int:
    """round_half_up(base × rate) to the fen, for a daily rate from :func:`daily_rate` (no checks)."""
    return _half_up(base * rate.numerator, rate.denominator)


def penalty_per_day(base: int, annual_rate: Decimal, markup: Decimal, day_basis: int) -> int:
    """One day's penalty (or compound) interest on ``base`` fen, rounded half-up to the fen."""
    _fen(base, "base")
    return per_day_amount(base, daily_rate(annual_rate, markup, day_basis))


def penalty_for_days(base: int, annual_rate: Decimal, markup: Decimal, day_basis: int, days: int) -> int:
    """Penalty (or compound) interest on a constant ``base`` for ``days`` days: per-day amount × days."""
    if not isinstance(days, int) or isinstance(days, bool) or days < 0:
        raise ValueError(f"days must be a non-negative integer, got {days!r}")
    return penalty_per_day(base, annual_rate, markup, day_basis) * days


def penalty_days(due_date: date, grace_days: int, since: date, through: date) -> int:
    """The days after ``since`` through ``through`` on which an installment due on ``due_date`` and unpaid
    bears penalty: those from ``due_date`` + 1 + ``grace_days`` on (``engine`` module doc). The close of
    business stores an overdue installment's penalty as of a day (``Loan.penalty_as_of``) and adds the
    loan's daily amounts only; readers add per-day amount × these days to what is stored."""
    return max(0, (through - max(since, due_date + timedelta(days=grace_days))).days)


# --- the accrual window: what the close of business needs to accrue a loan from its own row ------------------

FAR = date(9999, 12, 31)  # "no change ahead": a window without an end


def window(periods: list[tuple[date, date, date, int, int]], next_start: date | None,
           as_of: date) -> tuple[date, date | None, int, int, int, int]:
    """The loan's accrual for the days after ``as_of``, as a few numbers kept on the loan row.

    ``periods`` are the loan's open installments (not due, not paid) accruing on ``as_of + 1``: (period
    start, period end, due date, interest, interest paid ahead), those with start ≤ as_of + 1 < due date;
    ``next_start`` is the earliest period start after ``as_of + 1`` among the other open installments.

    Returns ``(until, start, days, interest, paid, fixed)`` such that for every day ``d`` from ``as_of + 1``
    through ``until`` the interest accrued, not yet due, through the end of ``d`` (the sum of
    ``max(0, accrued_to(…) − paid)`` over the installments accruing on ``d``) is
    :func:`window_accrued` ``(d, start, days, interest, paid, fixed)``::

        fixed + max(0, round_half_up(interest × min(d + 1 − start, days) / days) − paid)   (days > 0)
        fixed + max(0, interest − paid)                                                      (days ≤ 0)

    One installment may still be accruing (the one whose period ends last: ``start``, ``days``,
    ``interest``, ``paid``); the others, accrued in full, are ``fixed``. ``until`` is the day before the set
    of accruing installments changes (one falls due, or a new period starts). If two are still accruing
    (overlapping periods entered by hand), the window is that one day: ``fixed`` is the day's accrual and
    ``until`` is ``as_of + 1``. The close of business recomputes a loan's window on the day it ends;
    ``engine.replay`` states it, so ``ledger check`` verifies it.
    """
    first = as_of + _ONE_DAY
    if not periods:
        return (next_start - _ONE_DAY if next_start else FAR), None, 0, 0, 0, 0
    main = max(range(len(periods)), key=lambda i: (periods[i][1], periods[i][0]))
    start, end, _due, interest, paid = periods[main]
    others = [p for i, p in enumerate(periods) if i != main]
    if any(first < p[1] - _ONE_DAY for p in others):  # another one still accruing
        fixed = sum(max(0, accrued_to(p[3], p[0], p[1], first) - p[4]) for p in periods)
        return first, None, 0, 0, 0, fixed
    fixed = sum(max(0, p[3] - p[4]) for p in others)
    until = min(p[2] for p in periods) - _ONE_DAY
    if next_start is not None:
        until = min(until, next_start - _ONE_DAY)
    return until, start, (end - start).days, interest, paid, fixed


def window_accrued(day: date, start: date | None, days: int, interest: int, paid: int, fixed: int) -> int:
    """The interest accrued through the end of ``day`` by a window (see :func:`window`); the close of
    business computes the same in SQL."""
    if days <= 0:
        return fixed + max(0, interest - paid)
    return fixed + max(0, _half_up(interest * min((day - start).days + 1, days), days) - paid)
