"""Tests for postloan.kernel.calendar: business days, China's 调休, month arithmetic."""

from __future__ import annotations

import re
from datetime import date, timedelta

import holidays as holidays_package
import pytest
from hypothesis import given
from hypothesis import strategies as st

from postloan.kernel.calendar import (
    HOLIDAY_RULES,
    WEEKENDS_ONLY,
    BusinessCalendar,
    add_months,
    china_calendar,
    china_calendar_years,
)

FRI, SAT, SUN, MON = date(2024, 8, 30), date(2024, 8, 31), date(2024, 9, 1), date(2024, 9, 2)


@pytest.fixture(scope="module")
def cn() -> BusinessCalendar:
    return china_calendar(2023, 2025)


# -- month arithmetic ----------------------------------------------------------


def test_add_months_clamps_to_month_end_from_the_anchor() -> None:
    anchor = date(2024, 1, 31)
    assert [add_months(anchor, k) for k in range(1, 5)] == [
        date(2024, 2, 29),
        date(2024, 3, 31),
        date(2024, 4, 30),
        date(2024, 5, 31),
    ]
    assert add_months(date(2023, 1, 31), 1) == date(2023, 2, 28)
    assert add_months(date(2024, 11, 30), 3) == date(2025, 2, 28)
    assert add_months(date(2024, 3, 31), -1) == date(2024, 2, 29)
    assert add_months(date(2024, 1, 15), -13) == date(2022, 12, 15)
    assert add_months(date(2024, 2, 29), 1, day=31) == date(2024, 3, 31)
    assert add_months(date(2024, 1, 31), 0) == date(2024, 1, 31)


@given(st.dates(min_value=date(1950, 1, 1), max_value=date(2150, 1, 1)), st.integers(-600, 600))
def test_add_months_keeps_the_day_or_the_month_end(anchor: date, months: int) -> None:
    moved = add_months(anchor, months)
    assert (moved.year * 12 + moved.month) - (anchor.year * 12 + anchor.month) == months
    if moved.day != anchor.day:
        assert moved.day < anchor.day
        assert (moved + timedelta(days=1)).day == 1  # clamped to the last day


# -- the generic calendar ------------------------------------------------------


def test_weekends_only() -> None:
    assert WEEKENDS_ONLY.is_business_day(FRI)
    assert not WEEKENDS_ONLY.is_business_day(SAT)
    assert not WEEKENDS_ONLY.is_business_day(SUN)
    assert WEEKENDS_ONLY.covers(date(1900, 1, 1))
    assert WEEKENDS_ONLY.covers(date(2999, 12, 31))


def test_rolling_conventions() -> None:
    cal = WEEKENDS_ONLY
    assert cal.next_business_day(FRI) == FRI
    assert cal.next_business_day(SAT) == MON
    assert cal.following(SUN) == MON
    assert cal.preceding(SUN) == FRI
    assert cal.preceding(MON) == MON
    # 31 August 2024 is a Saturday: following crosses into September,
    # so modified following goes back to Friday 30 August.
    assert cal.modified_following(SAT) == FRI
    # 1 June 2024 is a Saturday: following stays in June.
    assert cal.modified_following(date(2024, 6, 1)) == date(2024, 6, 3)


def test_adjust_rules() -> None:
    assert HOLIDAY_RULES == ("none", "following", "modified_following", "preceding")
    assert WEEKENDS_ONLY.adjust(SAT, "none") == SAT
    assert WEEKENDS_ONLY.adjust(SAT, "following") == MON
    assert WEEKENDS_ONLY.adjust(SAT, "modified_following") == FRI
    assert WEEKENDS_ONLY.adjust(SAT, "preceding") == FRI
    with pytest.raises(ValueError, match="'sideways'"):
        WEEKENDS_ONLY.adjust(SAT, "sideways")


def test_add_business_days() -> None:
    cal = WEEKENDS_ONLY
    assert cal.add_business_days(FRI, 1) == MON
    assert cal.add_business_days(SAT, 1) == MON
    assert cal.add_business_days(MON, -1) == FRI
    assert cal.add_business_days(SUN, -1) == FRI
    assert cal.add_business_days(FRI, 10) == date(2024, 9, 13)
    assert cal.add_business_days(SAT, 0) == MON
    assert cal.add_business_days(FRI, 0) == FRI


def test_holidays_and_make_up_workdays() -> None:
    cal = BusinessCalendar(holidays=frozenset({MON}), workdays=frozenset({SAT}))
    assert not cal.is_business_day(MON)
    assert cal.is_business_day(SAT)
    assert cal.following(SUN) == date(2024, 9, 3)
    assert cal.preceding(SUN) == SAT


def test_calendar_validation() -> None:
    with pytest.raises(ValueError, match="both holiday and workday"):
        BusinessCalendar(holidays=frozenset({SAT}), workdays=frozenset({SAT}))
    with pytest.raises(ValueError, match="weekend"):
        BusinessCalendar(weekend=(7,))
    with pytest.raises(ValueError, match="at least one business day"):
        BusinessCalendar(weekend=tuple(range(7)))
    with pytest.raises(ValueError, match="first date is after"):
        BusinessCalendar(first=date(2025, 1, 1), last=date(2024, 1, 1))


def test_custom_weekend() -> None:
    friday_saturday = BusinessCalendar(weekend=(4, 5))
    assert not friday_saturday.is_business_day(FRI)
    assert friday_saturday.is_business_day(SUN)


