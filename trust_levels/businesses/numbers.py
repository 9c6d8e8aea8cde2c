"""Registered numbers of UK businesses and charities: what each register's numbers look like.

- **Companies House** company numbers are 8 characters: 8 digits for a company registered in
  England and Wales, or a 2-character prefix naming the register and the kind of body (``SC``
  Scottish company, ``NI`` Northern Irish, ``R0`` Northern Irish before 1922, ``OC``/``SO``/
  ``NC`` limited liability partnerships, ``LP``/``SL``/``NL`` limited partnerships, …) and 6
  digits (Companies House, "Company registration numbers" and the Companies Act 2006 s.1066).
- **Charity numbers**: the Charity Commission for England and Wales gives 6 to 8 digits; the
  Scottish Charity Regulator (OSCR) gives ``SC0`` and 5 digits; the Charity Commission for
  Northern Ireland gives ``NIC1`` and 5 digits (``NIC100002``).

Numbers are compared as written by the register: spaces removed and letters upper-cased. A
number is unique *within its register*: ``SC012345`` is a valid Scottish company number and a
valid Scottish charity number, and they name different bodies, so the uniqueness index keys
carry the register (:attr:`RegisteredNumber.index`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from trust_levels.businesses.errors import InvalidBusinessDetailsError

# The prefixes Companies House uses for the bodies it registers, per jurisdiction.
COMPANY_PREFIXES = frozenset(
    {
        "SC", "NI", "R0",  # companies: Scotland, Northern Ireland, Northern Ireland pre-1922
        "OC", "SO", "NC",  # limited liability partnerships
        "LP", "SL", "NL",  # limited partnerships
        "FC", "SF", "NF",  # overseas companies
        "GE", "GS", "GN",  # European economic interest groupings
        "IP", "SP", "NP",  # registered societies (industrial and provident)
        "IC", "SI", "NV",  # investment companies with variable capital
        "RC", "SR", "NR",  # royal charter companies
        "AC", "SA", "NA",  # assurance companies
        "ZC", "SZ", "NZ",  # unregistered companies
        "CE", "CS",  # charitable incorporated organisations registered at Companies House
    }
)  # fmt: skip
_COMPANY = re.compile(r"(?:[0-9]{2}|[A-Z][A-Z0-9])[0-9]{6}")
_CHARITY_ENGLAND_WALES = re.compile(r"[0-9]{6,8}")
_CHARITY_SCOTLAND = re.compile(r"SC0[0-9]{5}")
_CHARITY_NORTHERN_IRELAND = re.compile(r"NIC1[0-9]{5}")
MAX_INPUT = 20  # longer than any number with generous spacing: refused before any pattern


class Register(StrEnum):
    COMPANIES_HOUSE = "companies-house"
    CHARITY_ENGLAND_WALES = "charity-england-wales"
    CHARITY_SCOTLAND = "charity-scotland"
    CHARITY_NORTHERN_IRELAND = "charity-northern-ireland"


@dataclass(frozen=True, slots=True)
class RegisteredNumber:
    """A number that matched its register's format; ``value`` is the normalised number."""

    register: Register
    value: str

    @property
    def index(self) -> str:
        """What the uniqueness index is keyed by: the register and the number."""
        return f"{self.register.value}:{self.value}"


def _cleaned(text: str) -> str:
    return "".join(text.split()).upper()


def _refuse(reason: str, detail: str) -> InvalidBusinessDetailsError:
    return InvalidBusinessDetailsError(detail, field="number", reason=reason)


def company_number(text: str) -> RegisteredNumber:
    """A Companies House number. Digits alone may drop their leading zeros, as people often
    write them (``1234567`` is company ``01234567``)."""
    if len(text) > MAX_INPUT:
        raise _refuse("company_number", "A Companies House number is 8 characters.")
    number = _cleaned(text)
    if number.isdigit() and 6 <= len(number) < 8:
        number = number.zfill(8)
    if not _COMPANY.fullmatch(number) or (
        not number[:2].isdigit() and number[:2] not in COMPANY_PREFIXES
    ):
        raise _refuse(
            "company_number",
            f"{text!r} is not a Companies House number: 8 digits, or 2 letters such as SC, NI "
            "or OC and 6 digits.",
        )
    return RegisteredNumber(Register.COMPANIES_HOUSE, number)


def charity_number(text: str) -> RegisteredNumber:
    """A charity number from the register of England and Wales, Scotland or Northern Ireland."""
    number = _cleaned(text) if len(text) <= MAX_INPUT else ""
    for register, pattern in (
        (Register.CHARITY_ENGLAND_WALES, _CHARITY_ENGLAND_WALES),
        (Register.CHARITY_SCOTLAND, _CHARITY_SCOTLAND),
        (Register.CHARITY_NORTHERN_IRELAND, _CHARITY_NORTHERN_IRELAND),
    ):
        if pattern.fullmatch(number):
            return RegisteredNumber(register, number)
    raise _refuse(
        "charity_number",
        f"{text[:MAX_INPUT]!r} is not a charity number: 6 to 8 digits (England and Wales), SC0 "
        "and 5 digits (Scotland) or NIC1 and 5 digits (Northern Ireland).",
    )
