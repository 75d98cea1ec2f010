"""Tests for postloan.ledger.accrual: cumulative interest accrual and daily penalty, to the fen."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal, localcontext

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postloan.ledger.accrual import (
    accrued_to,
    daily_accrual,
    daily_rate,
    penalty_for_days,
    penalty_per_day,
    per_day_amount,
)

START = date(2024, 1, 15)
END = date(2024, 2, 15)  # 31 days


def test_accrued_to_is_cumulative_and_half_up() -> None:
    # 1000 fen over 31 days: after 1 day 32.258 → 32; after 15 days 483.87 → 484
    assert accrued_to(1000, START, END, START) == 32
    assert accrued_to(1000, START, END, START + timedelta(days=14)) == 484
    # the first day counts, the last does not: the whole interest is earned at the end of END − 1
    assert accrued_to(1000, START, END, END - timedelta(days=1)) == 1000
    assert accrued_to(1000, START, END, END) == 1000
    assert accrued_to(1000, START, END, START - timedelta(days=1)) == 0
    assert accrued_to(1000, START, END, date(2030, 1, 1)) == 1000


def test_half_up_on_a_tie() -> None:
    # 1 fen over 2 days: half a fen after the first day → 1 (half-even would give 0)
    assert accrued_to(1, START, START + timedelta(days=2), START) == 1
    assert accrued_to(3, START, START + timedelta(days=2), START) == 2  # 1.5 → 2


def test_daily_accrual() -> None:
    days = [START + timedelta(days=k) for k in range(31)]
    postings = [daily_accrual(1000, START, END, d) for d in days]
    assert postings[0] == 32
    assert sum(postings) == 1000
    assert daily_accrual(1000, START, END, END) == 0
    assert daily_accrual(1000, START, END, START - timedelta(days=3)) == 0


def test_zero_length_period() -> None:
    assert accrued_to(500, START, START, START - timedelta(days=1)) == 0
    assert accrued_to(500, START, START, START) == 500


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ((-1, START, END, START), "period_interest"),
        ((1.0, START, END, START), "period_interest"),
        ((100, END, START, START), "period_end"),
        ((100, "2024-01-15", END, START), "period_start"),
        ((100, START, END, None), "as_of"),
    ],
)
def test_accrued_to_validation(args, field) -> None:
    with pytest.raises(ValueError, match=field):
        accrued_to(*args)


@given(interest=st.integers(0, 10**10), days=st.integers(1, 800), offset=st.integers(-5, 5))
def test_daily_accruals_add_up_to_the_period_interest(interest, days, offset) -> None:
    start = date(2023, 3, 1) + timedelta(days=offset)
    end = start + timedelta(days=days)
    total = 0
    previous = 0
    for k in range(-2, days + 2):
        day = start + timedelta(days=k)
        posting = daily_accrual(interest, start, end, day)
        assert posting >= 0
        total += posting
        now = accrued_to(interest, start, end, day)
        assert now >= previous  # never decreases
        assert now - previous == posting
        previous = now
    assert total == interest


@given(interest=st.integers(0, 10**12), days=st.integers(1, 4000), elapsed=st.integers(0, 4000))
def test_accrued_to_matches_the_decimal_formula(interest, days, elapsed) -> None:
    start = date(2020, 1, 1)
    end = start + timedelta(days=days)
    as_of = start + timedelta(days=elapsed - 1)
    effective = min(elapsed, days)
    with localcontext() as ctx:
        ctx.prec = 60
        expected = (Decimal(interest) * effective / days).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    assert accrued_to(interest, start, end, as_of) == int(expected)


# ---------------------------------------------------------------------------
# penalty


def test_known_penalty() -> None:
    # 100,000.00 yuan overdue at 4.35 % × 1.5 / 360: 10,000,000 × 0.06525 / 360 = 1812.5 → 1813 fen a day
    assert penalty_per_day(10_000_000, Decimal("0.0435"), Decimal("0.5"), 360) == 1813
    assert penalty_for_days(10_000_000, Decimal("0.0435"), Decimal("0.5"), 360, 10) == 18_130
    assert penalty_for_days(10_000_000, Decimal("0.0435"), Decimal("0.5"), 360, 0) == 0
    assert penalty_for_days(0, Decimal("0.0435"), Decimal("0.5"), 360, 10) == 0


def test_each_day_is_its_own_rounded_posting() -> None:
    # 1 fen base: 0.00018… a day rounds to 0 every day, so 1000 days still give nothing
    assert penalty_for_days(1, Decimal("0.0435"), Decimal("0.5"), 360, 1000) == 0
    # base 4000 fen at 9 % / 360 = 1.0 fen a day exactly
    assert penalty_for_days(4000, Decimal("0.06"), Decimal("0.5"), 360, 7) == 7


def test_day_basis_365_and_string_rates() -> None:
    assert penalty_per_day(36_500_000, "0.05", "0.3", 365) == 6500


@pytest.mark.parametrize(
    ("args", "error", "field"),
    [
        ((-1, Decimal("0.04"), Decimal("0.5"), 360, 1), ValueError, "base"),
        ((100, Decimal("0.04"), Decimal("0.5"), 360, -1), ValueError, "days"),
        ((100, Decimal("0.04"), Decimal("0.5"), 0, 1), ValueError, "day_basis"),
        ((100, Decimal("-0.04"), Decimal("0.5"), 360, 1), ValueError, "annual_rate"),
        ((100, Decimal("0.04"), Decimal("NaN"), 360, 1), ValueError, "markup"),
        ((100, 0.04, Decimal("0.5"), 360, 1), TypeError, "annual_rate"),
    ],
)
def test_penalty_validation(args, error, field) -> None:
    with pytest.raises(error, match=field):
        penalty_for_days(*args)


rates = st.integers(1, 3000).map(lambda n: Decimal(n) / 10000)  # 0.01 % … 30 %
markups = st.sampled_from([Decimal("0"), Decimal("0.3"), Decimal("0.5"), Decimal("1")])


@given(base=st.integers(0, 10**12), rate=rates, markup=markups, basis=st.sampled_from([360, 365]),
       days=st.integers(0, 4000))
def test_penalty_matches_decimal_half_up(base, rate, markup, basis, days) -> None:
    with localcontext() as ctx:
        ctx.prec = 80
        exact = Decimal(base) * rate * (1 + markup) / basis
        per_day = int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    assert penalty_per_day(base, rate, markup, basis) == per_day
    assert penalty_for_days(base, rate, markup, basis, days) == per_day * days
    assert per_day_amount(base, daily_rate(rate, markup, basis)) == per_day
