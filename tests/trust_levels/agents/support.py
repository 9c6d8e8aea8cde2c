"""Agent organisations, their staff, and relationships a client accepted, for the agents tests
and the token exchange tests. Made through the services on the real store (the pages are
tested in test_pages.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from gateway.runtime import Runtime
from tests.trust_levels.businesses.support import Person, emailed_token, person
from trust_levels.agents.models import KnownFacts, Relationship
from trust_levels.agents.services import INVITATION_PATH, AgentService
from trust_levels.assurance import NO_CONFIDENCE, Assurance, Freshness, Reached
from trust_levels.businesses.models import Business, NewBusiness, Role, group_names
from trust_levels.models import CredentialStrength

FACTS = KnownFacts.of("SW1A 1AA", "27", "3", "1980")
SERVICE = "self-assessment"
FRESHNESS = Freshness(timedelta(hours=1), timedelta(hours=1), timedelta(hours=1))


@dataclass(frozen=True, slots=True)
class Agency:
    """An agent organisation and its administrator."""

    business: Business
    admin: Person


async def agency(runtime: Runtime, *, agent: bool = True) -> Agency:
    admin = await person(runtime)
    business = await runtime.businesses.create(
        admin.account_id,
        NewBusiness.parse("Anytown Tax Advice", "sole_trader", "", agent=agent),
    )
    return Agency(business, admin)


async def staff(
    runtime: Runtime, agency: Agency, *, role: Role = Role.MEMBER, groups: str = ""
) -> Person:
    """A member of the agency who accepted an invitation, in ``groups`` (comma-separated)."""
    joining = await person(runtime)
    businesses = runtime.businesses
    await businesses.invite(agency.business.id, agency.admin.account_id, joining.email, role)
    await businesses.accept(await emailed_token(runtime, joining.email), joining.account_id)
    if groups:
        await businesses.set_groups(
            agency.business.id,
            agency.admin.account_id,
            joining.account_id,
            group_names(groups.split(",")),
        )
    return joining


def signed_in_at(now: datetime, strength: CredentialStrength) -> Assurance:
    """What a session that reached ``strength`` at ``now`` shows then."""
    reached = tuple(Reached(s, now) for s in reversed(CredentialStrength) if s <= strength)
    return Assurance(reached, NO_CONFIDENCE, now, FRESHNESS)


async def invited(
    agents: AgentService,
    agency: Agency,
    client: Person,
    *,
    service: str = SERVICE,
    groups: frozenset[str] = frozenset(),
    ends_on: date | None = None,
) -> str:
    """Invite ``client``; the link's secret."""
    invitation = await agents.invite(
        agency.business.id,
        agency.admin.account_id,
        email=client.email,
        service=service,
        facts=FACTS,
        groups=groups,
        ends_on=ends_on,
    )
    return invitation.token


async def accepted(
    runtime: Runtime,
    agents: AgentService,
    agency: Agency,
    client: Person | None = None,
    *,
    groups: frozenset[str] = frozenset(),
    ends_on: date | None = None,
) -> Relationship:
    """A relationship ``client`` (a new person unless given) accepted at Cl.Cm."""
    client = client or await person(runtime)
    token = await invited(agents, agency, client, groups=groups, ends_on=ends_on)
    account = await runtime.accounts.get(client.account_id)
    return await agents.accept(
        token,
        account,
        facts=FACTS,
        client_name="J Smith",
        assurance=signed_in_at(datetime.now(UTC), CredentialStrength.MEDIUM),
    )


def link_path(token: str) -> str:
    return INVITATION_PATH + token
