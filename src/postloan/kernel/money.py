"""Exact money arithmetic.

Why this module exists: a bank ledger must reconcile to the fen.  Binary
floats cannot represent 0.10 exactly and Python's ``round`` rounds half to
even, so both are banned here.  Amounts are *stored* as integer minor units
(fen, 1/100 of a yuan) and *computed* with :class:`decimal.Decimal`; every
rounding is half-up to the cent (DOMAIN.md §1: "half-up to the minor unit
(0.01) per installment and per posting").

Nothing in this module imports Django, so the schedule engine, the CLI and
the close-of-business jobs can all share it.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation

__all__ = [
    "CENT",
    "allocate_proportionally",
    "format_amount",
    "from_fen",
    "parse_amount",
    "round_half_up",
    "to_fen",
]

#: One fen, the minor unit of the renminbi and the quantum of every posting.
CENT = Decimal("0.01")

# A plain decimal number: optional sign, digits, optional fraction.  No
# exponent ("1e3"), no underscores ("1_000") and no spaces inside: Decimal()
# accepts those, but a teller typing them has almost certainly made a typo.
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")
# Thousands separators are accepted only when correctly grouped, so that the
# output of format_amount() parses back, while "1,5" (a European decimal
# comma) is refused instead of being read as fifteen.
_GROUPED_NUMBER = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?")
_NON_FINITE = re.compile(r"[+-]?(?:nan|snan|inf|infinity)", re.IGNORECASE)


def _check_decimal(value: object, what: str) -> Decimal:
    """Return ``value`` as a finite Decimal; refuse floats loudly.

    Floats are refused (TypeError, not ValueError) because accepting them
    would hide a programming error: ``Decimal(0.1)`` is
    0.1000000000000000055511151231257827...
    """
    if isinstance(value, bool):
        raise TypeError(f"{what}: bool is not an amount")
    if isinstance(value, float):
        raise TypeError(f"{what}: float is not accepted for money, use Decimal or str")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(f"{what}: {value!r} is not a number") from None
    else:
        raise TypeError(f"{what}: unsupported type {type(value).__name__}")
    if not result.is_finite():
        raise ValueError(f"{what}: {value!r} is not a finite number")
    return result


def round_half_up(value: Decimal, places: int = 2) -> Decimal:
    """Round ``value`` half-up (away from zero on a tie) to ``places`` decimals.

    Why not ``round()`` or the default Decimal context: both round half to
    even (banker's rounding), which is not what Chinese bank practice or the
    domain rules prescribe: 0.125 must become 0.13, and -0.125 -0.13.

    The quantize runs in a context wide enough for the value, so a large
    amount never raises InvalidOperation for lack of precision.
    """
    value = _check_decimal(value, "round_half_up")
    exponent = Decimal(1).scaleb(-places)
    digits = max(value.adjusted(), 0) + places + 2
    context = Context(prec=max(28, digits), rounding=ROUND_HALF_UP)
    return value.quantize(exponent, rounding=ROUND_HALF_UP, context=context)


def to_fen(value: Decimal | str | int) -> int:
    """Convert an amount in yuan to integer fen, rounding half-up to the cent.

    ``int`` means whole yuan (``to_fen(5) == 500``).  Floats raise TypeError.
    """
    amount = round_half_up(_check_decimal(value, "to_fen"), 2)
    return int(amount.scaleb(2))


def from_fen(fen: int) -> Decimal:
    """Convert integer fen back to a Decimal amount with exactly two places."""
    if isinstance(fen, bool) or not isinstance(fen, int):
        raise TypeError(f"from_fen: expected int fen, got {type(fen).__name__}")
    return Decimal(fen).scaleb(-2)


def parse_amount(
    text: str,
    *,
    field: str = "amount",
    allow_zero: bool = False,
    allow_negative: bool = False,
) -> Decimal:
    """Parse a user-entered amount, refusing anything that is not exact money.

    Every error is a ValueError whose message starts with ``field`` so that a
    form or CLI can show it next to the right input.  Refused: empty text,
    non-numbers (including exponent notation), NaN and Infinity, amounts that
    are not a whole number of fen (more than two significant decimal places:
    "1.005" is refused, while "1.500" is accepted as 1.50 because it loses
    nothing), negatives (unless ``allow_negative``) and zero (unless
    ``allow_zero``).  Correctly grouped thousands separators ("1,234.56") are
    accepted so that :func:`format_amount` output round-trips.

    Returns the amount quantized to two places; zero is returned as 0.00,
    never -0.00.
    """
    if not isinstance(text, str):
        raise TypeError(f"{field}: expected text, got {type(text).__name__}")
    stripped = text.strip()
    if not stripped:
        raise ValueError(f"{field}: an amount is required")
    if _NON_FINITE.fullmatch(stripped):
        raise ValueError(f"{field}: {text!r} is not a finite amount (NaN and Infinity are refused)")
    if _GROUPED_NUMBER.fullmatch(stripped):
        stripped = stripped.replace(",", "")
    elif not _PLAIN_NUMBER.fullmatch(stripped):
        raise ValueError(f"{field}: {text!r} is not a number")
    value = Decimal(stripped)
    quantized = round_half_up(value, 2)
    if quantized != value:
        raise ValueError(f"{field}: {text!r} has more than 2 decimal places")
    if value == 0:
        if not allow_zero:
            raise ValueError(f"{field}: must not be zero")
        return Decimal("0.00")
    if value < 0 and not allow_negative:
        raise ValueError(f"{field}: must not be negative")
    return quantized


def format_amount(fen: int) -> str:
    """Format integer fen for display: ``123456`` → ``"1,234.56"``.

    Takes fen rather than a Decimal so that display can never round: the
    value shown is exactly the value stored.
    """
    if isinstance(fen, bool) or not isinstance(fen, int):
        raise TypeError(f"format_amount: expected int fen, got {type(fen).__name__}")
    sign = "-" if fen < 0 else ""
    yuan, cents = divmod(abs(fen), 100)
    return f"{sign}{yuan:,}.{cents:02d}"


def allocate_proportionally(total_fen: int, weights: list[int]) -> list[int]:
    """Split ``total_fen`` across ``weights`` so the parts sum exactly to the total.

    Largest-remainder (Hamilton) method: each part first gets the floor of its
    exact share, then the fen left over go one each to the parts with the
    largest fractional remainders; ties go to the earlier weight, so the
    result is deterministic.  Used wherever one posting must be spread over
    several buckets (a repayment over installments, a fee over loans) without
    creating or losing a fen.

    A negative total is split as the negation of splitting its absolute value
    (so reversals mirror the original allocation).  Weights must be
    non-negative integers with a positive sum.
    """
    if isinstance(total_fen, bool) or not isinstance(total_fen, int):
        raise TypeError("allocate_proportionally: total_fen must be int")
    if not weights:
        raise ValueError("allocate_proportionally: weights must not be empty")
    for index, weight in enumerate(weights):
        if isinstance(weight, bool) or not isinstance(weight, int):
            raise TypeError(f"allocate_proportionally: weight {index} must be int")
        if weight < 0:
            raise ValueError(f"allocate_proportionally: weight {index} is negative")
    weight_sum = sum(weights)
    if weight_sum == 0:
        raise ValueError("allocate_proportionally: weights sum to zero")
    if total_fen < 0:
        return [-part for part in allocate_proportionally(-total_fen, weights)]
    parts: list[int] = []
    remainders: list[tuple[int, int]] = []
    for index, weight in enumerate(weights):
        share, remainder = divmod(total_fen * weight, weight_sum)
        parts.append(share)
        remainders.append((-remainder, index))
    leftover = total_fen - sum(parts)
    for _, index in sorted(remainders)[:leftover]:
        parts[index] += 1
    return parts
