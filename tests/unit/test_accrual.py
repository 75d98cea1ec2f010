"""Tests for postloan.ledger.accrual: cumulative interest accrual and daily penalty, to the fen."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal, localcontext

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from postloan.ledger.accrual import (
    FAR,
    accrued_to,
    daily_accrual,
    daily_rate,
    penalty_for_days,
    penalty_per_day,
    per_day_amount,
    window,
    window_accrued,
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


# --- the accrual window the close of business accrues from ------------------------------------------------------

_BASE = date(2026, 1, 1)


@st.composite
def _open_installments(draw):
    """Open installments of a loan: consecutive periods (due dates on or after the period end, as a holiday
    shifts them) and, sometimes, an overlapping period entered by hand; interest partly paid ahead."""
    rows, start = [], _BASE + timedelta(days=draw(st.integers(0, 40)))
    for _ in range(draw(st.integers(0, 5))):
        length = draw(st.integers(0, 95))
        end = start + timedelta(days=length)
        due = end + timedelta(days=draw(st.sampled_from([0, 0, 0, 1, 2, 3, 7])))
        interest = draw(st.integers(0, 5_000_000))
        paid = draw(st.sampled_from([0, 0, 0, interest // 3, interest, interest + 1]))
        rows.append((start, end, due, interest, paid))
        start = end
    if rows and draw(st.booleans()):
        s, e, d, i, _p = rows[draw(st.integers(0, len(rows) - 1))]
        shift = timedelta(days=draw(st.integers(-20, 20)))
        rows.append((s + shift, max(e, s + shift) + timedelta(days=draw(st.integers(0, 30))), d + shift, i, 0))
    return rows


def _accrued_on(rows, day):
    """The reference: what the engine sums on ``day`` over the installments accruing (start ≤ day < due)."""
    return sum(max(0, accrued_to(i, s, e, day) - p) for s, e, d, i, p in rows if s <= day < d and e >= s)


@given(rows=_open_installments(), as_of_offset=st.integers(-5, 400))
@settings(max_examples=400, deadline=None)
def test_window_gives_each_days_accrual_until_it_ends(rows, as_of_offset):
    rows = [r for r in rows if r[1] >= r[0]]
    as_of = _BASE + timedelta(days=as_of_offset)
    first = as_of + timedelta(days=1)
    periods = [r for r in rows if r[0] <= first < r[2]]
    next_start = min((r[0] for r in rows if r[0] > first), default=None)
    until, start, days, interest, paid, fixed = window(periods, next_start, as_of)
    assert until >= first
    day = first
    while day <= min(until, first + timedelta(days=120)):
        assert window_accrued(day, start, days, interest, paid, fixed) == _accrued_on(rows, day), day
        day += timedelta(days=1)


def test_window_lasts_a_whole_period_and_ends_when_the_next_one_starts():
    # monthly installments; March's due date moved by a holiday from 31 March to 2 April
    march = (date(2026, 3, 1), date(2026, 3, 31), date(2026, 4, 2), 31_000, 0)
    april = (date(2026, 3, 31), date(2026, 4, 30), date(2026, 4, 30), 30_000, 0)
    until, start, days, interest, paid, fixed = window([march], april[0], date(2026, 3, 1))
    assert (until, start, days, interest, paid, fixed) == (date(2026, 3, 30), date(2026, 3, 1), 30, 31_000, 0, 0)
    assert window_accrued(date(2026, 3, 10), start, days, interest, paid, fixed) == 10_333  # 31000 × 10 / 30
    # from 31 March both accrue: March in full (fixed), April by the day, until March falls due on 2 April
    window_2 = window([march, april], None, date(2026, 3, 30))
    assert window_2 == (date(2026, 4, 1), date(2026, 3, 31), 30, 30_000, 0, 31_000)
    assert window_accrued(date(2026, 3, 31), *window_2[1:]) == 31_000 + 1_000


def test_window_of_a_loan_with_nothing_left_to_accrue_never_ends():
    assert window([], None, date(2026, 3, 1)) == (FAR, None, 0, 0, 0, 0)
    assert window([], date(2026, 4, 1), date(2026, 3, 1))[0] == date(2026, 3, 31)
