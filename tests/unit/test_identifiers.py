"""Tests for postloan.customers.identifiers: USCC (GB 32100) and resident ID (GB 11643) numbers."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postloan.customers.identifiers import (
    EARLIEST_BIRTH_DATE,
    FEMALE,
    MALE,
    USCC_ALPHABET,
    birth_date_of,
    gender_of,
    make_resident_id,
    make_uscc,
    organization_code_check_char,
    resident_id_check_char,
    uscc_check_char,
    validate_resident_id,
    validate_uscc,
)

DIGITS = "0123456789"
TODAY = date(2025, 6, 30)

seeds = st.integers(min_value=0, max_value=2**32 - 1)
regions = st.text(alphabet=DIGITS, min_size=6, max_size=6)
positions = st.integers(min_value=0, max_value=17)
picks = st.integers(min_value=0, max_value=100)


def _other(allowed: str, char: str, index: int) -> str:
    """A character of ``allowed`` other than ``char``, picked by ``index``."""
    choices = [c for c in allowed if c != char]
    return choices[index % len(choices)]


# --- unified social credit code ------------------------------------------------------------------


def test_alphabet_is_the_31_characters_of_gb_32100() -> None:
    assert len(USCC_ALPHABET) == 31
    assert not set("IOSVZ") & set(USCC_ALPHABET)
    assert set(USCC_ALPHABET) == set(DIGITS + "ABCDEFGHJKLMNPQRTUWXY")


@pytest.mark.parametrize(
    "code",
    [
        # Widely cited example (Fuzhou, organisation code M000100Y4): both check characters agree.
        "91350100M000100Y43",
        # The example in python-stdnum's cn.uscc documentation (organisation code 60003734-1).
        "91110000600037341L",
    ],
)
def test_known_valid_uscc(code: str) -> None:
    assert validate_uscc(code) == code


def test_uscc_check_characters_worked_by_hand() -> None:
    # Organisation code body M000100Y: M=22, Y=34 (GB 11714 values A=10 ... Z=35)
    # 22*3 + 1*5 + 34*2 = 139; 139 mod 11 = 7; 11 - 7 = 4.
    assert organization_code_check_char("M000100Y") == "4"
    assert organization_code_check_char("60003734") == "1"
    assert uscc_check_char("91350100M000100Y4") == "3"
    assert uscc_check_char("91110000600037341") == "L"


def test_organization_code_check_char_special_values() -> None:
    assert organization_code_check_char("00000000") == "0"  # sum 0 -> 11 - 0 = 11 -> "0"
    assert organization_code_check_char("00000006") == "X"  # 6*2 = 12 = 1 mod 11 -> 10 -> "X"
    assert organization_code_check_char("00000002") == "7"  # 2*2 = 4 -> 7
    with pytest.raises(ValueError):
        organization_code_check_char("0000000")


def test_uscc_normalised() -> None:
    assert validate_uscc("  91350100m000100y43\n") == "91350100M000100Y43"


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("", "Enter the 18-character"),
        ("   ", "Enter the 18-character"),
        ("91350100M000100Y4", "has 18 characters; this one has 17"),
        ("91350100M000100Y433", "has 18 characters; this one has 19"),
        ("91350100M000100Y44", "check character (character 18)"),
        ("91350100M000100Y4A", "check character (character 18)"),
        ("91350100M000100Y33", "organisation code in characters 9-17"),
        ("9135010OM000100Y43", "Character 8 ('O') cannot appear"),
        ("91350100M000100I43", "Character 16 ('I') cannot appear"),
        ("91350100M000100Y4Z", "Character 18 ('Z') cannot appear"),
        ("91350100M000-00Y43", "Character 13 ('-') cannot appear"),
        ("913501００M000100Y43", "Character 7 ('０') cannot appear"),
        ("913501A0M000100Y43", "Characters 3-8"),
    ],
)
def test_invalid_uscc(code: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        validate_uscc(code)


def test_non_string_uscc_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="must be text"):
        validate_uscc(None)  # type: ignore[arg-type]


def test_organization_code_check_can_be_skipped() -> None:
    # A code whose final check character is right for a wrong organisation-code check character.
    first17 = "91350100M000100Y3"
    code = first17 + uscc_check_char(first17)
    with pytest.raises(ValueError, match="organisation code"):
        validate_uscc(code)
    assert validate_uscc(code, check_organization_code=False) == code


def test_letters_allowed_in_first_two_positions() -> None:
    first17 = "Y1110108MA01ABCD"
    first17 += organization_code_check_char(first17[8:16])
    code = first17 + uscc_check_char(first17)
    assert validate_uscc(code) == code


@given(seed=seeds, region=regions)
def test_generated_uscc_validates(seed: int, region: str) -> None:
    code = make_uscc(random.Random(seed), region)
    assert validate_uscc(code) == code
    assert code[2:8] == region
    assert code[:2] == "91"


def test_make_uscc_is_deterministic_and_varied() -> None:
    first = [make_uscc(random.Random(7)) for _ in range(3)]
    assert len(set(first)) == 1
    rng = random.Random(7)
    codes = {make_uscc(rng) for _ in range(200)}
    assert len(codes) == 200
    assert any(code[8:10] == "MA" for code in codes)
    assert any(code[8:16].isdigit() for code in codes)
    assert any(code[16] in "X0" for code in codes)  # the special values of the inner check do occur


def test_make_uscc_prefix_and_bad_arguments() -> None:
    assert make_uscc(random.Random(1), "350100", prefix="92")[:8] == "92350100"
    with pytest.raises(ValueError, match="six digits"):
        make_uscc(random.Random(1), "11010")
    with pytest.raises(ValueError, match="prefix"):
        make_uscc(random.Random(1), prefix="9I")


@given(seed=seeds, position=positions, pick=picks)
def test_any_single_substitution_in_uscc_is_detected(seed: int, position: int, pick: int) -> None:
    code = make_uscc(random.Random(seed))
    allowed = DIGITS if 2 <= position <= 7 else USCC_ALPHABET
    mutated = code[:position] + _other(allowed, code[position], pick) + code[position + 1 :]
    with pytest.raises(ValueError):
        validate_uscc(mutated)
    # The final MOD 31 check alone detects it too: every weight is invertible mod 31.
    with pytest.raises(ValueError, match="character 18"):
        validate_uscc(mutated, check_organization_code=False)


# --- resident identity card number ---------------------------------------------------------------


def test_known_valid_resident_id() -> None:
    # The example printed in GB 11643-1999 itself: born 1949-12-31, sequence 002 (even: female).
    assert validate_resident_id("11010519491231002X", today=TODAY) == "11010519491231002X"
    assert validate_resident_id(" 11010519491231002x ", today=TODAY) == "11010519491231002X"
    assert birth_date_of("11010519491231002X") == date(1949, 12, 31)
    assert gender_of("11010519491231002X") == FEMALE


def test_resident_id_check_character_worked_by_hand() -> None:
    # 1*7 + 1*9 + 0*10 + 1*5 + 0*8 + 5*4 + 1*2 + 9*1 + 4*6
    #   + 9*3 + 1*7 + 2*9 + 3*10 + 1*5 + 0*8 + 0*4 + 2*2 = 167
    # 167 mod 11 = 2 -> "10X98765432"[2] = "X"
    assert resident_id_check_char("11010519491231002") == "X"


@pytest.mark.parametrize(
    ("number", "message"),
    [
        ("", "Enter the 18-character"),
        ("11010519491231002", "has 18 characters; this one has 17"),
        ("11010519491231002XX", "has 18 characters; this one has 19"),
        ("110105491231002", "15-digit first-generation"),
        ("110105194912310021", r"should be 'X', not '1'"),
        ("11010519491231003X", "check character"),
        ("1101051949123100AX", r"Character 17 \('A'\) of a resident identity card number must be a digit"),
        ("X10105194912310021", r"Character 1 \('X'\)"),
        ("11010519491231002Y", r"last character .* must be a digit or X; got 'Y'"),
        ("110105194902300021", "19490230 is not a date"),
        ("110105194913010021", "19491301 is not a date"),
        ("110105190002290021", "19000229 is not a date"),  # 1900 was not a leap year
        ("110105000001010021", "00000101 is not a date"),
        ("110105189912310021", "is before 1900-01-01"),
        ("110105202507010021", r"\(2025-07-01\) is in the future"),
    ],
)
def test_invalid_resident_id(number: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate_resident_id(number, today=TODAY)


def test_invalid_resident_id_messages_name_the_date_check_even_with_a_right_check_character() -> None:
    first17 = "11010520250701002"
    number = first17 + resident_id_check_char(first17)
    with pytest.raises(ValueError, match="in the future"):
        validate_resident_id(number, today=TODAY)
    assert validate_resident_id(number, today=date(2025, 7, 1)) == number  # born today is fine


def test_leap_day_birth() -> None:
    first17 = "11010520000229001"
    number = first17 + resident_id_check_char(first17)
    assert birth_date_of(number) == date(2000, 2, 29)
    assert gender_of(number) == MALE


def test_today_defaults_to_the_real_date() -> None:
    tomorrow = date.today() + timedelta(days=1)
    first17 = f"110105{tomorrow:%Y%m%d}002"
    with pytest.raises(ValueError, match="in the future"):
        validate_resident_id(first17 + resident_id_check_char(first17))


@given(
    seed=seeds,
    region=regions,
    birth=st.one_of(st.none(), st.dates(min_value=EARLIEST_BIRTH_DATE, max_value=TODAY)),
    male=st.one_of(st.none(), st.booleans()),
)
def test_generated_resident_id_validates(
    seed: int, region: str, birth: date | None, male: bool | None
) -> None:
    number = make_resident_id(random.Random(seed), region, birth, male)
    assert validate_resident_id(number, today=TODAY) == number
    assert number[:6] == region
    assert number[14:17] != "000"
    if birth is not None:
        assert birth_date_of(number) == birth
    else:
        assert date(1950, 1, 1) <= birth_date_of(number) <= date(2000, 12, 31)
    if male is not None:
        assert gender_of(number) == (MALE if male else FEMALE)


def test_make_resident_id_is_deterministic_and_varied() -> None:
    assert len({make_resident_id(random.Random(3)) for _ in range(3)}) == 1
    rng = random.Random(3)
    numbers = [make_resident_id(rng) for _ in range(300)]
    assert len(set(numbers)) == 300
    assert {gender_of(number) for number in numbers} == {MALE, FEMALE}
    assert any(number.endswith("X") for number in numbers)


def test_make_resident_id_bad_arguments() -> None:
    with pytest.raises(ValueError, match="six digits"):
        make_resident_id(random.Random(1), "11010A")
    with pytest.raises(ValueError, match="between"):
        make_resident_id(random.Random(1), birth=date(1899, 12, 31))
    with pytest.raises(ValueError, match="between"):
        make_resident_id(random.Random(1), birth=date.today() + timedelta(days=1))


@given(seed=seeds, position=positions, pick=picks)
def test_any_single_substitution_in_resident_id_is_detected(seed: int, position: int, pick: int) -> None:
    number = make_resident_id(random.Random(seed))
    allowed = DIGITS + "X" if position == 17 else DIGITS
    mutated = number[:position] + _other(allowed, number[position], pick) + number[position + 1 :]
    with pytest.raises(ValueError):
        validate_resident_id(mutated, today=TODAY)


def test_birth_date_and_gender_of_reject_invalid_numbers() -> None:
    with pytest.raises(ValueError):
        birth_date_of("110105194912310021")
    with pytest.raises(ValueError):
        gender_of("110105194912310021")