def test_covers() -> None:
    cal = BusinessCalendar(first=date(2024, 1, 1), last=date(2024, 12, 31))
    assert cal.covers(date(2024, 6, 1))
    assert not cal.covers(date(2023, 12, 31))
    assert not cal.covers(date(2025, 1, 1))


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31)))
def test_rolled_dates_are_business_days(d: date) -> None:
    cal = WEEKENDS_ONLY
    assert cal.is_business_day(cal.following(d)) and cal.following(d) >= d
    assert cal.is_business_day(cal.preceding(d)) and cal.preceding(d) <= d
    moved = cal.modified_following(d)
    assert cal.is_business_day(moved) and moved.month == d.month
    if cal.is_business_day(d):
        assert cal.following(d) == cal.preceding(d) == moved == d


# -- China ---------------------------------------------------------------------


def test_china_2024_known_days(cn: BusinessCalendar) -> None:
    assert cn.is_business_day(date(2024, 2, 4))  # Sunday, make-up working day (调休)
    assert cn.is_business_day(date(2024, 2, 18))  # Sunday, make-up working day
    assert cn.is_business_day(date(2024, 9, 29))  # Sunday, make-up working day
    assert cn.is_business_day(date(2024, 10, 12))  # Saturday, make-up working day
    assert not cn.is_business_day(date(2024, 10, 1))  # National Day
    assert not cn.is_business_day(date(2024, 10, 7))  # a Monday inside the Golden Week
    assert not cn.is_business_day(date(2024, 2, 12))  # Spring Festival
    assert cn.next_business_day(date(2024, 10, 1)) == date(2024, 10, 8)
    assert cn.following(date(2024, 2, 10)) == date(2024, 2, 18)  # a Sunday that is a workday
    assert cn.preceding(date(2024, 10, 7)) == date(2024, 9, 30)
    assert cn.add_business_days(date(2024, 9, 30), 1) == date(2024, 10, 8)
    # modified following: the May Day holiday runs to 5 May, a Sunday, so the
    # next business day stays in May
    assert cn.modified_following(date(2024, 5, 1)) == date(2024, 5, 6)


def test_china_calendar_clamps_to_published_years() -> None:
    known_first, known_last = china_calendar_years()
    assert known_first == 2004
    assert known_last >= 2025
    cal = china_calendar(1990, 2200)
    assert cal.first == date(known_first, 1, 1)
    assert cal.last == date(known_last, 12, 31)
    assert cal.covers(date(known_last, 12, 31))
    assert not cal.covers(date(known_last + 1, 1, 1))
    # past the data only the weekend rule applies
    saturday = next(
        date(known_last + 1, 1, 1) + timedelta(days=i)
        for i in range(7)
        if (date(known_last + 1, 1, 1) + timedelta(days=i)).weekday() == 5
    )
    assert not cal.is_business_day(saturday)


def test_china_calendar_without_data_is_refused() -> None:
    _, known_last = china_calendar_years()
    with pytest.raises(ValueError, match="no data"):
        china_calendar(known_last + 5, known_last + 10)
    with pytest.raises(ValueError, match="after last_year"):
        china_calendar(2025, 2024)


def test_china_calendar_records_its_range(cn: BusinessCalendar) -> None:
    assert cn.first == date(2023, 1, 1)
    assert cn.last == date(2025, 12, 31)


def _substituted_workdays(name: str) -> set[date]:
    """Dates named in holidays.China's "Day off (substituted from MM/DD/YYYY)"."""
    found = set()
    for month, day, year in re.findall(r"substituted from (\d{2})/(\d{2})/(\d{4})", name):
        found.add(date(int(year), int(month), int(day)))
    return found


@pytest.mark.parametrize("year", [2023, 2024, 2025])
def test_chinese_calendar_agrees_with_holidays_package(cn: BusinessCalendar, year: int) -> None:
    """Two independently maintained sources must agree on the statutory days off
    and on the make-up working days, or the data of one of them is wrong."""
    reference = holidays_package.China(years=year)
    reference_days = set(reference)
    ours = {d for d in cn.holidays if d.year == year}
    # every day off in the reference is a non-business day for us ...
    assert all(not cn.is_business_day(d) for d in reference_days)
    # ... and every weekday holiday of ours is a day off in the reference
    # (the reference does not list weekend days inside a holiday block)
    assert {d for d in ours if d.weekday() < 5} <= reference_days
    substituted = set().union(*(_substituted_workdays(name) for name in reference.values()))
    assert substituted == {d for d in cn.workdays if d.year == year}


def test_chinese_calendar_2024_blocks(cn: BusinessCalendar) -> None:
    reference = holidays_package.China(years=2024)
    spring_festival = [date(2024, 2, 10) + timedelta(days=i) for i in range(8)]  # 10–17 Feb
    national_day = [date(2024, 10, 1) + timedelta(days=i) for i in range(7)]  # 1–7 Oct
    for d in spring_festival + national_day:
        assert not cn.is_business_day(d), d
        if d.weekday() < 5:
            assert d in reference, d
    assert "Spring Festival" in reference[date(2024, 2, 10)]
    assert "National Day" in reference[date(2024, 10, 1)]


def test_china_calendar_is_cached() -> None:
    assert china_calendar(2024, 2024) is china_calendar(2024, 2024)
