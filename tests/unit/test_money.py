"""Tests for postloan.kernel.money: exact, half-up money."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postloan.kernel.money import (
    CENT,
    allocate_proportionally,
    format_amount,
    from_fen,
    parse_amount,
    round_half_up,
    to_fen,
)


def test_cent() -> None:
    assert CENT == Decimal("0.01")


@pytest.mark.parametrize(
    ("value", "places", "expected"),
    [
        ("0.125", 2, "0.13"),  # half-even would give 0.12
        ("0.135", 2, "0.14"),
        ("-0.125", 2, "-0.13"),  # away from zero on a tie
        ("2.5", 0, "3"),
        ("1.2345", 3, "1.235"),
        ("0.004", 2, "0.00"),
        ("0.005", 2, "0.01"),
        ("100", 2, "100.00"),
    ],
)
def test_round_half_up(value: str, places: int, expected: str) -> None:
    result = round_half_up(Decimal(value), places)
    assert result == Decimal(expected)
    assert str(result) == expected


def test_round_half_up_large_value_needs_no_context_change() -> None:
    big = Decimal("123456789012345678901234567890.125")
    assert round_half_up(big) == Decimal("123456789012345678901234567890.13")


def test_round_half_up_refuses_float() -> None:
    with pytest.raises(TypeError):
        round_half_up(0.125)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "fen"),
    [
        (Decimal("1.005"), 101),
        (Decimal("1.004"), 100),
        ("1234.56", 123456),
        (" 0.015 ", 2),
        (5, 500),
        (Decimal("-1.005"), -101),
        (0, 0),
    ],
)
def test_to_fen(value: Decimal | str | int, fen: int) -> None:
    assert to_fen(value) == fen


@pytest.mark.parametrize("value", [1.5, True])
def test_to_fen_refuses_float_and_bool(value: object) -> None:
    with pytest.raises(TypeError):
        to_fen(value)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["abc", "", Decimal("NaN"), Decimal("Infinity"), "inf"])
def test_to_fen_refuses_non_numbers(value: object) -> None:
    with pytest.raises(ValueError):
        to_fen(value)  # type: ignore[arg-type]


def test_from_fen_has_two_places() -> None:
    assert str(from_fen(123456)) == "1234.56"
    assert str(from_fen(100)) == "1.00"
    assert str(from_fen(0)) == "0.00"
    assert str(from_fen(-5)) == "-0.05"


def test_from_fen_refuses_non_int() -> None:
    with pytest.raises(TypeError):
        from_fen(Decimal("1"))  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        from_fen(1.0)  # type: ignore[arg-type]


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_fen_round_trip(fen: int) -> None:
    assert to_fen(from_fen(fen)) == fen


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1234.56", "1234.56"),
        (" 12.3 ", "12.30"),
        ("1,234.56", "1234.56"),
        ("1,234,567", "1234567.00"),
        ("1.500", "1.50"),  # trailing zeros lose nothing
        ("+7", "7.00"),
        (".5", "0.50"),
    ],
)
def test_parse_amount_accepts(text: str, expected: str) -> None:
    result = parse_amount(text)
    assert str(result) == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "required"),
        ("   ", "required"),
        ("abc", "not a number"),
        ("12a", "not a number"),
        ("1e3", "not a number"),
        ("1_000", "not a number"),
        ("1,5", "not a number"),
        ("12,34.00", "not a number"),
        ("NaN", "NaN"),
        ("-Infinity", "NaN and Infinity"),
        ("inf", "NaN and Infinity"),
        ("1.005", "more than 2 decimal places"),
        ("-1.00", "negative"),
        ("0", "zero"),
        ("0.00", "zero"),
        ("-0", "zero"),
    ],
)
def test_parse_amount_refuses_and_names_the_field(text: str, fragment: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_amount(text, field="repayment")
    message = str(caught.value)
    assert message.startswith("repayment")
    assert fragment in message


def test_parse_amount_options() -> None:
    assert str(parse_amount("0", allow_zero=True)) == "0.00"
    assert str(parse_amount("-0.00", allow_zero=True)) == "0.00"
    assert parse_amount("-3.10", allow_negative=True) == Decimal("-3.10")


def test_parse_amount_default_field_name() -> None:
    with pytest.raises(ValueError, match="^amount"):
        parse_amount("x")


def test_parse_amount_refuses_non_text() -> None:
    with pytest.raises(TypeError):
        parse_amount(1.5)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fen", "text"),
    [
        (123456, "1,234.56"),
        (0, "0.00"),
        (5, "0.05"),
        (-5, "-0.05"),
        (100000000, "1,000,000.00"),
        (-123456789, "-1,234,567.89"),
    ],
)
def test_format_amount(fen: int, text: str) -> None:
    assert format_amount(fen) == text


@given(st.integers(min_value=-(10**14), max_value=10**14))
def test_format_then_parse_round_trips(fen: int) -> None:
    parsed = parse_amount(format_amount(fen), allow_zero=True, allow_negative=True)
    assert to_fen(parsed) == fen


def test_allocate_largest_remainder() -> None:
    assert allocate_proportionally(100, [1, 1, 1]) == [34, 33, 33]
    assert allocate_proportionally(10, [5, 3, 2]) == [5, 3, 2]
    # exact shares 2.5, 1.5, 1.0 → remainders tie; the earlier weight wins
    assert allocate_proportionally(5, [5, 3, 2]) == [3, 1, 1]
    assert allocate_proportionally(0, [1, 2]) == [0, 0]
    assert allocate_proportionally(7, [0, 1]) == [0, 7]
    assert allocate_proportionally(-100, [1, 1, 1]) == [-34, -33, -33]


@pytest.mark.parametrize(
    ("total", "weights", "error"),
    [
        (10, [], ValueError),
        (10, [0, 0], ValueError),
        (10, [1, -1], ValueError),
        (10, [1.0], TypeError),
    ],
)
def test_allocate_refuses(total: int, weights: list, error: type[Exception]) -> None:
    with pytest.raises(error):
        allocate_proportionally(total, weights)


@given(
    st.integers(min_value=-(10**12), max_value=10**12),
    st.lists(st.integers(min_value=0, max_value=10**9), min_size=1, max_size=30).filter(any),
)
def test_allocate_sums_exactly_and_stays_within_one_fen(total: int, weights: list[int]) -> None:
    parts = allocate_proportionally(total, weights)
    assert sum(parts) == total
    weight_sum = sum(weights)
    for part, weight in zip(parts, weights, strict=True):
        exact = total * weight / weight_sum
        assert abs(part - exact) < 1
        if weight == 0:
            assert part == 0
