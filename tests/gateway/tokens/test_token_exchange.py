"""Token exchange (RFC 8693) for agents acting for clients, over real HTTP on the real store:
the agent user's own access token and an accepted relationship become a token with the client
as ``sub`` and the agent in ``act``, which the agents' API accepts; and every way it must be
refused is attacked (revoked by either side, expired, another service, another client or
relying party, a user outside the groups, a non-member, delegation chains, unregistered
clients, forged actor tokens)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from gateway.core.settings import Settings
from gateway.runtime import Runtime
from gateway.tokens.exchange import ACCESS_TOKEN_TYPE_URI, RELATIONSHIP_TOKEN_TYPE_URI
from gateway.tokens.models import ACCESS_TOKEN_ALGORITHMS
from tests.gateway.tokens.support import (
    Kit,
    error_of,
    exchange,
    issue_code,
    key_client,
    post_token,
    secret_client,
)
from tests.support.clock import MovableClock
from tests.support.evidence import recorded
from tests.support.servers import threaded_gateway
from tests.trust_levels.agents.support import SERVICE, Agency, accepted, agency, invited, staff
from tests.trust_levels.businesses.support import Person, emailed_token, person
from trust_levels.agents.models import Relationship
from trust_levels.agents.services import build_agents
from trust_levels.businesses.models import Role

EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
GRANTS = ["authorization_code", EXCHANGE]


async def _relying_party(runtime: Runtime, organisation_id: str, **overrides: Any) -> Kit:
    """A council service registered for token exchange and the self-assessment scope."""
    overrides.setdefault("grant_types", GRANTS)
    overrides.setdefault("scope", f"openid {SERVICE} other-service")
    return await key_client(runtime, organisation_id, **overrides)


async def _own_token(
    http: httpx.AsyncClient, runtime: Runtime, kit: Kit, someone: Person, **code: Any
) -> str:
    """The person's own access token at ``kit`` from an authorization code."""
    account = await runtime.accounts.get(someone.account_id)
    issued = await issue_code(runtime, kit, account, scope=("openid",), **code)
    response = await exchange(http, runtime, kit, issued)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def _form(actor: str, relationship_id: str, scope: str = SERVICE) -> dict[str, str]:
    return {
        "grant_type": EXCHANGE,
        "subject_token": relationship_id,
        "subject_token_type": RELATIONSHIP_TOKEN_TYPE_URI,
        "actor_token": actor,
        "actor_token_type": ACCESS_TOKEN_TYPE_URI,
        "scope": scope,
    }


async def _exchange(
    http: httpx.AsyncClient,
    runtime: Runtime,
    kit: Kit,
    actor: str,
    relationship_id: str,
    **extra: str,
) -> httpx.Response:
    return await post_token(http, runtime, kit, {**_form(actor, relationship_id), **extra})


def _claims(runtime: Runtime, token: str) -> dict[str, Any]:
    claims: dict[str, Any] = runtime.keys.verify(token, algorithms=ACCESS_TOKEN_ALGORITHMS)[
        "claims"
    ]
    return claims


async def _acting_for(http: httpx.AsyncClient, token: str) -> httpx.Response:
    return await http.get("/api/agents/acting-for", headers={"Authorization": f"Bearer {token}"})


@pytest.fixture
async def firm(runtime: Runtime) -> Agency:
    return await agency(runtime)


@pytest.fixture
async def agent_user(runtime: Runtime, firm: Agency) -> Person:
    return await staff(runtime, firm, groups="Payroll")


@pytest.fixture
async def kit(runtime: Runtime, organisation_id: str) -> Kit:
    return await _relying_party(runtime, organisation_id)


