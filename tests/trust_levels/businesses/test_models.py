"""What a person may give when creating a business, naming user groups or enrolling in a
service (trust_levels.businesses.models)."""

from __future__ import annotations

import pytest

from trust_levels.businesses.errors import (
    InvalidBusinessDetailsError,
    InvalidGroupError,
    InvalidServiceError,
)
from trust_levels.businesses.models import BusinessKind, NewBusiness, group_names, service_name


def test_a_company_is_created_with_its_normalised_number_and_tidied_name() -> None:
    new = NewBusiness.parse("  Anytown   Bakery Ltd ", "company", "sc123456", agent=False)
    assert new.name == "Anytown Bakery Ltd"
    assert new.kind is BusinessKind.COMPANY
    assert new.number is not None and new.number.value == "SC123456"


@pytest.mark.parametrize(
    ("name", "kind", "number", "field", "reason"),
    [
        ("", "company", "01234567", "name", "name_missing"),
        ("A" * 161, "company", "01234567", "name", "name_invalid"),
        ("Bad\u202eName", "company", "01234567", "name", "name_invalid"),
        ("Anytown", "", "", "kind", "kind_missing"),
        ("Anytown", "council", "", "kind", "kind_missing"),
        ("Anytown", "company", "", "number", "company_number_missing"),
        ("Anytown", "company", "1123456-1", "number", "company_number"),
        ("Anytown", "charity", "", "number", "charity_number_missing"),
        ("Anytown", "charity", "SC123456X", "number", "charity_number"),
        ("Anytown", "sole_trader", "01234567", "number", "sole_trader_number"),
        ("Anytown", "other", "not a number", "number", "company_number"),
    ],
)
def test_details_that_cannot_be_accepted_name_the_field_and_the_reason(
    name: str, kind: str, number: str, field: str, reason: str
) -> None:
    with pytest.raises(InvalidBusinessDetailsError) as raised:
        NewBusiness.parse(name, kind, number, agent=False)
    assert (raised.value.field, raised.value.reason) == (field, reason)


def test_a_sole_trader_and_another_body_without_a_number_have_none() -> None:
    assert NewBusiness.parse("Jo Smith", "sole_trader", "", agent=False).number is None
    assert NewBusiness.parse("Anytown Residents", "other", " ", agent=True).number is None


def test_group_names_are_tidied_and_empty_ones_dropped() -> None:
    assert group_names(["Payroll  team", " VAT ", "", "VAT"]) == frozenset({"Payroll team", "VAT"})


@pytest.mark.parametrize("names", [["<script>"], ["x" * 41], [f"group {n}" for n in range(21)]])
def test_bad_or_too_many_group_names_are_refused(names: list[str]) -> None:
    with pytest.raises(InvalidGroupError):
        group_names(names)


@pytest.mark.parametrize(
    "name", ["parking-permits", "council_tax", "licensing.taxi", "vat:returns"]
)
def test_scope_like_service_names_are_accepted(name: str) -> None:
    assert service_name(f" {name} ") == name


@pytest.mark.parametrize(
    "name", ["", "x", "Parking", "parking permits", "-permits", "openid", "email", "a" * 65]
)
def test_other_service_names_and_openid_connect_scopes_are_refused(name: str) -> None:
    with pytest.raises(InvalidServiceError):
        service_name(name)
