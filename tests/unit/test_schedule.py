"""Tests for postloan.ledger.schedule: known values, dates, and properties."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from postloan.kernel.calendar import WEEKENDS_ONLY, china_calendar
from postloan.kernel.daycount import DAY_COUNTS
from postloan.kernel.money import from_fen
from postloan.ledger.schedule import (
    FREQUENCIES,
    METHODS,
    Installment,
    ScheduleTerms,
    generate_schedule,
    level_payment,
    manual_schedule,
    remaining_schedule,
    schedule_totals,
)

D = Decimal
ZERO = D("0.00")


def terms(**overrides: object) -> ScheduleTerms:
    base: dict[str, object] = {
        "principal": D("100000"),
        "annual_rate": D("0.0435"),
        "term_months": 12,
        "start": date(2024, 1, 15),
    }
    base.update(overrides)
    return ScheduleTerms(**base)  # type: ignore[arg-type]


# -- known values ----------------------------------------------------------------


def test_equal_installment_known_value() -> None:
    rows = generate_schedule(terms())
    assert len(rows) == 12
    assert all(row.total == D("8530.99") for row in rows[:-1])
    first = rows[0]
    assert (first.principal, first.interest, first.balance) == (D("8168.49"), D("362.50"), D("91831.51"))
    assert rows[-1].total == D("8531.01")
    assert rows[-1].balance == ZERO
    assert schedule_totals(rows) == (D("100000.00"), D("2371.90"), D("102371.90"))
    assert level_payment(D("100000"), D("0.0435"), 12) == D("8530.99")


def test_equal_principal_known_value() -> None:
    rows = generate_schedule(terms(principal=D("120000"), annual_rate=D("0.06"), method="equal_principal"))
    assert (rows[0].principal, rows[0].interest, rows[0].total) == (D("10000.00"), D("600.00"), D("10600.00"))
    assert (rows[1].principal, rows[1].interest) == (D("10000.00"), D("550.00"))
    assert rows[-1].interest == D("50.00")
    assert schedule_totals(rows) == (D("120000.00"), D("3900.00"), D("123900.00"))


def test_equal_principal_last_takes_the_remainder() -> None:
    rows = generate_schedule(
        terms(principal=D("1000"), annual_rate=D("0"), term_months=3, method="equal_principal")
    )
    assert [row.principal for row in rows] == [D("333.33"), D("333.33"), D("333.34")]


def test_zero_rate_equal_installment() -> None:
    rows = generate_schedule(terms(principal=D("1200"), annual_rate=D("0")))
    assert all(row.principal == D("100.00") and row.interest == ZERO for row in rows)
    assert level_payment(D("1000"), D("0"), 3) == D("333.33")
    rows = generate_schedule(terms(principal=D("1000"), annual_rate=D("0"), term_months=3))
    assert [row.total for row in rows] == [D("333.33"), D("333.33"), D("333.34")]


def test_interest_only() -> None:
    rows = generate_schedule(terms(principal=D("120000"), annual_rate=D("0.06"), method="interest_only"))
    assert all(row.interest == D("600.00") for row in rows)
    assert all(row.principal == ZERO for row in rows[:-1])
    assert rows[-1].principal == D("120000.00")
    assert rows[-1].total == D("120600.00")


def test_bullet_is_one_installment_at_maturity() -> None:
    rows = generate_schedule(
        terms(
            principal=D("120000"),
            annual_rate=D("0.06"),
            term_months=12,
            method="bullet",
            frequency="quarterly",
        )
    )
    assert len(rows) == 1
    (row,) = rows
    assert row.period_start == date(2024, 1, 15)
    assert row.period_end == row.due_date == date(2025, 1, 15)
    assert (row.principal, row.interest, row.total, row.balance) == (
        D("120000.00"),
        D("7200.00"),
        D("127200.00"),
        ZERO,
    )


def test_bullet_daily_basis_counts_days() -> None:
    rows = generate_schedule(
        terms(
            principal=D("1000000"),
            annual_rate=D("0.036"),
            term_months=12,
            method="bullet",
            interest_basis="daily",
        )
    )
    # 2024-01-15 → 2025-01-15 is 366 days: 1,000,000 × 0.036 × 366 / 360
    assert rows[0].interest == D("36600.00")


def test_bullet_may_take_its_maturity_from_first_due() -> None:
    rows = generate_schedule(
        terms(principal=D("1000000"), annual_rate=D("0.036"), method="bullet", first_due=date(2024, 2, 15))
    )
    # irregular: 31 days ACT/360
    assert rows[0].period_end == date(2024, 2, 15)
    assert rows[0].interest == D("3100.00")


def test_quarterly_equal_installment() -> None:
    rows = generate_schedule(terms(principal=D("100000"), annual_rate=D("0.06"), frequency="quarterly"))
    assert len(rows) == 4
    assert [row.period_end for row in rows] == [
        date(2024, 4, 15),
        date(2024, 7, 15),
        date(2024, 10, 15),
        date(2025, 1, 15),
    ]
    assert rows[0].interest == D("1500.00")  # 100,000 × 6 % × 3 / 12
    assert rows[0].total == level_payment(D("100000"), D("0.06"), 4, 3)


def test_daily_basis_uses_the_day_count() -> None:
    rows = generate_schedule(
        terms(principal=D("1000000"), annual_rate=D("0.036"), method="interest_only", interest_basis="daily")
    )
    # 15 Jan → 15 Feb 2024 is 31 days, 15 Feb → 15 Mar is 29 days (ACT/360)
    assert rows[0].interest == D("3100.00")
    assert rows[1].interest == D("2900.00")
    rows_365 = generate_schedule(
        terms(
            principal=D("1000000"),
            annual_rate=D("0.0365"),
            method="interest_only",
            interest_basis="daily",
            day_count="ACT/365F",
        )
    )
    assert rows_365[0].interest == D("3100.00")


def test_daily_basis_equal_installment_keeps_the_level_total() -> None:
    rows = generate_schedule(terms(interest_basis="daily"))
    assert all(row.total == D("8530.99") for row in rows[:-1])
    assert rows[0].interest == D("374.58")  # 100,000 × 4.35 % × 31 / 360 = 374.583…


# -- dates ---------------------------------------------------------------------


def test_month_end_clamping_derives_from_the_anchor() -> None:
    rows = generate_schedule(terms(start=date(2024, 1, 31), term_months=4))
    assert [row.period_end for row in rows] == [
        date(2024, 2, 29),
        date(2024, 3, 31),
        date(2024, 4, 30),
        date(2024, 5, 31),
    ]
    assert [row.period_start for row in rows][1:] == [row.period_end for row in rows][:-1]
    # 31 Jan → 29 Feb is a whole month, so period-basis interest is a month's
    assert rows[0].interest == D("362.50")


def test_first_due_anchors_later_dates() -> None:
    rows = generate_schedule(terms(start=date(2024, 1, 10), first_due=date(2024, 1, 31), term_months=3))
    assert [row.period_end for row in rows] == [date(2024, 1, 31), date(2024, 2, 29), date(2024, 3, 31)]


def test_irregular_first_period_is_pro_rated_by_day_count() -> None:
    short = generate_schedule(terms(start=date(2024, 1, 10), first_due=date(2024, 1, 31)))
    # 21 days ACT/360: 100,000 × 0.0435 × 21 / 360 = 253.75
    assert short[0].interest == D("253.75")
    assert short[1].interest == round(short[0].balance * D("0.0435") / 12, 2)
    long = generate_schedule(terms(start=date(2024, 1, 10), first_due=date(2024, 3, 5)))
    # 55 days: 100,000 × 0.0435 × 55 / 360 = 664.583… → 664.58
    assert long[0].interest == D("664.58")
    assert long[0].total == D("8530.99")
    # a first due date a whole month after the start is a regular period
    regular = generate_schedule(terms(start=date(2024, 1, 10), first_due=date(2024, 2, 10)))
    assert regular[0].interest == D("362.50")


def test_irregular_first_period_longer_than_the_installment() -> None:
    rows = generate_schedule(
        terms(principal=D("100000"), annual_rate=D("0.12"), term_months=120, first_due=date(2025, 1, 15))
    )
    # a whole year of interest (12,000) exceeds the level payment: no principal
    assert rows[0].interest == D("12200.00")  # 100,000 × 12 % × 366 / 360
    assert rows[0].principal == ZERO
    assert rows[0].total == rows[0].interest
    assert rows[0].balance == D("100000.00")


def test_due_day_keeps_month_end_when_re_anchored() -> None:
    rows = generate_schedule(
        terms(start=date(2024, 1, 31), first_due=date(2024, 2, 29), due_day=31, term_months=3)
    )
    assert [row.period_end for row in rows] == [date(2024, 2, 29), date(2024, 3, 31), date(2024, 4, 30)]
    with pytest.raises(ValueError, match="due_day"):
        terms(first_due=date(2024, 2, 15), due_day=20)


def test_cn_holiday_moves_the_due_date_not_the_accrual() -> None:
    cn = china_calendar(2024, 2025)
    plain = generate_schedule(terms(start=date(2024, 9, 1)))
    adjusted = generate_schedule(terms(start=date(2024, 9, 1), calendar=cn))
    first = adjusted[0]
    assert first.period_end == date(2024, 10, 1)
    assert first.due_date == date(2024, 10, 8)
    assert adjusted[1].period_start == date(2024, 10, 1)
    assert [(r.principal, r.interest) for r in adjusted] == [(r.principal, r.interest) for r in plain]
    assert all(cn.is_business_day(row.due_date) for row in adjusted)


def test_holiday_rules() -> None:
    # 31 Aug 2024 is a Saturday
    base = terms(start=date(2024, 7, 31), term_months=1, calendar=WEEKENDS_ONLY)
    assert generate_schedule(base)[0].due_date == date(2024, 9, 2)
    assert generate_schedule(replace(base, holiday_rule="modified_following"))[0].due_date == date(
        2024, 8, 30
    )
    assert generate_schedule(replace(base, holiday_rule="preceding"))[0].due_date == date(2024, 8, 30)
    assert generate_schedule(replace(base, holiday_rule="none"))[0].due_date == date(2024, 8, 31)
    assert generate_schedule(replace(base, calendar=None))[0].due_date == date(2024, 8, 31)


# -- validation ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"term_months": 10, "frequency": "quarterly"}, "term_months"),
        ({"term_months": 18, "frequency": "annual"}, "term_months"),
        ({"term_months": 0}, "term_months"),
        ({"principal": D("0")}, "principal"),
        ({"principal": D("-5")}, "principal"),
        ({"principal": D("100.001")}, "principal"),
        ({"principal": D("NaN")}, "principal"),
        ({"annual_rate": D("-0.01")}, "annual_rate"),
        ({"method": "balloon"}, "method"),
        ({"frequency": "weekly"}, "frequency"),
        ({"day_count": "ACT/999"}, "day_count"),
        ({"interest_basis": "hourly"}, "interest_basis"),
        ({"holiday_rule": "nearest"}, "holiday_rule"),
        ({"first_due": date(2024, 1, 15)}, "first_due"),
        ({"first_due": date(2024, 1, 1)}, "first_due"),
        ({"due_day": 32}, "due_day"),
    ],
)
def test_terms_validation(overrides: dict[str, object], fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        terms(**overrides)


@pytest.mark.parametrize(
    "overrides",
    [
        {"principal": 100000.0},
        {"annual_rate": 0.0435},
        {"start": datetime(2024, 1, 15)},
        {"term_months": 12.0},
        {"calendar": "CN"},
    ],
)
def test_terms_refuse_wrong_types(overrides: dict[str, object]) -> None:
    with pytest.raises(TypeError):
        terms(**overrides)


def test_bullet_ignores_the_frequency_multiple() -> None:
    rows = generate_schedule(terms(method="bullet", term_months=7, frequency="quarterly"))
    assert len(rows) == 1
    assert rows[0].period_end == date(2024, 8, 15)


# -- re-amortisation -------------------------------------------------------------


def test_keep_term_lowers_the_installment() -> None:
    rows = generate_schedule(terms())
    # after installment 3, prepay 20,000
    balance = rows[2].balance - D("20000")
    new = remaining_schedule(
        balance, D("0.0435"), rows[2].period_end, 9, first_due=rows[3].period_end, first_number=4
    )
    assert len(new) == 9
    assert [row.number for row in new] == list(range(4, 13))
    assert [row.period_end for row in new] == [row.period_end for row in rows[3:]]
    assert new[0].total < rows[3].total
    assert new[0].total == level_payment(balance, D("0.0435"), 9)
    assert schedule_totals(new)[0] == balance


def test_keep_installment_shortens_the_term() -> None:
    rows = generate_schedule(terms())
    balance = rows[2].balance - D("20000")
    new = remaining_schedule(
        balance,
        D("0.0435"),
        rows[2].period_end,
        9,
        first_due=rows[3].period_end,
        fixed_installment=D("8530.99"),
    )
    assert len(new) == 7
    assert all(row.total == D("8530.99") for row in new[:-1])
    assert new[-1].total < D("8530.99")
    assert new[-1].balance == ZERO
    assert schedule_totals(new)[0] == balance


def test_keep_installment_refuses_an_installment_below_the_interest() -> None:
    with pytest.raises(ValueError, match="fixed_installment"):
        remaining_schedule(D("100000"), D("0.12"), date(2024, 1, 1), 12, fixed_installment=D("999.99"))
    with pytest.raises(ValueError, match="fixed_installment"):
        remaining_schedule(
            D("100000"),
            D("0.12"),
            date(2024, 1, 1),
            12,
            method="equal_principal",
            fixed_installment=D("5000"),
        )


def test_remaining_schedule_validates() -> None:
    with pytest.raises(ValueError, match="remaining_periods"):
        remaining_schedule(D("100"), D("0.01"), date(2024, 1, 1), 0)
    with pytest.raises(ValueError, match="principal"):
        remaining_schedule(D("0"), D("0.01"), date(2024, 1, 1), 3)


# -- manual schedules ------------------------------------------------------------


def test_manual_schedule() -> None:
    rows = manual_schedule(
        [
            {"due_date": "2024-02-15", "principal": "400", "interest": D("10.50")},
            {"due_date": date(2024, 3, 15), "principal": D("600.00"), "interest": "6", "total": "606.00"},
        ],
        principal=D("1000"),
        start=date(2024, 1, 15),
    )
    assert rows == [
        Installment(
            1,
            date(2024, 1, 15),
            date(2024, 2, 15),
            date(2024, 2, 15),
            D("400.00"),
            D("10.50"),
            D("410.50"),
            D("600.00"),
        ),
        Installment(
            2,
            date(2024, 2, 15),
            date(2024, 3, 15),
            date(2024, 3, 15),
            D("600.00"),
            D("6.00"),
            D("606.00"),
            ZERO,
        ),
    ]


@pytest.mark.parametrize(
    ("rows", "fragments"),
    [
        ([], ["row 1"]),
        (
            [
                {"due_date": "2024-03-15", "principal": "500", "interest": "0"},
                {"due_date": "2024-03-15", "principal": "500", "interest": "0"},
            ],
            ["row 2", "due_date"],
        ),
        ([{"due_date": "2024-01-10", "principal": "1000", "interest": "0"}], ["row 1", "due_date", "start"]),
        ([{"due_date": "15/03/2024", "principal": "1000", "interest": "0"}], ["row 1", "due_date"]),
        ([{"principal": "1000", "interest": "0"}], ["row 1", "due_date"]),
        (
            [{"due_date": "2024-03-15", "principal": "1000", "interest": "-1"}],
            ["row 1", "interest", "negative"],
        ),
        ([{"due_date": "2024-03-15", "principal": "1000.001", "interest": "0"}], ["row 1", "principal"]),
        ([{"due_date": "2024-03-15", "principal": 1000.0, "interest": "0"}], ["row 1", "principal"]),
        ([{"due_date": "2024-03-15", "principal": "1000"}], ["row 1", "interest"]),
        (
            [{"due_date": "2024-03-15", "principal": "1000", "interest": "1", "total": "1000"}],
            ["row 1", "total"],
        ),
        (
            [{"due_date": "2024-03-15", "principal": "999.99", "interest": "0"}],
            ["row 1", "principal", "999.99"],
        ),
        (
            [
                {"due_date": "2024-02-15", "principal": "800", "interest": "0"},
                {"due_date": "2024-03-15", "principal": "300", "interest": "0"},
            ],
            ["row 2", "principal", "exceeds"],
        ),
    ],
)
def test_manual_schedule_errors_name_row_and_field(
    rows: list[dict[str, object]], fragments: list[str]
) -> None:
    with pytest.raises(ValueError) as caught:
        manual_schedule(rows, principal=D("1000"), start=date(2024, 1, 15))
    for fragment in fragments:
        assert fragment in str(caught.value)


def test_schedule_totals_of_nothing() -> None:
    assert schedule_totals([]) == (ZERO, ZERO, ZERO)


# -- properties --------------------------------------------------------------------


@st.composite
def schedule_terms(draw: st.DrawFn, methods: tuple[str, ...] = METHODS) -> ScheduleTerms:
    method = draw(st.sampled_from(methods))
    frequency = draw(st.sampled_from(tuple(FREQUENCIES)))
    months = FREQUENCIES[frequency]
    periods = draw(st.integers(min_value=1, max_value=360 // months))
    start = draw(st.dates(min_value=date(2000, 1, 1), max_value=date(2060, 12, 31)))
    first_due = None
    if draw(st.booleans()):
        first_due = start + timedelta(days=draw(st.integers(min_value=1, max_value=120)))
    return ScheduleTerms(
        principal=from_fen(draw(st.integers(min_value=1, max_value=10**12))),
        annual_rate=D(draw(st.integers(min_value=0, max_value=3600))) / 10000,
        term_months=periods * months,
        start=start,
        method=method,
        frequency=frequency,
        first_due=first_due,
        day_count=draw(st.sampled_from(DAY_COUNTS)),
        interest_basis=draw(st.sampled_from(("period", "daily"))),
        calendar=draw(st.sampled_from((None, WEEKENDS_ONLY))),
        holiday_rule=draw(st.sampled_from(("following", "modified_following", "preceding"))),
    )


PROPERTY_SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY_SETTINGS
@given(schedule_terms())
def test_schedule_invariants(t: ScheduleTerms) -> None:
    rows = generate_schedule(t)
    principal = t.principal
    # principal is repaid exactly
    assert sum(row.principal for row in rows) == principal
    # one installment per period, one for bullet
    assert len(rows) == (1 if t.method == "bullet" else t.term_months // FREQUENCIES[t.frequency])
    assert [row.number for row in rows] == list(range(1, len(rows) + 1))
    previous_balance = principal
    previous_end = t.start
    for row in rows:
        assert row.interest >= 0
        assert row.principal >= 0
        assert row.total == row.principal + row.interest
        assert row.balance >= 0
        assert row.balance <= previous_balance
        assert row.balance == previous_balance - row.principal
        assert row.period_start == previous_end < row.period_end
        for amount in (row.principal, row.interest, row.total, row.balance):
            assert amount.as_tuple().exponent == -2
        previous_balance, previous_end = row.balance, row.period_end
    assert rows[-1].balance == 0
    # adjusted due dates are business days and strictly increasing
    if t.calendar is not None:
        assert all(t.calendar.is_business_day(row.due_date) for row in rows)
    assert all(a.due_date < b.due_date for a, b in zip(rows, rows[1:], strict=False))


@PROPERTY_SETTINGS
@given(schedule_terms(methods=("equal_installment",)))
def test_equal_installment_totals_are_level(t: ScheduleTerms) -> None:
    rows = generate_schedule(t)
    level = level_payment(t.principal, t.annual_rate, len(rows), FREQUENCIES[t.frequency])
    balance = t.principal
    for row in rows[:-1]:
        if row.interest <= level and level - row.interest <= balance:
            assert row.total == level
        elif row.interest > level:  # long irregular first period
            assert row.principal == 0
        else:  # degenerate: the level payment exceeds what is left
            assert row.balance == 0
        balance = row.balance


def _exact_level(principal: Decimal, annual_rate: Decimal, periods: int, months: int) -> Fraction:
    r = Fraction(annual_rate) * months / 12
    if r == 0:
        return Fraction(principal) / periods
    growth = (1 + r) ** periods
    return Fraction(principal) * r * growth / (growth - 1)


def _accumulation_factor(annual_rate: Decimal, periods: int, months: int) -> Fraction:
    """s_n = 1 + (1+r) + … + (1+r)^(n-1)."""
    r = Fraction(annual_rate) * months / 12
    if r == 0:
        return Fraction(periods)
    return ((1 + r) ** periods - 1) / r


@settings(max_examples=150, deadline=None)
@given(
    st.integers(min_value=100_000, max_value=10**11),  # 1,000.00 to 1,000,000,000.00
    st.integers(min_value=0, max_value=3600),
    st.sampled_from(tuple(FREQUENCIES)),
    st.integers(min_value=1, max_value=360),
    st.dates(min_value=date(2000, 1, 1), max_value=date(2060, 12, 31)),
)
def test_last_equal_installment_bound(
    principal_fen: int, rate_bp: int, frequency: str, periods: int, start: date
) -> None:
    """Bound on how far the last installment T_n is from the level payment A.

    With A* the exact annuity, δ = A − A*, e_k the rounding of period k's
    interest (|e_k| ≤ ½ fen) and balances B_k, B_k − B*_k = Σ (e_j − δ)(1+r)^(k−j),
    so T_n − A = Σ_{k=1..n} (e_k − δ)(1+r)^(n−k) and
        |T_n − A| ≤ (|δ| + 0.005) · s_n,   s_n = ((1+r)^n − 1) / r,
    provided no installment was clamped (none is, for these inputs: the
    interest never exceeds A because balances only fall, and the balance does
    not reach zero early).  For 12 monthly periods at 4.35 % s_n ≈ 12.2, so the
    bound is about 12 fen; for 360 periods it grows to several yuan even
    though the observed differences are far smaller.
    """
    months = FREQUENCIES[frequency]
    periods = max(1, periods // months)
    principal = from_fen(principal_fen)
    rate = D(rate_bp) / 10000
    t = ScheduleTerms(
        principal=principal, annual_rate=rate, term_months=periods * months, start=start, frequency=frequency
    )
    rows = generate_schedule(t)
    level = level_payment(principal, rate, periods, months)
    assume(all(row.balance > 0 for row in rows[:-1]))
    assert all(row.total == level for row in rows[:-1])
    delta = abs(Fraction(level) - _exact_level(principal, rate, periods, months))
    assert delta <= Fraction(1, 200)
    bound = (delta + Fraction(1, 200)) * _accumulation_factor(rate, periods, months)
    assert abs(Fraction(rows[-1].total) - Fraction(level)) <= bound


def test_last_installment_bound_for_the_known_value() -> None:
    rows = generate_schedule(terms())
    bound = (Fraction(1, 200) * 2) * _accumulation_factor(D("0.0435"), 12, 1)
    assert abs(Fraction(rows[-1].total - rows[0].total)) <= bound
    assert rows[-1].total - rows[0].total == D("0.02")


@st.composite
def prepayments(draw: st.DrawFn) -> tuple[ScheduleTerms, int, int]:
    frequency = draw(st.sampled_from(tuple(FREQUENCIES)))
    months = FREQUENCIES[frequency]
    periods = draw(st.integers(min_value=2, max_value=max(2, 360 // months)))
    t = ScheduleTerms(
        principal=from_fen(draw(st.integers(min_value=100_000, max_value=10**11))),
        annual_rate=D(draw(st.integers(min_value=0, max_value=3600))) / 10000,
        term_months=periods * months,
        start=draw(st.dates(min_value=date(2000, 1, 1), max_value=date(2060, 12, 31))),
        frequency=frequency,
        day_count=draw(st.sampled_from(DAY_COUNTS)),
        interest_basis=draw(st.sampled_from(("period", "daily"))),
    )
    after = draw(st.integers(min_value=1, max_value=periods - 1))
    share = draw(st.integers(min_value=1, max_value=999))  # prepaid, in thousandths of the balance
    return t, after, share


@PROPERTY_SETTINGS
@given(prepayments())
def test_keep_installment_never_lengthens_the_term(case: tuple[ScheduleTerms, int, int]) -> None:
    t, after, share = case
    rows = generate_schedule(t)
    level = rows[0].total
    balance_fen = int(rows[after - 1].balance * 100)
    assume(balance_fen >= 2)
    new_balance = from_fen(max(1, balance_fen - max(1, balance_fen * share // 1000)))
    remaining = len(rows) - after
    new = remaining_schedule(
        new_balance,
        t.annual_rate,
        rows[after - 1].period_end,
        remaining,
        frequency=t.frequency,
        first_due=rows[after].period_end,
        due_day=t.start.day,
        day_count=t.day_count,
        interest_basis=t.interest_basis,
        fixed_installment=level,
    )
    assert 1 <= len(new) <= remaining
    # the original due-date grid is kept
    assert [row.period_end for row in new] == [row.period_end for row in rows[after : after + len(new)]]
    assert sum(row.principal for row in new) == new_balance
    assert new[-1].balance == 0
    for row in new[:-1]:
        # level, unless a (daily-basis) period's interest exceeds it
        assert row.total == level or (row.principal == 0 and row.interest > level)
    # the last installment is no larger than the original schedule's last
    assert new[-1].total <= max(level, rows[-1].total)


@PROPERTY_SETTINGS
@given(prepayments())
def test_keep_term_keeps_the_count(case: tuple[ScheduleTerms, int, int]) -> None:
    t, after, share = case
    rows = generate_schedule(t)
    balance_fen = int(rows[after - 1].balance * 100)
    assume(balance_fen >= 2)
    new_balance = from_fen(max(1, balance_fen - max(1, balance_fen * share // 1000)))
    new = remaining_schedule(
        new_balance,
        t.annual_rate,
        rows[after - 1].period_end,
        len(rows) - after,
        frequency=t.frequency,
        first_due=rows[after].period_end,
        due_day=t.start.day,
        day_count=t.day_count,
        interest_basis=t.interest_basis,
    )
    assert len(new) == len(rows) - after
    assert sum(row.principal for row in new) == new_balance