async def test_an_agent_user_exchanges_for_a_token_acting_for_the_client_and_calls_the_api(
    http: httpx.AsyncClient, runtime: Runtime, kit: Kit, firm: Agency, agent_user: Person
) -> None:
    client = await person(runtime)
    relationship = await accepted(runtime, runtime.agents, firm, client)
    actor = await _own_token(http, runtime, kit, agent_user)

    response = await _exchange(http, runtime, kit, actor, relationship.id)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["issued_token_type"] == ACCESS_TOKEN_TYPE_URI
    assert body["token_type"] == "Bearer" and body["scope"] == SERVICE
    assert "refresh_token" not in body and "id_token" not in body
    claims = _claims(runtime, body["access_token"])
    assert claims["sub"] == runtime.subjects.subject(
        kit.client.sector_identifier, client.account_id
    )
    assert claims["act"] == {
        "sub": runtime.subjects.subject(kit.client.sector_identifier, agent_user.account_id),
        "org": firm.business.id,
    }
    assert claims["aud"] == runtime.settings.issuer and claims["grant_id"] == relationship.id
    assert claims["exp"] - claims["iat"] == runtime.settings.access_token_lifetime_seconds

    api = await _acting_for(http, body["access_token"])
    assert api.status_code == 200, api.text
    assert api.json() == {
        "sub": claims["sub"],
        "relationship_id": relationship.id,
        "agent_organisation_id": firm.business.id,
        "service": SERVICE,
        "state": "active",
        "ends_at": None,
        "act": claims["act"],
    }
    (entry,) = await recorded(runtime.evidence, "agent.token-exchanged", relationship.id)
    assert entry["actor"] == f"account:{agent_user.account_id}"
    assert entry["details"]["agent_account_id"] == agent_user.account_id
    assert entry["details"]["agent_organisation_id"] == firm.business.id
    assert entry["details"]["client_account_id"] == client.account_id
    assert entry["details"]["client_id"] == kit.client_id


async def test_the_agent_users_clients_list_shows_only_what_the_client_agreed_to_show(
    http: httpx.AsyncClient, runtime: Runtime, kit: Kit, firm: Agency, agent_user: Person
) -> None:
    relationship = await accepted(runtime, runtime.agents, firm)
    outside = await accepted(runtime, runtime.agents, firm, groups=frozenset({"VAT"}))
    actor = await _own_token(http, runtime, kit, agent_user)

    response = await http.get("/api/agents/clients", headers={"Authorization": f"Bearer {actor}"})

    assert response.status_code == 200, response.text
    listed = {c["relationship_id"]: c for c in response.json()["clients"]}
    assert listed[relationship.id] == {
        "relationship_id": relationship.id,
        "agent_organisation_id": firm.business.id,
        "service": SERVICE,
        "client_name": "J Smith",
        "ends_at": None,
    }
    assert outside.id not in listed


@pytest.mark.parametrize("side", ["client", "agent"])
async def test_revocation_by_either_side_stops_issued_tokens_and_new_exchanges(
    http: httpx.AsyncClient,
    runtime: Runtime,
    kit: Kit,
    firm: Agency,
    agent_user: Person,
    side: str,
) -> None:
    client = await person(runtime)
    relationship = await accepted(runtime, runtime.agents, firm, client)
    actor = await _own_token(http, runtime, kit, agent_user)
    issued = (await _exchange(http, runtime, kit, actor, relationship.id)).json()["access_token"]
    assert (await _acting_for(http, issued)).status_code == 200

    if side == "client":
        await runtime.agents.revoke_as_client(client.account_id, relationship.id)
    else:
        await runtime.agents.revoke_as_agent(
            firm.business.id, firm.admin.account_id, relationship.id
        )

    refused = await _acting_for(http, issued)
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_token"
    again = await _exchange(http, runtime, kit, actor, relationship.id)
    assert again.status_code == 400 and error_of(again) == "invalid_request"
    assert "revoked" in again.json()["error_description"]


async def test_a_token_for_another_service_is_refused_as_invalid_scope(
    http: httpx.AsyncClient, runtime: Runtime, kit: Kit, firm: Agency, agent_user: Person
) -> None:
    relationship = await accepted(runtime, runtime.agents, firm)
    actor = await _own_token(http, runtime, kit, agent_user)

    other = await _exchange(http, runtime, kit, actor, relationship.id, scope="other-service")
    unregistered = await _exchange(http, runtime, kit, actor, relationship.id, scope="council-tax")
    two = await _exchange(http, runtime, kit, actor, relationship.id, scope=f"{SERVICE} openid")

    for response in (other, unregistered, two):
        assert response.status_code == 400 and error_of(response) == "invalid_scope", response.text


