"""Companies House and charity numbers: which are accepted, how they are written, which are
refused (trust_levels.businesses.numbers)."""

from __future__ import annotations

import pytest

from trust_levels.businesses.errors import InvalidBusinessDetailsError
from trust_levels.businesses.numbers import Register, charity_number, company_number


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("01234567", "01234567"),  # England and Wales
        ("1234567", "01234567"),  # leading zero dropped, as people write it
        ("123456", "00123456"),
        ("sc123456", "SC123456"),  # Scotland, typed in lower case
        ("NI 012345", "NI012345"),  # Northern Ireland, with a space
        (" OC301234 ", "OC301234"),  # limited liability partnership
        ("SO301234", "SO301234"),
        ("LP012345", "LP012345"),  # limited partnership
        ("R0000123", "R0000123"),  # Northern Ireland before 1922
        ("FC012345", "FC012345"),  # overseas company
        ("IP012345", "IP012345"),  # registered society
        ("CE001234", "CE001234"),  # charitable incorporated organisation
    ],
)
def test_companies_house_numbers_are_accepted_and_normalised(given: str, expected: str) -> None:
    number = company_number(given)
    assert number.register is Register.COMPANIES_HOUSE
    assert number.value == expected


@pytest.mark.parametrize(
    "given",
    [
        "",
        "12345",  # too short even with zeros put back
        "123456789",  # too long
        "XX123456",  # not a Companies House prefix
        "SC12345",  # prefix with 5 digits
        "SC1234567",  # prefix with 7 digits
        "S1234567",  # one letter
        "0123456A",  # letter at the end
        "01234-567",
        "\uff10\uff11\uff12\uff13\uff14\uff15\uff16\uff17",  # full-width digits
        "1" * 10_000,  # oversized
        "SC12\x003456",
    ],
)
def test_malformed_companies_house_numbers_are_refused(given: str) -> None:
    with pytest.raises(InvalidBusinessDetailsError) as raised:
        company_number(given)
    assert raised.value.field == "number"
    assert raised.value.reason == "company_number"


@pytest.mark.parametrize(
    ("given", "register", "expected"),
    [
        ("202918", Register.CHARITY_ENGLAND_WALES, "202918"),
        ("1123456", Register.CHARITY_ENGLAND_WALES, "1123456"),
        ("11234567", Register.CHARITY_ENGLAND_WALES, "11234567"),
        ("sc012345", Register.CHARITY_SCOTLAND, "SC012345"),
        ("SC0 12345", Register.CHARITY_SCOTLAND, "SC012345"),
        ("NIC100002", Register.CHARITY_NORTHERN_IRELAND, "NIC100002"),
        ("nic 100002", Register.CHARITY_NORTHERN_IRELAND, "NIC100002"),
    ],
)
def test_charity_numbers_of_the_three_registers_are_accepted(
    given: str, register: Register, expected: str
) -> None:
    number = charity_number(given)
    assert (number.register, number.value) == (register, expected)


@pytest.mark.parametrize(
    "given",
    [
        "",
        "12345",  # 5 digits
        "123456789",  # 9 digits
        "SC112345",  # Scottish charities start SC0
        "SC01234",  # 4 digits after SC0
        "NIC012345",  # Northern Irish charities start NIC1
        "NIC10000",  # 4 digits after NIC1
        "1123456-1",  # a linked charity's suffix
        "CH1123456",
        "9" * 10_000,
    ],
)
def test_malformed_charity_numbers_are_refused(given: str) -> None:
    with pytest.raises(InvalidBusinessDetailsError) as raised:
        charity_number(given)
    assert raised.value.reason == "charity_number"


def test_the_same_characters_in_two_registers_are_two_numbers() -> None:
    """SC012345 is both a Scottish company number and a Scottish charity number: they name
    different bodies, so uniqueness is kept per register."""
    company, charity = company_number("SC012345"), charity_number("SC012345")
    assert company.value == charity.value
    assert company.index != charity.index
