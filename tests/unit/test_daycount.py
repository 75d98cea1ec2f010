"""Tests for postloan.kernel.daycount: ISDA 2006 §4.16 conventions, 算头不算尾."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postloan.kernel.daycount import (
    DAY_COUNTS,
    DayCount,
    daily_rate,
    day_count,
    interest,
    year_fraction,
)
from postloan.kernel.money import round_half_up

dates = st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 12, 31))


def test_codes() -> None:
    assert DAY_COUNTS == ("ACT/360", "ACT/365F", "30/360", "30E/360", "ACT/ACT")
    assert DayCount.ACT_360 == "ACT/360"


def test_act_360_known_interest() -> None:
    # 1,000,000 at 3.6 % for 31 days ACT/360 = 1,000,000 × 0.036 × 31 / 360
    result = interest("ACT/360", Decimal("1000000"), Decimal("0.036"), date(2024, 3, 1), date(2024, 4, 1))
    assert result == Decimal("3100")
    assert round_half_up(result) == Decimal("3100.00")


def test_first_day_counts_last_does_not() -> None:
    assert day_count("ACT/360", date(2024, 3, 1), date(2024, 3, 2)) == 1
    assert day_count("ACT/360", date(2024, 3, 1), date(2024, 3, 1)) == 0
    assert day_count("ACT/365F", date(2024, 2, 1), date(2024, 3, 1)) == 29


@pytest.mark.parametrize(
    ("start", "end", "us", "eurobond"),
    [
        # 31st to 31st: both become 30 under both conventions
        (date(2024, 1, 31), date(2024, 3, 31), 60, 60),
        (date(2023, 5, 31), date(2024, 5, 31), 360, 360),
        # D1 = 30: US moves D2 = 31 to 30 as well
        (date(2024, 1, 30), date(2024, 3, 31), 60, 60),
        # D1 < 30: US keeps D2 = 31, Eurobond moves it to 30
        (date(2024, 1, 29), date(2024, 3, 31), 62, 61),
        (date(2024, 2, 29), date(2024, 3, 31), 32, 31),
        # no end-of-February rule in the ISDA bond basis
        (date(2024, 2, 29), date(2024, 3, 30), 31, 31),
        (date(2023, 2, 28), date(2023, 3, 31), 33, 32),
        (date(2024, 1, 15), date(2024, 2, 15), 30, 30),
        (date(2024, 12, 31), date(2025, 1, 31), 30, 30),
    ],
)
def test_thirty_360(start: date, end: date, us: int, eurobond: int) -> None:
    assert day_count("30/360", start, end) == us
    assert day_count("30E/360", start, end) == eurobond
    assert year_fraction("30/360", start, end) == Fraction(us, 360)
    assert year_fraction("30E/360", start, end) == Fraction(eurobond, 360)


def test_act_act_across_a_year_end() -> None:
    # 17 days in 2023 (365-day year) and 14 days in 2024 (leap year)
    start, end = date(2023, 12, 15), date(2024, 1, 15)
    assert day_count("ACT/ACT", start, end) == 31
    assert year_fraction("ACT/ACT", start, end) == Fraction(17, 365) + Fraction(14, 366)


def test_act_act_across_two_year_ends() -> None:
    start, end = date(2023, 7, 1), date(2025, 7, 1)
    expected = Fraction(184, 365) + 1 + Fraction(181, 365)
    assert year_fraction("ACT/ACT", start, end) == expected


def test_act_act_whole_years_are_one() -> None:
    assert year_fraction("ACT/ACT", date(2024, 1, 1), date(2025, 1, 1)) == 1
    assert year_fraction("ACT/ACT", date(2023, 1, 1), date(2024, 1, 1)) == 1


def test_act_365f_and_act_360_fractions() -> None:
    start, end = date(2024, 1, 1), date(2025, 1, 1)  # 366 days
    assert year_fraction("ACT/365F", start, end) == Fraction(366, 365)
    assert year_fraction("ACT/360", start, end) == Fraction(366, 360)


def test_daily_rates() -> None:
    rate = Decimal("0.0365")
    assert daily_rate("ACT/360", rate, date(2024, 5, 1)) == Fraction(365, 10000 * 360)
    assert daily_rate("30/360", rate, date(2024, 5, 1)) == Fraction(365, 10000 * 360)
    assert daily_rate("30E/360", rate, date(2024, 5, 1)) == Fraction(365, 10000 * 360)
    assert daily_rate("ACT/365F", rate, date(2024, 5, 1)) == Fraction(1, 10000)
    assert daily_rate("ACT/ACT", rate, date(2024, 5, 1)) == Fraction(365, 10000 * 366)
    assert daily_rate("ACT/ACT", rate, date(2023, 5, 1)) == Fraction(1, 10000)


def test_interest_is_unrounded() -> None:
    result = interest("ACT/360", Decimal("100"), Decimal("0.01"), date(2024, 1, 1), date(2024, 1, 2))
    assert result == Decimal("0.002777777777777777777777777777777778")
    assert round_half_up(result) == Decimal("0.00")


def test_codes_are_case_insensitive() -> None:
    assert day_count("act/360", date(2024, 1, 1), date(2024, 2, 1)) == 31


@pytest.mark.parametrize("code", ["ACT/999", "", "30/365", "bogus"])
def test_unknown_code_is_named(code: str) -> None:
    with pytest.raises(ValueError) as caught:
        day_count(code, date(2024, 1, 1), date(2024, 2, 1))
    assert repr(code) in str(caught.value)
    with pytest.raises(ValueError, match="unknown day count"):
        year_fraction(code, date(2024, 1, 1), date(2024, 2, 1))
    with pytest.raises(ValueError, match="unknown day count"):
        daily_rate(code, Decimal("0.01"), date(2024, 1, 1))


def test_end_before_start_is_refused() -> None:
    with pytest.raises(ValueError, match="before start"):
        day_count("ACT/360", date(2024, 2, 1), date(2024, 1, 1))


def test_float_rate_is_refused() -> None:
    with pytest.raises(TypeError):
        daily_rate("ACT/360", 0.0435, date(2024, 1, 1))  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        interest("ACT/360", 1000.0, Decimal("0.01"), date(2024, 1, 1), date(2024, 2, 1))  # type: ignore[arg-type]


@given(dates, st.integers(min_value=0, max_value=800))
def test_act_act_equals_the_sum_of_daily_rates(start: date, days: int) -> None:
    end = start + timedelta(days=days)
    rate = Decimal("0.05")
    summed = sum(
        (daily_rate("ACT/ACT", rate, start + timedelta(days=i)) for i in range(days)),
        Fraction(0),
    )
    assert summed == Fraction(rate) * year_fraction("ACT/ACT", start, end)


@given(dates, st.integers(min_value=0, max_value=2000), st.integers(min_value=0, max_value=2000))
def test_day_counts_add_up(start: date, first: int, second: int) -> None:
    middle = start + timedelta(days=first)
    end = middle + timedelta(days=second)
    for code in ("ACT/360", "ACT/365F", "ACT/ACT"):
        assert year_fraction(code, start, end) == year_fraction(code, start, middle) + year_fraction(
            code, middle, end
        )


@given(dates, st.integers(min_value=0, max_value=4000), st.sampled_from(DAY_COUNTS))
def test_day_counts_are_non_negative(start: date, days: int, code: str) -> None:
    end = start + timedelta(days=days)
    assert day_count(code, start, end) >= 0
    assert year_fraction(code, start, end) >= 0