async def test_relationships_of_another_agency_or_missing_or_junk_ids_are_refused(
    http: httpx.AsyncClient, runtime: Runtime, kit: Kit, firm: Agency, agent_user: Person
) -> None:
    elsewhere = await accepted(runtime, runtime.agents, await agency(runtime))
    actor = await _own_token(http, runtime, kit, agent_user)

    for relationship_id in (elsewhere.id, "rel_" + "A" * 22, "../../etc", "x" * 5000):
        response = await _exchange(http, runtime, kit, actor, relationship_id)
        assert response.status_code == 400 and error_of(response) == "invalid_request"


async def test_a_pending_or_declined_relationship_gives_no_token(
    http: httpx.AsyncClient, runtime: Runtime, kit: Kit, firm: Agency, agent_user: Person
) -> None:
    client = await person(runtime)
    token = await invited(runtime.agents, firm, client)
    pending = (
        await runtime.agents.invitation(token, await runtime.accounts.get(client.account_id))
    )[0]
    actor = await _own_token(http, runtime, kit, agent_user)

    response = await _exchange(http, runtime, kit, actor, pending.id)
    assert response.status_code == 400 and "pending" in response.json()["error_description"]
    await runtime.agents.decline(token, await runtime.accounts.get(client.account_id))
    response = await _exchange(http, runtime, kit, actor, pending.id)
    assert response.status_code == 400 and "declined" in response.json()["error_description"]


async def test_a_user_outside_the_groups_and_a_non_member_are_refused(
    http: httpx.AsyncClient, runtime: Runtime, kit: Kit, firm: Agency, agent_user: Person
) -> None:
    limited = await accepted(runtime, runtime.agents, firm, groups=frozenset({"VAT"}))
    outsider = await person(runtime)

    in_other_group = await _exchange(
        http, runtime, kit, await _own_token(http, runtime, kit, agent_user), limited.id
    )
    not_member = await _exchange(
        http, runtime, kit, await _own_token(http, runtime, kit, outsider), limited.id
    )

    assert in_other_group.status_code == 400 and error_of(in_other_group) == "invalid_request"
    assert "groups" in in_other_group.json()["error_description"]
    assert not_member.status_code == 400 and error_of(not_member) == "invalid_request"
    assert "not a member" in not_member.json()["error_description"]


async def test_an_actor_token_of_another_relying_party_is_refused(
    http: httpx.AsyncClient,
    runtime: Runtime,
    kit: Kit,
    organisation_id: str,
    firm: Agency,
    agent_user: Person,
) -> None:
    relationship = await accepted(runtime, runtime.agents, firm)
    other = await _relying_party(runtime, organisation_id)
    foreign_actor = await _own_token(http, runtime, other, agent_user)

    response = await _exchange(http, runtime, kit, foreign_actor, relationship.id)

    assert response.status_code == 400 and error_of(response) == "invalid_request"
    assert "another client" in response.json()["error_description"]


async def test_the_clients_sub_is_pairwise_per_relying_party(
    http: httpx.AsyncClient,
    runtime: Runtime,
    kit: Kit,
    organisation_id: str,
    firm: Agency,
    agent_user: Person,
) -> None:
    relationship = await accepted(runtime, runtime.agents, firm)
    other = await _relying_party(
        runtime, organisation_id, redirect_uris=["https://tax.othertown.example/callback"]
    )
    here = await _exchange(
        http, runtime, kit, await _own_token(http, runtime, kit, agent_user), relationship.id
    )
    there = await _exchange(
        http, runtime, other, await _own_token(http, runtime, other, agent_user), relationship.id
    )

    first, second = (
        _claims(runtime, here.json()["access_token"]),
        _claims(runtime, there.json()["access_token"]),
    )
    assert first["sub"] != second["sub"]
    assert first["act"]["sub"] != second["act"]["sub"]
    assert first["act"]["org"] == second["act"]["org"] == firm.business.id


