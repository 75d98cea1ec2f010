"""Business calendars kept in the database, seeded from ``chinesecalendar``.

The library stops at the last year the State Council has published; the
table lets staff add a new year's notice by hand before the library catches up.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction

from .calendar import WEEKENDS_ONLY, BusinessCalendar, china_calendar, china_calendar_years
from .models import CalendarCoverage, CalendarDay

_cache: dict[str, tuple[tuple, BusinessCalendar]] = {}


def load(code: str = "CN") -> BusinessCalendar:
    """The calendar ``code`` from the table (weekends only if it is not loaded)."""
    coverage = CalendarCoverage.objects.filter(code=code).first()
    if coverage is None:
        return WEEKENDS_ONLY
    stamp = (coverage.first, coverage.last, CalendarDay.objects.filter(calendar=coverage).count())
    cached = _cache.get(code)
    if cached and cached[0] == stamp:
        return cached[1]
    days = list(CalendarDay.objects.filter(calendar=coverage).values_list("date", "kind"))
    cal = BusinessCalendar(
        holidays=frozenset(d for d, k in days if k == CalendarDay.Kind.HOLIDAY),
        workdays=frozenset(d for d, k in days if k == CalendarDay.Kind.WORKDAY),
        first=coverage.first,
        last=coverage.last,
    )
    _cache[code] = (stamp, cal)
    return cal


@transaction.atomic
def seed_china(first_year: int | None = None, last_year: int | None = None) -> CalendarCoverage:
    """Load China's holidays and make-up working days from ``chinesecalendar`` (idempotent)."""
    known_first, known_last = china_calendar_years()
    cal = china_calendar(first_year or known_first, last_year or known_last)
    coverage, _ = CalendarCoverage.objects.update_or_create(
        code="CN", defaults={"name": "中国大陆 / Mainland China", "first": cal.first, "last": cal.last}
    )
    existing = set(CalendarDay.objects.filter(calendar=coverage).values_list("date", flat=True))
    rows = [CalendarDay(calendar=coverage, date=d, kind=CalendarDay.Kind.HOLIDAY) for d in sorted(cal.holidays)
            if d not in existing]
    rows += [CalendarDay(calendar=coverage, date=d, kind=CalendarDay.Kind.WORKDAY) for d in sorted(cal.workdays)
             if d not in existing]
    CalendarDay.objects.bulk_create(rows)
    return coverage


def covers(code: str, date: dt.date) -> bool:
    coverage = CalendarCoverage.objects.filter(code=code).first()
    return coverage is not None and coverage.first <= date <= coverage.last
