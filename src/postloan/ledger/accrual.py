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
    "accrued_to",
    "daily_accrual",
    "daily_rate",
    "penalty_for_days",
    "penalty_per_day",
    "per_day_amount",
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