async def test_forged_malformed_and_missing_parameters_are_refused(
    http: httpx.AsyncClient, runtime: Runtime, kit: Kit, firm: Agency, agent_user: Person
) -> None:
    relationship = await accepted(runtime, runtime.agents, firm)
    actor = await _own_token(http, runtime, kit, agent_user)
    head, body, _ = actor.split(".")
    forged = f"{head}.{body}.{'A' * 86}"
    cases = [
        {"actor_token": forged},
        {"actor_token": "x" * 9000},
        {"actor_token_type": "urn:ietf:params:oauth:token-type:id_token"},
        {"subject_token_type": ACCESS_TOKEN_TYPE_URI},
        {"subject_token": ""},
        {"requested_token_type": "urn:ietf:params:oauth:token-type:refresh_token"},
    ]
    for change in cases:
        response = await post_token(http, runtime, kit, {**_form(actor, relationship.id), **change})
        assert response.status_code == 400 and error_of(response) == "invalid_request", change
    target = await _exchange(http, runtime, kit, actor, relationship.id, audience="https://evil")
    assert error_of(target) == "invalid_target"


async def test_a_client_credentials_token_cannot_be_the_actor(
    http: httpx.AsyncClient, runtime: Runtime, organisation_id: str, firm: Agency
) -> None:
    relationship = await accepted(runtime, runtime.agents, firm)
    machine = await key_client(
        runtime,
        organisation_id,
        grant_types=["client_credentials", EXCHANGE],
        redirect_uris=[],
        scope=SERVICE,
    )
    own = await post_token(http, runtime, machine, {"grant_type": "client_credentials"})

    response = await _exchange(http, runtime, machine, own.json()["access_token"], relationship.id)

    assert response.status_code == 400 and error_of(response) == "invalid_request"


async def test_a_client_not_registered_for_the_grant_is_refused(
    http: httpx.AsyncClient,
    runtime: Runtime,
    organisation_id: str,
    firm: Agency,
    agent_user: Person,
) -> None:
    relationship = await accepted(runtime, runtime.agents, firm)
    plain = await _relying_party(runtime, organisation_id, grant_types=["authorization_code"])
    actor = await _own_token(http, runtime, plain, agent_user)

    response = await _exchange(http, runtime, plain, actor, relationship.id)

    assert response.status_code == 400 and error_of(response) == "unauthorized_client"


async def test_an_exchanged_token_cannot_act_again_by_default(
    http: httpx.AsyncClient, runtime: Runtime, kit: Kit, firm: Agency, agent_user: Person
) -> None:
    first = await accepted(runtime, runtime.agents, firm)
    actor = await _own_token(http, runtime, kit, agent_user)
    acting = (await _exchange(http, runtime, kit, actor, first.id)).json()["access_token"]
    second = await accepted(runtime, runtime.agents, firm)

    response = await _exchange(http, runtime, kit, acting, second.id)

    assert response.status_code == 400 and error_of(response) == "invalid_request"
    assert "deep" in response.json()["error_description"]


async def test_the_discovery_document_advertises_token_exchange(http: httpx.AsyncClient) -> None:
    document = (await http.get("/.well-known/openid-configuration")).json()
    assert EXCHANGE in document["grant_types_supported"]


# --- A gateway configured for nested delegation (max_delegation_depth = 2) ---------------------


@pytest.fixture(scope="module")
def deep_url(settings: Settings) -> Iterator[str]:
    with threaded_gateway(settings.model_copy(update={"max_delegation_depth": 2})) as url:
        yield url


