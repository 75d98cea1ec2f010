"""Business calendars and month arithmetic.

Why this module exists: a due date that falls on a holiday moves to the next
business day unless the product says otherwise (DOMAIN.md §1).  China's
calendar is not "Monday to Friday minus holidays": the State Council also
declares make-up working days (调休), Saturdays or Sundays on which banks are
open.  A :class:`BusinessCalendar` therefore carries both a set of holidays
and a set of weekend working days.

The official data come from the ``chinesecalendar`` package, which is
published a year at a time.  A calendar records the range it actually
``covers``; outside it only the weekend rule applies, and callers that care
(the schedule CLI, the close of business) check :meth:`BusinessCalendar.covers`
and warn rather than silently pretend to know next year's holidays.
"""

from __future__ import annotations

import calendar as _calendar
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache

__all__ = [
    "HOLIDAY_RULES",
    "WEEKENDS_ONLY",
    "BusinessCalendar",
    "add_months",
    "china_calendar",
    "china_calendar_years",
]

#: Adjustment rules accepted by :meth:`BusinessCalendar.adjust`.
HOLIDAY_RULES: tuple[str, ...] = ("none", "following", "modified_following", "preceding")

_ONE_DAY = timedelta(days=1)


def add_months(anchor: date, months: int, day: int | None = None) -> date:
    """``anchor`` moved by ``months`` calendar months, on ``day`` (default the
    anchor's day) clamped to the length of the target month.

    Schedules must derive every due date from the *anchor* (31 Jan → 29 Feb →
    31 Mar), never from the previous, already clamped date (which would give
    29 Feb → 29 Mar); passing the anchor and a whole number of months each
    time guarantees that.
    """
    index = anchor.year * 12 + (anchor.month - 1) + months
    year, month_index = divmod(index, 12)
    month = month_index + 1
    wanted = anchor.day if day is None else day
    return date(year, month, min(wanted, _calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class BusinessCalendar:
    """A set of non-working days, with make-up working days on weekends.

    ``holidays``: dates that are never business days.  ``workdays``: weekend
    dates that *are* business days (调休).  ``weekend``: the weekday numbers
    (Monday = 0) that are not business days by default.  ``first``/``last``:
    the range for which the holiday data are known to be complete; outside it
    the calendar still answers, by the weekend rule alone.
    """

    holidays: frozenset[date] = field(default_factory=frozenset)
    workdays: frozenset[date] = field(default_factory=frozenset)
    first: date | None = None
    last: date | None = None
    weekend: tuple[int, ...] = (5, 6)

    def __post_init__(self) -> None:
        object.__setattr__(self, "holidays", frozenset(self.holidays))
        object.__setattr__(self, "workdays", frozenset(self.workdays))
        object.__setattr__(self, "weekend", tuple(sorted(set(self.weekend))))
        if any(not 0 <= day <= 6 for day in self.weekend):
            raise ValueError("weekend days must be weekday numbers 0 (Monday) to 6 (Sunday)")
        if len(self.weekend) == 7 and not self.workdays:
            raise ValueError("a calendar needs at least one business day")
        clash = self.holidays & self.workdays
        if clash:
            raise ValueError(f"dates both holiday and workday: {sorted(clash)[:3]}")
        if self.first and self.last and self.first > self.last:
            raise ValueError("calendar first date is after its last date")

    def covers(self, d: date) -> bool:
        """True when ``d`` is within the range the holiday data are known for.

        An open bound (None) is unlimited, so :data:`WEEKENDS_ONLY` covers
        every date.
        """
        return (self.first is None or d >= self.first) and (self.last is None or d <= self.last)

    def is_business_day(self, d: date) -> bool:
        """Holidays never are; make-up working days always are; otherwise
        every day except the weekend."""
        if d in self.holidays:
            return False
        if d in self.workdays:
            return True
        return d.weekday() not in self.weekend

    def next_business_day(self, d: date) -> date:
        """The first business day on or after ``d``."""
        while not self.is_business_day(d):
            d += _ONE_DAY
        return d

    def following(self, d: date) -> date:
        """The "following" convention: ``d`` if a business day, else the next one."""
        return self.next_business_day(d)

    def preceding(self, d: date) -> date:
        """The "preceding" convention: the last business day on or before ``d``."""
        while not self.is_business_day(d):
            d -= _ONE_DAY
        return d

    def modified_following(self, d: date) -> date:
        """The "modified following" convention: the next business day, unless that falls in
        the next month, then the preceding one (keeps month-end payments in
        their month)."""
        moved = self.following(d)
        if moved.month != d.month:
            return self.preceding(d)
        return moved

    def add_business_days(self, d: date, n: int) -> date:
        """The ``n``-th business day after ``d`` (before it when ``n`` < 0).

        ``d`` itself is not counted, so Friday + 1 is Monday and Saturday + 1
        is also Monday.  ``n`` = 0 returns ``following(d)``.  Used for
        deadlines in working days (a warning handled within 10 working days,
        a settlement certificate within 3–5).
        """
        if n == 0:
            return self.following(d)
        step = _ONE_DAY if n > 0 else -_ONE_DAY
        remaining = abs(n)
        while remaining:
            d += step
            if self.is_business_day(d):
                remaining -= 1
        return d

    def adjust(self, d: date, rule: str) -> date:
        """Apply a holiday rule: "none", "following", "modified_following"
        or "preceding"."""
        if rule == "none":
            return d
        if rule == "following":
            return self.following(d)
        if rule == "modified_following":
            return self.modified_following(d)
        if rule == "preceding":
            return self.preceding(d)
        raise ValueError(f"unknown holiday rule {rule!r}; expected one of {', '.join(HOLIDAY_RULES)}")


#: No holidays at all, only Saturdays and Sundays; covers every date.
WEEKENDS_ONLY = BusinessCalendar()


def china_calendar_years() -> tuple[int, int]:
    """The first and last year for which ``chinesecalendar`` has official data.

    The package publishes each year's State Council notice in a new release
    and raises NotImplementedError outside its data; it derives its own range
    from the keys of its ``constants.holidays`` table, and so do we.
    """
    from chinese_calendar import constants

    years = [d.year for d in constants.holidays]
    return min(years), max(years)


@lru_cache(maxsize=32)
def china_calendar(first_year: int, last_year: int) -> BusinessCalendar:
    """The mainland China business calendar for ``first_year``..``last_year``.

    The range is clamped to the years ``chinesecalendar`` has published (see
    :func:`china_calendar_years`), and the result's ``first``/``last`` record
    the clamped range, so :meth:`BusinessCalendar.covers` tells the caller
    where the data stop.  Raises ValueError if no requested year is covered.
    Cached: building a calendar scans every day of the range.
    """
    if first_year > last_year:
        raise ValueError(f"first_year {first_year} is after last_year {last_year}")
    import chinese_calendar

    known_first, known_last = china_calendar_years()
    first = max(first_year, known_first)
    last = min(last_year, known_last)
    if first > last:
        raise ValueError(
            f"chinesecalendar has no data for {first_year}-{last_year}; it covers {known_first}-{known_last}"
        )
    start, end = date(first, 1, 1), date(last, 12, 31)
    holidays = frozenset(chinese_calendar.get_holidays(start, end, include_weekends=False))
    # get_workdays(include_weekends=True) lists every working day; the ones on
    # a Saturday or Sunday are the make-up working days (调休).
    workdays = frozenset(d for d in chinese_calendar.get_workdays(start, end) if d.weekday() >= 5)
    return BusinessCalendar(holidays=holidays, workdays=workdays, first=start, last=end)
