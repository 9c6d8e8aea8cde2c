"""The level a sign-in reached (with freshness and identity confidence), the level a request
needs (floors, ``vtr``, ``acr_values``, an essential ``acr``), and RFC 8176 method references."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gateway.authorize.levels import (
    ACR_VALUES_SUPPORTED,
    LevelRequest,
    LevelService,
    amr,
    freshness_of,
    parse_vtr,
    trustmark,
)
from gateway.oidc.errors import InvalidRequestError
from gateway.sessions.models import AuthEvent, AuthMethod, Session
from tests.support.clock import MovableClock
from trust_levels.assurance import Confidence
from trust_levels.models import CredentialStrength, IdentityConfidence, Vector

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


class Evidence:
    """A confidence source with a fixed answer per account (the proofing package's real one is
    tested with the store in tests/trust_levels/proofing)."""

    def __init__(self, levels: dict[str, Confidence]) -> None:
        self._levels = levels

    async def confidence(self, account_id: str) -> Confidence:
        return self._levels.get(account_id, Confidence(IdentityConfidence.NONE))


def levels(
    evidence: dict[str, Confidence] | None = None, services: dict[str, str] | None = None
) -> LevelService:
    return LevelService(
        freshness_of(43_200, 14_400, 3_600),
        Evidence(evidence or {}),
        MovableClock(NOW),
        service_levels=services or {},
    )


def session(*methods: AuthMethod, minutes_ago: int = 1, account: str = "acc_1") -> Session:
    at = NOW - timedelta(minutes=minutes_ago)
    return Session(
        id="s",
        account_id=account,
        created_at=at,
        last_seen=at,
        csrf_token="c",
        ip="192.0.2.1",
        user_agent="test",
        auth=tuple(AuthEvent(m, at) for m in methods),
    )


@pytest.mark.parametrize(
    ("methods", "level", "references"),
    [
        ({AuthMethod.PASSWORD}, "Cl", ("pwd",)),
        ({AuthMethod.PASSWORD, AuthMethod.TOTP}, "Cl.Cm", ("otp", "pwd", "mfa")),
        ({AuthMethod.PASSWORD, AuthMethod.EMAIL_CODE}, "Cl.Cm", ("email", "pwd", "mfa")),
        ({AuthMethod.PASSWORD, AuthMethod.RECOVERY_CODE}, "Cl.Cm", ("pwd", "rc", "mfa")),
        ({AuthMethod.PASSWORD, AuthMethod.SMS}, "Cl.Cm", ("pwd", "sms", "mfa")),
        ({AuthMethod.PASSKEY}, "Cl.Cm.Ch", ("pop", "mfa")),
    ],
)
async def test_each_sign_in_reaches_its_level_with_rfc_8176_references(
    methods: set[AuthMethod], level: str, references: tuple[str, ...]
) -> None:
    standing = await levels().assurance(session(*methods))
    assert str(standing.vector) == level
    assert amr(methods) == references


async def test_a_second_factor_alone_reaches_no_level() -> None:
    assert (await levels().assurance(session(AuthMethod.TOTP))).vector is None


async def test_identity_confidence_comes_from_the_accounts_evidence() -> None:
    service = levels({"acc_1": Confidence(IdentityConfidence.MEDIUM, "M1A")})
    assert str((await service.assurance(session(AuthMethod.PASSWORD))).vector) == "Cl.P2"
    other = session(AuthMethod.PASSWORD, account="acc_2")
    assert str((await service.assurance(other)).vector) == "Cl"


async def test_an_old_step_up_falls_back_to_the_password_level() -> None:
    stale = await levels().assurance(session(AuthMethod.PASSWORD, AuthMethod.TOTP, minutes_ago=300))
    assert stale.credential is CredentialStrength.LOW


def test_every_vector_is_advertised_with_a_trustmark_listing_the_components() -> None:
    assert "Cl.Cm.Ch.P3" in ACR_VALUES_SUPPORTED and "Cl" in ACR_VALUES_SUPPORTED
    mark = trustmark("https://gc.example")
    assert mark["idp"] == "https://gc.example"
    assert mark["C"] == ["Cl", "Cl.Cm", "Cl.Cm.Ch"]
    assert mark["P"] == ["P0", "P1", "P2", "P3"]


def test_floors_come_from_the_client_and_each_service_asked_for() -> None:
    service = levels(services={"council-tax": "Cl.Cm", "blue-badge": "Cl.Cm.P2"})
    assert service.floors("Cl", ["openid", "council-tax"]) == (
        Vector.parse("Cl"),
        Vector.parse("Cl.Cm"),
    )
    assert service.floors(None, ["openid"]) == ()
    assert service.service_level("blue-badge") == Vector.parse("Cl.Cm.P2")


async def test_vtr_must_be_met_whole_and_any_one_vector_will_do() -> None:
    request = LevelRequest.of((), None, ("Cl.Cm.P2", "Cl.Cm.Ch"))
    policy = request.policy(())
    two_factors = await levels().assurance(session(AuthMethod.PASSWORD, AuthMethod.TOTP))
    shortfall = policy.unmet(two_factors)
    assert shortfall is not None and shortfall.credential is CredentialStrength.HIGH
    passkey = await levels().assurance(session(AuthMethod.PASSKEY))
    assert policy.unmet(passkey) is None
    assert passkey.vector is not None and request.asserted(passkey.vector) == "Cl.Cm.Ch"


async def test_voluntary_acr_values_step_up_the_credential_but_never_force_proofing() -> None:
    request = LevelRequest.of(("Cl.Cm.P2",), None)
    two_factors = await levels().assurance(session(AuthMethod.PASSWORD, AuthMethod.TOTP))
    assert request.policy(()).unmet(two_factors) is None
    assert two_factors.vector is not None
    # The asserted acr is where the person stands: the P2 asked for was not reached.
    assert request.asserted(two_factors.vector) == "Cl.Cm"
    password = await levels().assurance(session(AuthMethod.PASSWORD))
    shortfall = request.policy(()).unmet(password)
    assert shortfall is not None and shortfall.identity is None


async def test_an_essential_acr_claim_must_be_met_whole() -> None:
    essential = {"id_token": {"acr": {"essential": True, "values": ["Cl.Cm.P2"]}}}
    two_factors = await levels().assurance(session(AuthMethod.PASSWORD, AuthMethod.TOTP))
    shortfall = LevelRequest.of((), essential).policy(()).unmet(two_factors)
    assert shortfall is not None and shortfall.identity is IdentityConfidence.MEDIUM


async def test_a_floor_applies_whatever_the_client_asks() -> None:
    password = await levels().assurance(session(AuthMethod.PASSWORD))
    policy = LevelRequest.of(("Cl",), None).policy((Vector.parse("Cl.Cm"),))
    shortfall = policy.unmet(password)
    assert shortfall is not None and shortfall.credential is CredentialStrength.MEDIUM


def test_the_acr_asserted_is_the_strongest_requested_value_met() -> None:
    medium = Vector.parse("Cl.Cm")
    assert LevelRequest.of(("Cl", "Cl.Cm", "Cl.Cm.Ch"), None).asserted(medium) == "Cl.Cm"
    assert LevelRequest.of(("Cl",), None).asserted(medium) == "Cl"
    assert LevelRequest.of((), None).asserted(medium) == "Cl.Cm"
    single = {"id_token": {"acr": {"value": "Cl"}}}
    assert LevelRequest.of((), single).asserted(medium) == "Cl"


def test_vtr_is_a_json_array_of_vectors() -> None:
    assert parse_vtr('["P2.Cl.Cm", "Cl.Cm.P2"]') == ("Cl.Cm.P2",)
    assert parse_vtr(["Cl"]) == ("Cl",)
    assert parse_vtr(None) == ()
    for bad in ("Cl.Cm", "[]", '["Cl.Cx"]', "[1]", '{"a": 1}', "[" + ",".join(['"Cl"'] * 11) + "]"):
        with pytest.raises(InvalidRequestError):
            parse_vtr(bad)
