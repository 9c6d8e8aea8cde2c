"""Vectors of trust parse in either component order and compare on both axes."""

from __future__ import annotations

import pytest

from trust_levels.errors import InvalidVectorError
from trust_levels.models import CredentialStrength, IdentityConfidence, Vector


@pytest.mark.parametrize(
    ("text", "credential", "identity"),
    [
        ("Cl", CredentialStrength.LOW, IdentityConfidence.NONE),
        ("Cl.Cm", CredentialStrength.MEDIUM, IdentityConfidence.NONE),
        ("Cl.Cm.P2", CredentialStrength.MEDIUM, IdentityConfidence.MEDIUM),
        ("P2.Cl.Cm", CredentialStrength.MEDIUM, IdentityConfidence.MEDIUM),
        ("Cl.Cm.Ch.P3", CredentialStrength.HIGH, IdentityConfidence.HIGH),
    ],
)
def test_valid_vectors_parse(
    text: str, credential: CredentialStrength, identity: IdentityConfidence
) -> None:
    vector = Vector.parse(text)
    assert (vector.credential, vector.identity) == (credential, identity)


@pytest.mark.parametrize("text", ["", "Cm", "P2", "Cl.Cm.P5", "Cl.P1.P2", "Cl.Xx", "Cl.Ch"])
def test_malformed_vectors_are_refused_with_guidance(text: str) -> None:
    with pytest.raises(InvalidVectorError, match=r"P0|Cl"):
        Vector.parse(text)


def test_canonical_form_round_trips() -> None:
    assert str(Vector.parse("P2.Cl.Cm")) == "Cl.Cm.P2"
    assert str(Vector.parse("Cl.P0")) == "Cl"


def test_satisfies_needs_both_axes() -> None:
    medium_p1 = Vector.parse("Cl.Cm.P1")
    assert medium_p1.satisfies(Vector.parse("Cl.P1"))
    assert not medium_p1.satisfies(Vector.parse("Cl.P2"))
    assert not Vector.parse("Cl.P3").satisfies(Vector.parse("Cl.Cm"))
