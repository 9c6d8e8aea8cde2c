"""Credential levels reached by a sign-in's factors, each with its time and freshness."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from trust_levels.assurance import (
    NO_CONFIDENCE,
    Assurance,
    Confidence,
    Factor,
    Freshness,
    reached_levels,
)
from trust_levels.models import CredentialStrength, IdentityConfidence, Vector

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
FRESHNESS = Freshness(timedelta(hours=12), timedelta(hours=4), timedelta(hours=1))


def ago(minutes: int) -> datetime:
    return NOW - timedelta(minutes=minutes)


def standing(
    events: list[tuple[Factor, datetime]], confidence: Confidence = NO_CONFIDENCE
) -> Assurance:
    return Assurance(reached_levels(events), confidence, NOW, FRESHNESS)


def test_a_password_alone_is_low_and_a_second_factor_makes_medium_when_it_came() -> None:
    password_only = standing([(Factor.KNOWLEDGE, ago(90))])
    assert password_only.credential is CredentialStrength.LOW
    stepped_up = standing([(Factor.KNOWLEDGE, ago(90)), (Factor.SECOND, ago(5))])
    assert stepped_up.credential is CredentialStrength.MEDIUM
    # Medium was reached when its last factor was proven, not when the password was; and
    # reaching medium renews low.
    assert stepped_up.reached_at(CredentialStrength.MEDIUM) == ago(5)
    assert stepped_up.reached_at(CredentialStrength.LOW) == ago(5)
    assert password_only.reached_at(CredentialStrength.MEDIUM) is None


def test_a_passkey_alone_reaches_every_level_at_once() -> None:
    passkey = standing([(Factor.PHISHING_RESISTANT, ago(1))])
    assert [r.strength for r in passkey.reached] == [
        CredentialStrength.HIGH,
        CredentialStrength.MEDIUM,
        CredentialStrength.LOW,
    ]
    assert passkey.vector == Vector(CredentialStrength.HIGH)


def test_a_second_factor_alone_is_no_sign_in_at_all() -> None:
    assert standing([(Factor.SECOND, ago(1))]).credential is None


def test_a_level_past_its_freshness_limit_no_longer_counts() -> None:
    # High lasts an hour: a passkey used 61 minutes ago still gives medium, not high.
    old_passkey = standing([(Factor.PHISHING_RESISTANT, ago(61))])
    assert old_passkey.credential is CredentialStrength.MEDIUM
    assert not old_passkey.fresh(CredentialStrength.HIGH)
    # Medium lasts four hours: a step-up 5 hours ago leaves only the password's low level.
    old_step_up = standing([(Factor.KNOWLEDGE, ago(300)), (Factor.SECOND, ago(300))])
    assert old_step_up.credential is CredentialStrength.LOW
    # Low lasts twelve: after that the person stands at no level.
    assert standing([(Factor.KNOWLEDGE, ago(12 * 60 + 1))]).vector is None


def test_a_service_can_demand_fresher_than_the_setting() -> None:
    recent = standing([(Factor.KNOWLEDGE, ago(10)), (Factor.SECOND, ago(10))])
    assert recent.fresh(CredentialStrength.MEDIUM, within=timedelta(minutes=15))
    assert not recent.fresh(CredentialStrength.MEDIUM, within=timedelta(minutes=5))


def test_identity_confidence_joins_the_credential_in_the_vector() -> None:
    proven = standing([(Factor.KNOWLEDGE, ago(1))], Confidence(IdentityConfidence.MEDIUM, "M1A"))
    assert str(proven.vector) == "Cl.P2"


def test_freshness_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        Freshness(timedelta(hours=1), timedelta(0), timedelta(hours=1))