async def test_nested_delegation_is_allowed_to_the_configured_depth_and_no_further(
    deep_url: str, runtime: Runtime, kit: Kit, firm: Agency, agent_user: Person
) -> None:
    """An agent user acts for a client who is in turn a member of an agency acting for a
    second client (an attorney's firm, say): the second token nests ``act`` (RFC 8693 §4.1).
    A third level is refused."""
    middle = await person(runtime)
    first = await accepted(runtime, runtime.agents, firm, middle)
    second_agency = await agency(runtime)
    await runtime.businesses.invite(
        second_agency.business.id, second_agency.admin.account_id, middle.email, Role.MEMBER
    )
    await runtime.businesses.accept(await emailed_token(runtime, middle.email), middle.account_id)
    end = await person(runtime)
    second = await accepted(runtime, runtime.agents, second_agency, end)
    third = await accepted(runtime, runtime.agents, firm)

    async with httpx.AsyncClient(base_url=deep_url, timeout=10) as deep:
        actor = await _own_token(deep, runtime, kit, agent_user)
        once = (await _exchange(deep, runtime, kit, actor, first.id)).json()["access_token"]
        twice = await _exchange(deep, runtime, kit, once, second.id)
        assert twice.status_code == 200, twice.text
        claims = _claims(runtime, twice.json()["access_token"])
        sector = kit.client.sector_identifier
        assert claims["sub"] == runtime.subjects.subject(sector, end.account_id)
        assert claims["act"] == {
            "sub": runtime.subjects.subject(sector, middle.account_id),
            "org": second_agency.business.id,
            "act": {
                "sub": runtime.subjects.subject(sector, agent_user.account_id),
                "org": firm.business.id,
            },
        }
        assert (await _acting_for(deep, twice.json()["access_token"])).status_code == 200
        thrice = await _exchange(deep, runtime, kit, twice.json()["access_token"], third.id)
        assert thrice.status_code == 400 and "deep" in thrice.json()["error_description"]


# --- A gateway on a clock the test moves (relationships that end) --------------------------


@pytest.fixture(scope="module")
def moving() -> MovableClock:
    return MovableClock(datetime.now(UTC))


@pytest.fixture(scope="module")
def moving_url(settings: Settings, moving: MovableClock) -> Iterator[str]:
    with threaded_gateway(settings, moving) as url:
        yield url


async def test_a_relationship_past_its_end_date_stops_tokens_and_exchanges(
    moving_url: str,
    moving: MovableClock,
    runtime: Runtime,
    organisation_id: str,
    firm: Agency,
    agent_user: Person,
) -> None:
    """The token is cut short at the end date, and after it nothing more is issued. (The
    client authenticates with a secret: an assertion's ``exp`` would not follow the clock.)"""
    kit = await secret_client(
        runtime, organisation_id, grant_types=GRANTS, scope=f"openid {SERVICE}"
    )
    agents = build_agents(
        runtime.settings,
        runtime.redis,
        moving,
        runtime.evidence,
        businesses=runtime.businesses,
        notifier=runtime.notifier,
        subjects=runtime.subjects,
    )
    ends_on = moving.now().date()
    relationship: Relationship = await accepted(runtime, agents, firm, ends_on=ends_on)
    account = await runtime.accounts.get(agent_user.account_id)
    async with httpx.AsyncClient(base_url=moving_url, timeout=10) as http:
        issued = await issue_code(runtime, kit, account, scope=("openid",), issued_at=moving.now())
        actor = (await exchange(http, runtime, kit, issued)).json()["access_token"]
        token = (await _exchange(http, runtime, kit, actor, relationship.id)).json()
        ends_at = datetime.combine(ends_on + timedelta(days=1), datetime.min.time(), UTC)
        assert _claims(runtime, token["access_token"])["exp"] <= int(ends_at.timestamp())

        moving.advance(days=1)

        assert (await _acting_for(http, token["access_token"])).status_code == 401
        issued = await issue_code(runtime, kit, account, scope=("openid",), issued_at=moving.now())
        actor = (await exchange(http, runtime, kit, issued)).json()["access_token"]
        again = await _exchange(http, runtime, kit, actor, relationship.id)
        assert again.status_code == 400 and "expired" in again.json()["error_description"]
