"""Level policies compose and say exactly what is missing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from trust_levels.assurance import (
    NO_CONFIDENCE,
    Assurance,
    Confidence,
    Factor,
    Freshness,
    PrincipalKind,
    reached_levels,
)
from trust_levels.errors import PolicyNotMetError
from trust_levels.models import CredentialStrength, IdentityConfidence, Vector
from trust_levels.policies import AllOf, AnyOf, AtLeast, FreshWithin, PrincipalIs, check

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
FRESHNESS = Freshness(timedelta(hours=12), timedelta(hours=4), timedelta(hours=1))


def person(
    *factors: Factor,
    minutes_ago: int = 1,
    confidence: Confidence = NO_CONFIDENCE,
    principal: PrincipalKind = PrincipalKind.CITIZEN,
) -> Assurance:
    at = NOW - timedelta(minutes=minutes_ago)
    return Assurance(
        reached_levels((f, at) for f in factors), confidence, NOW, FRESHNESS, principal
    )


PASSWORD = person(Factor.KNOWLEDGE)
TWO_FACTORS = person(Factor.KNOWLEDGE, Factor.SECOND)
P2 = Confidence(IdentityConfidence.MEDIUM, "M1B")


def test_at_least_names_each_missing_axis() -> None:
    shortfall = AtLeast(Vector.parse("Cl.Cm.P2")).unmet(PASSWORD)
    assert shortfall is not None
    assert shortfall.credential is CredentialStrength.MEDIUM
    assert shortfall.identity is IdentityConfidence.MEDIUM
    assert "Cl.Cm" in shortfall.reason and "P2" in shortfall.reason
    assert str(shortfall.vector) == "Cl.Cm.P2"
    met = person(Factor.KNOWLEDGE, Factor.SECOND, confidence=P2)
    assert AtLeast(Vector.parse("Cl.Cm.P2")).unmet(met) is None


def test_a_stale_level_does_not_meet_a_policy() -> None:
    stale = person(Factor.KNOWLEDGE, Factor.SECOND, minutes_ago=5 * 60)
    shortfall = AtLeast(Vector.parse("Cl.Cm")).unmet(stale)
    assert shortfall is not None and shortfall.credential is CredentialStrength.MEDIUM


def test_fresh_within_demands_a_recent_proof_and_says_how_recent() -> None:
    ten_minutes = person(Factor.KNOWLEDGE, Factor.SECOND, minutes_ago=10)
    assert FreshWithin(CredentialStrength.MEDIUM, 900).unmet(ten_minutes) is None
    shortfall = FreshWithin(CredentialStrength.MEDIUM, 300).unmet(ten_minutes)
    assert shortfall is not None and shortfall.max_age == timedelta(seconds=300)


def test_principal_is_refuses_the_wrong_kind_of_actor() -> None:
    policy = PrincipalIs(frozenset({PrincipalKind.BUSINESS}))
    assert policy.unmet(person(Factor.KNOWLEDGE, principal=PrincipalKind.BUSINESS)) is None
    shortfall = policy.unmet(PASSWORD)
    assert shortfall is not None and "business" in shortfall.reason


def test_all_of_collects_the_strongest_need_on_each_axis() -> None:
    policy = AllOf((AtLeast(Vector.parse("Cl.Cm")), AtLeast(Vector.parse("Cl.P2"))))
    shortfall = policy.unmet(PASSWORD)
    assert shortfall is not None
    assert (shortfall.credential, shortfall.identity) == (
        CredentialStrength.MEDIUM,
        IdentityConfidence.MEDIUM,
    )
    assert AllOf((AtLeast(Vector.parse("Cl")),)).unmet(PASSWORD) is None


def test_any_of_is_met_by_one_and_otherwise_asks_for_the_least() -> None:
    policy = AnyOf((AtLeast(Vector.parse("Cl.Cm.P2")), AtLeast(Vector.parse("Cl.Cm.Ch"))))
    shortfall = policy.unmet(TWO_FACTORS)
    # A passkey is less to ask of a person than proving their identity.
    assert shortfall is not None and shortfall.credential is CredentialStrength.HIGH
    assert shortfall.identity is None
    assert policy.unmet(person(Factor.PHISHING_RESISTANT)) is None


def test_check_raises_with_the_shortfall() -> None:
    with pytest.raises(PolicyNotMetError) as raised:
        check(AtLeast(Vector.parse("Cl.Cm.Ch")), TWO_FACTORS)
    assert raised.value.shortfall.credential is CredentialStrength.HIGH
    check(AtLeast(Vector.parse("Cl.Cm")), TWO_FACTORS)
