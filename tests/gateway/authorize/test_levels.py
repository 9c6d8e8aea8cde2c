"""The level a sign-in reached and the level a request needs (first cut: credential strength;
DESIGN.md §2), with RFC 8176 method references."""

from __future__ import annotations

import pytest

from gateway.authorize.errors import UnmetAuthenticationRequirementsError
from gateway.authorize.levels import ACR_VALUES_SUPPORTED, LevelRequest, achieved, amr
from gateway.sessions.models import AuthMethod
from trust_levels.models import Vector


@pytest.mark.parametrize(
    ("methods", "level", "references"),
    [
        ({AuthMethod.PASSWORD}, "Cl", ("pwd",)),
        ({AuthMethod.PASSWORD, AuthMethod.TOTP}, "Cl.Cm", ("otp", "pwd", "mfa")),
        ({AuthMethod.PASSWORD, AuthMethod.EMAIL_CODE}, "Cl.Cm", ("email", "pwd", "mfa")),
        ({AuthMethod.PASSWORD, AuthMethod.RECOVERY_CODE}, "Cl.Cm", ("pwd", "rc", "mfa")),
        ({AuthMethod.PASSWORD, AuthMethod.SMS}, "Cl.Cm", ("pwd", "sms", "mfa")),
        ({AuthMethod.TOTP}, "Cl", ("otp",)),
    ],
)
def test_a_second_factor_with_the_password_makes_cl_cm(
    methods: set[AuthMethod], level: str, references: tuple[str, ...]
) -> None:
    assert str(achieved(methods)) == level
    assert amr(methods) == references


def test_only_reachable_levels_are_advertised() -> None:
    assert ACR_VALUES_SUPPORTED == ("Cl", "Cl.Cm")


def test_the_clients_floor_is_raised_to_the_weakest_value_asked_for() -> None:
    assert LevelRequest.of((), None).needed(None) == Vector.parse("Cl")
    assert LevelRequest.of(("Cl.Cm",), None).needed("Cl") == Vector.parse("Cl.Cm")
    assert LevelRequest.of(("Cl", "Cl.Cm"), None).needed(None) == Vector.parse("Cl")
    assert LevelRequest.of(("Cl",), None).needed("Cl.Cm") == Vector.parse("Cl.Cm")


def test_unreachable_levels_are_ignored_when_asked_and_refused_when_insisted_on() -> None:
    assert LevelRequest.of(("Cl.Cm.Ch", "unknown"), None).needed(None) == Vector.parse("Cl")
    essential = {"id_token": {"acr": {"essential": True, "values": ["Cl.Cm.P2"]}}}
    with pytest.raises(UnmetAuthenticationRequirementsError):
        LevelRequest.of((), essential).needed(None)
    with pytest.raises(UnmetAuthenticationRequirementsError):
        LevelRequest.of((), None).needed("Cl.Cm.Ch")


def test_the_acr_asserted_is_the_strongest_requested_value_met() -> None:
    medium = Vector.parse("Cl.Cm")
    assert LevelRequest.of(("Cl", "Cl.Cm", "Cl.Cm.Ch"), None).acr(medium) == "Cl.Cm"
    assert LevelRequest.of(("Cl",), None).acr(medium) == "Cl"
    assert LevelRequest.of((), None).acr(medium) == "Cl.Cm"
    single = {"id_token": {"acr": {"value": "Cl"}}}
    assert LevelRequest.of((), single).acr(medium) == "Cl"
