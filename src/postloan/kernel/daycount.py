"""Day-count conventions.

Why this module exists: interest on a loan is ``principal × annual rate ×
year fraction``, and *how* the year fraction is measured is a contract term.
RMB loans use ACT/360 by default (daily rate = annual ÷ 360, DOMAIN.md §1);
products may select ACT/365F, 30/360 (US bond basis), 30E/360 or ACT/ACT
(ISDA).  Definitions follow the 2006 ISDA Definitions §4.16.

Days are counted the Chinese way, 算头不算尾: the first day accrues, the
last does not, so a loan from 1 March to 1 April accrues 31 days.

Everything is exact: year fractions are :class:`fractions.Fraction`, and
:func:`interest` converts to Decimal only at the very end, unrounded.
Rounding to the cent is the caller's business (per installment or per
posting), so that the rounding happens once, in one place.
"""

from __future__ import annotations

import calendar as _calendar
from datetime import date
from decimal import Decimal, localcontext
from enum import StrEnum
from fractions import Fraction

__all__ = [
    "DAY_COUNTS",
    "DayCount",
    "daily_rate",
    "day_count",
    "interest",
    "year_fraction",
]

#: Significant digits used when turning an exact Fraction into a Decimal.
#: 28 is Decimal's default; 34 leaves headroom for large principals while
#: staying far beyond the cent.
PRECISION = 34


class DayCount(StrEnum):
    """The supported conventions.  Members *are* strings ("ACT/360"), so a
    code read from the database or the command line can be compared and
    passed around without conversion."""

    ACT_360 = "ACT/360"
    ACT_365F = "ACT/365F"
    THIRTY_360 = "30/360"
    THIRTY_E_360 = "30E/360"
    ACT_ACT = "ACT/ACT"


#: All codes, for form choices and argparse.
DAY_COUNTS: tuple[str, ...] = tuple(member.value for member in DayCount)


def _convention(code: str) -> DayCount:
    """Resolve a code (case-insensitively) or raise ValueError naming it."""
    if isinstance(code, str):
        try:
            return DayCount(code.strip().upper())
        except ValueError:
            pass
    raise ValueError(f"unknown day count convention {code!r}; expected one of {', '.join(DAY_COUNTS)}")


def _check_dates(start: date, end: date) -> None:
    if not isinstance(start, date) or not isinstance(end, date):
        raise TypeError("start and end must be dates")
    if end < start:
        raise ValueError(f"end {end.isoformat()} is before start {start.isoformat()}")


def _thirty_360(start: date, end: date, *, eurobond: bool) -> int:
    """30/360 day count.

    US bond basis (ISDA 2006 §4.16(f)): D1 = 31 becomes 30; D2 = 31 becomes 30
    only when D1 (after that change) is 30 or 31.  No special rule for the
    end of February: that is the SIA "30/360 US (EOM)" variant, which we do
    not implement.  Eurobond basis 30E/360 (§4.16(g)): both 31sts become 30.
    """
    d1, d2 = start.day, end.day
    if d1 == 31:
        d1 = 30
    if d2 == 31 and (eurobond or d1 >= 30):
        d2 = 30
    return 360 * (end.year - start.year) + 30 * (end.month - start.month) + (d2 - d1)


def _days_in_year(year: int) -> int:
    return 366 if _calendar.isleap(year) else 365


def day_count(code: str, start: date, end: date) -> int:
    """Days from ``start`` (counted) to ``end`` (not counted) under ``code``.

    Raises ValueError for an unknown code or when ``end`` is before ``start``.
    """
    convention = _convention(code)
    _check_dates(start, end)
    if convention is DayCount.THIRTY_360:
        return _thirty_360(start, end, eurobond=False)
    if convention is DayCount.THIRTY_E_360:
        return _thirty_360(start, end, eurobond=True)
    return (end - start).days


def year_fraction(code: str, start: date, end: date) -> Fraction:
    """The exact fraction of a year from ``start`` to ``end`` under ``code``.

    ACT/ACT (ISDA) splits the period at each 1 January: days falling in a leap
    year are divided by 366, the others by 365.
    """
    convention = _convention(code)
    _check_dates(start, end)
    if convention is DayCount.ACT_ACT:
        if start.year == end.year:
            return Fraction((end - start).days, _days_in_year(start.year))
        first = Fraction((date(start.year + 1, 1, 1) - start).days, _days_in_year(start.year))
        last = Fraction((end - date(end.year, 1, 1)).days, _days_in_year(end.year))
        return first + (end.year - start.year - 1) + last
    if convention is DayCount.ACT_365F:
        return Fraction(day_count(convention, start, end), 365)
    return Fraction(day_count(convention, start, end), 360)


def _exact(value: Decimal | int | Fraction, what: str) -> Fraction:
    """An exact Fraction from a rate or amount; floats are refused."""
    if isinstance(value, bool) or isinstance(value, float):
        raise TypeError(f"{what} must be Decimal, int or Fraction, not {type(value).__name__}")
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{what} must be finite")
        return Fraction(value)
    if isinstance(value, int | Fraction):
        return Fraction(value)
    raise TypeError(f"{what} must be Decimal, int or Fraction, not {type(value).__name__}")


def daily_rate(code: str, annual_rate: Decimal, on: date) -> Fraction:
    """The simple interest rate for one day, ``on``, under ``code``.

    ``annual_rate`` is a fraction (0.0435 means 4.35 %).  ACT/360, 30/360 and
    30E/360 divide by 360, ACT/365F by 365, ACT/ACT by the length of the
    calendar year containing ``on`` (365 or 366).  Used for penalty interest
    (罚息) accrued day by day.
    """
    convention = _convention(code)
    rate = _exact(annual_rate, "annual_rate")
    if convention is DayCount.ACT_ACT:
        return rate / _days_in_year(on.year)
    if convention is DayCount.ACT_365F:
        return rate / 365
    return rate / 360


def interest(code: str, principal: Decimal, annual_rate: Decimal, start: date, end: date) -> Decimal:
    """Simple interest ``principal × annual_rate × year_fraction``, *unrounded*.

    Computed exactly as a Fraction and converted once to a Decimal with
    :data:`PRECISION` significant digits (exact whenever the result has a
    terminating decimal expansion, e.g. 3100 for 1,000,000 at 3.6 % for 31
    days ACT/360).  Round with :func:`postloan.kernel.money.round_half_up`.
    """
    exact = (
        _exact(principal, "principal") * _exact(annual_rate, "annual_rate") * year_fraction(code, start, end)
    )
    with localcontext() as context:
        context.prec = PRECISION
        return Decimal(exact.numerator) / Decimal(exact.denominator)
