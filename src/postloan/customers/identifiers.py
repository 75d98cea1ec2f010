"""Chinese identifiers of customers: unified social credit codes and resident identity card numbers.

* Unified social credit code (统一社会信用代码, GB 32100-2015), the identifier of every legal person and
  other organisation: 18 characters from the 31-character set ``0-9 A-Z`` without ``I O S V Z``::

      9 1 110108 MA01ABCD X Y
      | | |      |        | +-- 18     check character, MOD 31 over characters 1-17
      | | |      |        +---- 17     check character of the organisation code (GB 11714)
      | | |      +------------- 9-16   organisation code body (主体标识码)
      | | +-------------------- 3-8    administrative division of the registration authority (digits)
      | +---------------------- 2      organisation type (机构类别), meaning depends on the authority
      +------------------------ 1      registration authority (登记管理部门): 1 机构编制, 5 民政, 9 市场监管, Y 其他 ...

  Positions 1 and 2 are only checked against the character set: the list of authorities has grown since
  2015 and a closed table would reject real codes.

* Resident identity card number (公民身份号码, GB 11643-1999): 17 digits and a check character::

      110105 19491231 002 X
      |      |        |   +-- 18     check character, ISO 7064 MOD 11-2 ("X" stands for 10)
      |      |        +------ 15-17  sequence code; the 17th digit is odd for men, even for women
      |      +--------------- 7-14   date of birth, YYYYMMDD
      +---------------------- 1-6    administrative division of the permanent residence (digits)

  The 15-digit first-generation number is not accepted.

Validators return the normalised form (surrounding whitespace removed, letters upper-cased) and raise
``ValueError`` with an English message saying what is wrong.  The ``make_*`` functions generate
valid-format identifiers for demo and test data; they are not real identifiers of anyone.

Pure Python: no Django import.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

__all__ = [
    "EARLIEST_BIRTH_DATE",
    "FEMALE",
    "MALE",
    "USCC_ALPHABET",
    "birth_date_of",
    "gender_of",
    "make_resident_id",
    "make_uscc",
    "organization_code_check_char",
    "resident_id_check_char",
    "uscc_check_char",
    "validate_resident_id",
    "validate_uscc",
]

_DIGITS = frozenset("0123456789")

# --- unified social credit code ------------------------------------------------------------------

#: The 31 characters of GB 32100-2015, in the order of their values 0-30.
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUE = {char: value for value, char in enumerate(USCC_ALPHABET)}
_USCC_CHARS = frozenset(USCC_ALPHABET)
#: Weights of characters 1-17: 3**(i-1) mod 31.
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
#: Weights of the eight body characters of a GB 11714-1997 organisation code.
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_USCC = "unified social credit code"


def uscc_check_char(first17: str) -> str:
    """The 18th character of a unified social credit code from its first 17 (already valid characters)."""
    if len(first17) != 17 or not _USCC_CHARS.issuperset(first17):
        raise ValueError(f"Expected the first 17 characters of a {_USCC}, got {first17!r}.")
    total = sum(_USCC_VALUE[char] * weight for char, weight in zip(first17, _USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[-total % 31]


def _org_value(char: str) -> int:
    # GB 11714: digits are worth 0-9, letters A-Z 10-35 (by the Latin alphabet, not by USCC_ALPHABET).
    return int(char) if char in _DIGITS else ord(char) - ord("A") + 10


def organization_code_check_char(body: str) -> str:
    """The 9th character of a GB 11714-1997 organisation code from its 8-character body.

    ``11 - (weighted sum mod 11)`` with weights 3, 7, 9, 10, 5, 8, 4, 2; 10 is written ``X`` and 11 ``0``.
    """
    if len(body) != 8 or not all(char in _DIGITS or "A" <= char <= "Z" for char in body):
        raise ValueError(f"Expected the 8-character body of an organisation code, got {body!r}.")
    value = 11 - sum(_org_value(char) * weight for char, weight in zip(body, _ORG_WEIGHTS, strict=True)) % 11
    return {10: "X", 11: "0"}.get(value, str(value))


def _normalise(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"A {what} must be text, not {type(value).__name__}.")
    return value.strip().upper()


def validate_uscc(code: str, *, check_organization_code: bool = True) -> str:
    """Check an 18-character unified social credit code and return it normalised.

    Checks the length, the character set, that characters 3-8 are digits, the GB 11714 check character of
    the organisation code (character 17; skipped when ``check_organization_code`` is false) and the final
    check character (character 18).
    """
    code = _normalise(code, _USCC)
    if not code:
        raise ValueError(f"Enter the 18-character {_USCC}.")
    if len(code) != 18:
        raise ValueError(f"A {_USCC} has 18 characters; this one has {len(code)}.")
    for position, char in enumerate(code, start=1):
        if char not in _USCC_CHARS:
            raise ValueError(
                f"Character {position} ({char!r}) cannot appear in a {_USCC}: only digits and the capital "
                f"letters A-Z except I, O, S, V and Z are used."
            )
    if not _DIGITS.issuperset(code[2:8]):
        raise ValueError(
            f"Characters 3-8 of a {_USCC} are the administrative division code and must be digits; "
            f"got {code[2:8]!r}."
        )
    if check_organization_code:
        expected = organization_code_check_char(code[8:16])
        if code[16] != expected:
            raise ValueError(
                f"The organisation code in characters 9-17 of this {_USCC} ({code[8:17]}) is invalid: "
                f"its check character should be {expected!r}, not {code[16]!r}. "
                f"Check the code for a typing mistake."
            )
    expected = uscc_check_char(code[:17])
    if code[17] != expected:
        raise ValueError(
            f"The check character (character 18) of this {_USCC} should be {expected!r}, not {code[17]!r}. "
            f"Check the code for a typing mistake."
        )
    return code


def _require_region(region: str) -> str:
    if not (isinstance(region, str) and len(region) == 6 and _DIGITS.issuperset(region)):
        raise ValueError(f"An administrative division code has six digits; got {region!r}.")
    return region


def make_uscc(rng: random.Random, region: str = "110108", *, prefix: str = "91") -> str:
    """A random, valid-format unified social credit code registered in ``region``.

    ``prefix`` is characters 1-2, by default ``91`` (an enterprise registered by market regulation).  Half the
    codes get an organisation code of the post-2015 form ``MA`` + six characters, the rest an all-digit one.
    """
    _require_region(region)
    if not (isinstance(prefix, str) and len(prefix) == 2 and _USCC_CHARS.issuperset(prefix)):
        raise ValueError(f"The prefix is two characters of a {_USCC}; got {prefix!r}.")
    if rng.random() < 0.5:
        body = "MA" + "".join(rng.choice(USCC_ALPHABET) for _ in range(6))
    else:
        body = "".join(rng.choice("0123456789") for _ in range(8))
    first17 = prefix + region + body + organization_code_check_char(body)
    return first17 + uscc_check_char(first17)


# --- resident identity card number ---------------------------------------------------------------

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_ID = "resident identity card number"

#: Birth dates before this are rejected as impossible for a living customer.
EARLIEST_BIRTH_DATE = date(1900, 1, 1)
MALE = "male"
FEMALE = "female"


def resident_id_check_char(first17: str) -> str:
    """The 18th character of a resident identity card number from its first 17 digits (ISO 7064 MOD 11-2)."""
    if len(first17) != 17 or not _DIGITS.issuperset(first17):
        raise ValueError(f"Expected the first 17 digits of a {_ID}, got {first17!r}.")
    total = sum(int(digit) * weight for digit, weight in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def validate_resident_id(number: str, *, today: date | None = None) -> str:
    """Check an 18-character resident identity card number and return it normalised (``x`` becomes ``X``).

    Checks the length, that characters 1-17 are digits and the 18th a digit or ``X``, that characters 7-14
    are a real date of birth between :data:`EARLIEST_BIRTH_DATE` and ``today`` (default: today's date), and
    the check character.
    """
    number = _normalise(number, _ID)
    if not number:
        raise ValueError(f"Enter the 18-character {_ID}.")
    if len(number) != 18:
        if len(number) == 15 and _DIGITS.issuperset(number):
            raise ValueError(
                f"15-digit first-generation identity card numbers are not accepted; "
                f"enter the 18-character {_ID}."
            )
        raise ValueError(f"A {_ID} has 18 characters; this one has {len(number)}.")
    for position, char in enumerate(number[:17], start=1):
        if char not in _DIGITS:
            raise ValueError(f"Character {position} ({char!r}) of a {_ID} must be a digit.")
    if number[17] not in _DIGITS and number[17] != "X":
        raise ValueError(f"The last character of a {_ID} must be a digit or X; got {number[17]!r}.")
    birth = _birth_date(number)
    latest = date.today() if today is None else today
    if birth > latest:
        raise ValueError(f"The date of birth in this {_ID} ({birth.isoformat()}) is in the future.")
    expected = resident_id_check_char(number[:17])
    if number[17] != expected:
        raise ValueError(
            f"The check character (character 18) of this {_ID} should be {expected!r}, not {number[17]!r}. "
            f"Check the number for a typing mistake."
        )
    return number


def _birth_date(number: str) -> date:
    digits = number[6:14]
    try:
        birth = date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        raise ValueError(
            f"Characters 7-14 of a {_ID} are the date of birth (YYYYMMDD); {digits} is not a date."
        ) from None
    if birth < EARLIEST_BIRTH_DATE:
        raise ValueError(
            f"The date of birth in this {_ID} ({birth.isoformat()}) is before "
            f"{EARLIEST_BIRTH_DATE.isoformat()}."
        )
    return birth


def birth_date_of(resident_id: str) -> date:
    """The date of birth in a (valid) resident identity card number; ``ValueError`` if it is invalid."""
    return _birth_date(validate_resident_id(resident_id))


def gender_of(resident_id: str) -> str:
    """:data:`MALE` (odd) or :data:`FEMALE` (even): the 17th digit of a valid resident identity card number."""
    return MALE if int(validate_resident_id(resident_id)[16]) % 2 else FEMALE


_GENERATED_BIRTHS = (date(1950, 1, 1), date(2000, 12, 31))


def make_resident_id(rng: random.Random, region: str = "110108", birth: date | None = None,
                     male: bool | None = None) -> str:
    """A random, valid-format resident identity card number.

    ``birth`` defaults to a random date in 1950-2000 and ``male`` to a random choice; the sequence code is
    never ``000``.
    """
    _require_region(region)
    if birth is None:
        first, last = _GENERATED_BIRTHS
        birth = first + timedelta(days=rng.randrange((last - first).days + 1))
    elif not EARLIEST_BIRTH_DATE <= birth <= date.today():
        raise ValueError(
            f"A date of birth must be between {EARLIEST_BIRTH_DATE.isoformat()} and today; got {birth}."
        )
    if male is None:
        male = rng.random() < 0.5
    leading = rng.randrange(100)
    parity_digits = "13579" if male else ("02468" if leading else "2468")
    sequence = f"{leading:02d}{rng.choice(parity_digits)}"
    first17 = f"{region}{birth:%Y%m%d}{sequence}"
    return first17 + resident_id_check_char(first17)
