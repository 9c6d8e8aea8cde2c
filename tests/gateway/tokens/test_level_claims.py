"""Tokens say how strongly the person signed in and whom they act for: ``vot`` and ``vtm``
(RFC 8485 §5.2), ``acr``, ``amr``, ``auth_time`` and ``org``; the trustmark ``vtm`` names is
served; and the gateway's own APIs refuse a token whose level is too weak with RFC 9470
``insufficient_user_authentication``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from joserfc import jwt
from joserfc.jwk import KeySet

from gateway.accounts.models import Account
from gateway.authorize.levels import freshness_of
from gateway.runtime import Runtime
from gateway.tokens.resource import token_assurance
from tests.gateway.tokens.support import exchange, issue_code, key_client
from trust_levels.assurance import PrincipalKind
from trust_levels.models import CredentialStrength, IdentityConfidence, Vector
from trust_levels.policies import AtLeast

ORG = {"id": "bus_test", "name": "Anytown Bakery Ltd", "number": "01234567", "role": "member"}
FRESHNESS = freshness_of(43_200, 14_400, 3_600)


async def _claims(http: httpx.AsyncClient, token: str) -> dict[str, object]:
    keys = KeySet.import_key_set((await http.get("/.well-known/jwks.json")).json())
    return dict(jwt.decode(token, keys, algorithms=["ES256"]).claims)


async def test_the_id_token_carries_the_vector_reached_its_trustmark_and_the_business(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str, account: Account
) -> None:
    kit = await key_client(runtime, organisation_id)
    issued = await issue_code(runtime, kit, account, acr="Cl.Cm.P2", org=ORG)
    body = (await exchange(http, runtime, kit, issued)).json()
    id_token = await _claims(http, body["id_token"])
    assert id_token["vot"] == id_token["acr"] == "Cl.Cm.P2"
    assert id_token["vtm"] == runtime.settings.issuer + "/trustmark"
    assert id_token["org"] == ORG
    access = await _claims(http, body["access_token"])
    assert access["acr"] == "Cl.Cm.P2" and access["org"] == ORG
    assert "vot" not in access  # the vector is the ID token's statement (RFC 8485 §5.2)


async def test_a_personal_sign_in_names_no_business(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str, account: Account
) -> None:
    kit = await key_client(runtime, organisation_id)
    body = (await exchange(http, runtime, kit, await issue_code(runtime, kit, account))).json()
    assert "org" not in await _claims(http, body["id_token"])


async def test_the_trustmark_lists_the_components_the_gateway_asserts(
    http: httpx.AsyncClient, runtime: Runtime
) -> None:
    response = await http.get("/trustmark")
    assert response.status_code == 200
    assert response.json() == {
        "idp": runtime.settings.issuer,
        "trustmark_provider": runtime.settings.issuer,
        "C": ["Cl", "Cl.Cm", "Cl.Cm.Ch"],
        "P": ["P0", "P1", "P2", "P3"],
    }
    metadata = (await http.get("/.well-known/openid-configuration")).json()
    assert {"vot", "vtm", "org"} <= set(metadata["claims_supported"])


def test_a_tokens_level_is_its_acr_reached_at_its_auth_time() -> None:
    now = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    signed_in = int((now - timedelta(minutes=10)).timestamp())
    standing = token_assurance({"acr": "Cl.Cm.P2", "auth_time": signed_in}, FRESHNESS, now)
    assert standing.vector == Vector(CredentialStrength.MEDIUM, IdentityConfidence.MEDIUM)
    assert AtLeast(Vector.parse("Cl.Cm.P2")).unmet(standing) is None
    # Five hours on, the same token's Cl.Cm is stale: a Cl.Cm policy is not met.
    later = token_assurance(
        {"acr": "Cl.Cm", "auth_time": signed_in}, FRESHNESS, now + timedelta(hours=5)
    )
    assert AtLeast(Vector.parse("Cl.Cm")).unmet(later) is not None


def test_a_token_without_a_level_or_with_a_forged_one_counts_for_nothing() -> None:
    now = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    for claims in ({}, {"acr": "Cl.Cm.Ch.P9", "auth_time": 1}, {"acr": "Cl", "auth_time": "x"}):
        assert token_assurance(claims, FRESHNESS, now).vector is None


def test_act_and_org_make_an_agent_and_a_business_principal() -> None:
    now = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    agent = token_assurance({"act": {"sub": "a"}, "org": ORG}, FRESHNESS, now)
    assert agent.principal is PrincipalKind.AGENT
    member = token_assurance({"org": ORG}, FRESHNESS, now)
    assert member.principal is PrincipalKind.BUSINESS
