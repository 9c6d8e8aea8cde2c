"""Agent relationships on the real store (trust_levels.agents.services): who may invite, what
is kept of the link and the known facts, the attempt-limited known-fact check, links replayed,
guessed or expired, the level the service demands, either side revoking, and the evidence
log."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from gateway.runtime import Runtime
from tests.support.clock import MovableClock
from tests.support.evidence import recorded
from tests.trust_levels.agents.support import (
    FACTS,
    Agency,
    agency,
    invited,
    signed_in_at,
    staff,
)
from tests.trust_levels.businesses.support import Person, person
from trust_levels.agents.errors import (
    InvalidKnownFactsError,
    InvitationExpiredError,
    InvitationLockedError,
    InvitationNotFoundError,
    KnownFactsMismatchError,
    NotAnAdministratorError,
    NotAnAgentError,
    RelationshipNotActiveError,
    RelationshipNotFoundError,
    UnknownServiceError,
    WrongInviteeError,
)
from trust_levels.agents.models import KnownFacts, RelationshipState
from trust_levels.agents.services import AgentService, build_agents
from trust_levels.agents.store import relationship_key
from trust_levels.businesses.models import Role
from trust_levels.errors import PolicyNotMetError
from trust_levels.models import CredentialStrength

WRONG = KnownFacts.of("SW1A 1AB", "27", "3", "1980")


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock(datetime.now(UTC))


@pytest.fixture
def agents(runtime: Runtime, clock: MovableClock) -> AgentService:
    return build_agents(
        runtime.settings,
        runtime.redis,
        clock,
        runtime.evidence,
        businesses=runtime.businesses,
        notifier=runtime.notifier,
        subjects=runtime.subjects,
    )


@pytest.fixture
async def firm(runtime: Runtime) -> Agency:
    return await agency(runtime)


@pytest.fixture
async def client(runtime: Runtime) -> Person:
    return await person(runtime)


async def _accept(
    runtime: Runtime,
    agents: AgentService,
    token: str,
    client: Person,
    facts: KnownFacts = FACTS,
    strength: CredentialStrength = CredentialStrength.MEDIUM,
) -> RelationshipState:
    account = await runtime.accounts.get(client.account_id)
    accepted = await agents.accept(
        token,
        account,
        facts=facts,
        client_name="J Smith",
        assurance=signed_in_at(datetime.now(UTC), strength),
    )
    return accepted.state


def test_known_facts_are_normalised_and_nonsense_is_refused() -> None:
    assert KnownFacts.of(" sw1a 1aa ", "27", "03", "1980") == FACTS
    for postcode, day, month, year, field in [
        ("NOT A POSTCODE", "1", "1", "1980", "postcode"),
        ("SW1A 1AA", "31", "2", "1980", "birth_date"),
        ("SW1A 1AA", "x", "1", "1980", "birth_date"),
        ("SW1A 1AA", "1", "1", "1850", "birth_date"),
    ]:
        with pytest.raises(InvalidKnownFactsError) as caught:
            KnownFacts.of(postcode, day, month, year)
        assert caught.value.field == field


async def test_only_an_administrator_of_an_agent_organisation_can_invite(
    runtime: Runtime, agents: AgentService, firm: Agency, client: Person
) -> None:
    member = await staff(runtime, firm, role=Role.MEMBER)
    plain = await agency(runtime, agent=False)

    async def invite(business_id: str, account_id: str, service: str) -> None:
        await agents.invite(
            business_id,
            account_id,
            email=client.email,
            service=service,
            facts=FACTS,
            groups=frozenset(),
            ends_on=None,
        )

    with pytest.raises(NotAnAdministratorError):
        await invite(firm.business.id, member.account_id, "self-assessment")
    with pytest.raises(NotAnAgentError):
        await invite(plain.business.id, plain.admin.account_id, "self-assessment")
    with pytest.raises(UnknownServiceError):
        await invite(firm.business.id, firm.admin.account_id, "payroll")
    assert await agents.for_organisation(firm.business.id, firm.admin.account_id) == []


async def test_the_store_keeps_neither_the_link_nor_the_facts_in_the_clear(
    runtime: Runtime, agents: AgentService, firm: Agency, client: Person
) -> None:
    token = await invited(agents, firm, client)
    (relationship,) = await agents.for_organisation(firm.business.id, firm.admin.account_id)

    stored = await runtime.redis.hgetall(relationship_key(relationship.id))

    text = repr(stored)
    assert token not in text
    assert "SW1A1AA" not in text and "1980-03-27" not in text
    assert len(stored["facts"]) == 43  # a keyed digest, base64url of 256 bits
    (email,) = await runtime.outbox.for_recipient(client.email, 1) if runtime.outbox else [None]
    assert email is not None and token in email.body and firm.business.name in email.body


async def test_wrong_facts_never_say_which_and_the_attempts_are_limited(
    runtime: Runtime, agents: AgentService, firm: Agency, client: Person
) -> None:
    token = await invited(agents, firm, client)
    limit = agents.settings.attempt_limit
    details = []
    for _ in range(limit - 1):
        with pytest.raises(KnownFactsMismatchError) as caught:
            await _accept(runtime, agents, token, client, WRONG)
        details.append(caught.value.detail)
    assert len(set(details)) == 1 and "postcode" not in details[0].lower()

    with pytest.raises(InvitationLockedError):
        await _accept(runtime, agents, token, client, WRONG)
    with pytest.raises(InvitationLockedError):
        await _accept(runtime, agents, token, client, FACTS)
    (relationship,) = await agents.for_organisation(firm.business.id, firm.admin.account_id)
    assert relationship.state is RelationshipState.PENDING
    assert len(await recorded(runtime.evidence, "agent.known-facts-mismatch", relationship.id)) == (
        limit
    )


async def test_a_link_is_single_use_unguessable_and_for_its_addressee_only(
    runtime: Runtime, agents: AgentService, firm: Agency, client: Person
) -> None:
    token = await invited(agents, firm, client)
    stranger = await person(runtime)

    with pytest.raises(WrongInviteeError):
        await _accept(runtime, agents, token, stranger)
    for guess in ("", token[:-1] + ("A" if token[-1] != "A" else "B"), "x" * 64):
        with pytest.raises(InvitationNotFoundError):
            await _accept(runtime, agents, guess, client)
    assert await _accept(runtime, agents, token, client) is RelationshipState.ACTIVE
    with pytest.raises(InvitationNotFoundError):
        await _accept(runtime, agents, token, client)


async def test_two_acceptances_at_once_succeed_exactly_once(
    runtime: Runtime, agents: AgentService, firm: Agency, client: Person
) -> None:
    token = await invited(agents, firm, client)

    results = await asyncio.gather(
        *(_accept(runtime, agents, token, client) for _ in range(5)), return_exceptions=True
    )

    assert results.count(RelationshipState.ACTIVE) == 1
    assert all(
        isinstance(r, InvitationNotFoundError) for r in results if r is not RelationshipState.ACTIVE
    )


async def test_an_invitation_expires_after_its_lifetime(
    runtime: Runtime, agents: AgentService, clock: MovableClock, firm: Agency, client: Person
) -> None:
    token = await invited(agents, firm, client)
    clock.advance(days=runtime.settings.agent_invitation_days, seconds=1)

    with pytest.raises(InvitationExpiredError):
        await _accept(runtime, agents, token, client)
    (relationship,) = await agents.for_organisation(firm.business.id, firm.admin.account_id)
    assert relationship.state_at(clock.now()) is RelationshipState.EXPIRED


async def test_accepting_needs_the_level_the_service_demands_before_any_fact_is_compared(
    runtime: Runtime, agents: AgentService, firm: Agency, client: Person
) -> None:
    token = await invited(agents, firm, client)

    with pytest.raises(PolicyNotMetError):
        await _accept(runtime, agents, token, client, WRONG, CredentialStrength.LOW)

    (relationship,) = await agents.for_organisation(firm.business.id, firm.admin.account_id)
    assert relationship.attempts == 0 and relationship.state is RelationshipState.PENDING


async def test_the_client_declines_and_the_link_then_works_no_more(
    runtime: Runtime, agents: AgentService, firm: Agency, client: Person
) -> None:
    token = await invited(agents, firm, client)
    account = await runtime.accounts.get(client.account_id)
    assert [v.relationship.id for v in (await agents.for_client(account))[1]]

    declined = await agents.decline(token, account)

    assert declined.state is RelationshipState.DECLINED
    assert await agents.for_client(account) == ([], [])
    with pytest.raises(InvitationNotFoundError):
        await _accept(runtime, agents, token, client)
    assert await recorded(runtime.evidence, "agent.declined", declined.id)


async def test_either_side_revokes_and_nobody_else_can(
    runtime: Runtime, agents: AgentService, firm: Agency, client: Person
) -> None:
    token = await invited(agents, firm, client)
    await _accept(runtime, agents, token, client)
    (relationship,) = await agents.for_organisation(firm.business.id, firm.admin.account_id)
    stranger, member = await person(runtime), await staff(runtime, firm)

    with pytest.raises(RelationshipNotFoundError):
        await agents.revoke_as_client(stranger.account_id, relationship.id)
    with pytest.raises(NotAnAdministratorError):
        await agents.revoke_as_agent(firm.business.id, member.account_id, relationship.id)
    with pytest.raises(RelationshipNotFoundError):
        other = await agency(runtime)
        await agents.revoke_as_agent(other.business.id, other.admin.account_id, relationship.id)

    revoked = await agents.revoke_as_client(client.account_id, relationship.id)
    assert revoked.state is RelationshipState.REVOKED
    with pytest.raises(RelationshipNotActiveError):
        await agents.revoke_as_agent(firm.business.id, firm.admin.account_id, relationship.id)
    (entry,) = await recorded(runtime.evidence, "agent.revoked-by-client", relationship.id)
    assert entry["details"]["agent_organisation_id"] == firm.business.id
    assert entry["details"]["client_account_id"] == client.account_id
    (invite,) = await recorded(runtime.evidence, "agent.invited", relationship.id)
    assert invite["actor"] == f"account:{firm.admin.account_id}"
    assert await recorded(runtime.evidence, "agent.accepted", relationship.id)
