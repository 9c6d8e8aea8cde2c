"""Business accounts on the real store: creating, inviting and accepting, roles, groups and
services, and the rules that hold against misuse (trust_levels.businesses.services)."""

from __future__ import annotations

import asyncio
import secrets

import pytest

from gateway.accounts.errors import InvalidEmailError
from gateway.runtime import Runtime
from tests.support.clock import MovableClock
from tests.trust_levels.businesses.support import Person, emailed_token, person
from trust_levels.businesses.errors import (
    AlreadyMemberError,
    BusinessNotFoundError,
    InvalidGroupError,
    InvalidInvitationError,
    InvitationEmailMismatchError,
    LastAdministratorError,
    MemberNotFoundError,
    NotAdministratorError,
    NumberAlreadyRegisteredError,
    TooManyInvitationsError,
)
from trust_levels.businesses.models import Business, NewBusiness, Role
from trust_levels.businesses.services import (
    INVITATION_SECONDS,
    MAX_WAITING_INVITATIONS,
    BusinessService,
)


def _company_number() -> str:
    return f"{secrets.randbelow(10**8):08d}"


async def _member(
    runtime: Runtime, businesses: BusinessService, business: Business, admin: Person, role: Role
) -> Person:
    """Someone invited by ``admin`` who accepted."""
    joining = await person(runtime)
    await businesses.invite(business.id, admin.account_id, joining.email, role)
    await businesses.accept(await emailed_token(runtime, joining.email), joining.account_id)
    return joining


async def test_the_creator_becomes_the_administrator_and_sees_the_business(
    businesses: BusinessService, owner: Person
) -> None:
    number = _company_number()
    created = await businesses.create(
        owner.account_id, NewBusiness.parse("Anytown Bakery Ltd", "company", number, agent=True)
    )
    assert created.id.startswith("bus_") and created.number == number and created.agent
    assert await businesses.get(created.id) == created
    membership = await businesses.membership(created.id, owner.account_id)
    assert membership is not None and membership.role is Role.ADMINISTRATOR
    assert membership.groups == frozenset()
    assert (created, membership) in await businesses.memberships(owner.account_id)


async def test_a_number_already_registered_is_refused_whoever_asks(
    runtime: Runtime, businesses: BusinessService, owner: Person
) -> None:
    number = _company_number()
    first = await businesses.create(
        owner.account_id, NewBusiness.parse("First Ltd", "company", number, agent=False)
    )
    someone = await person(runtime)
    with pytest.raises(NumberAlreadyRegisteredError):
        await businesses.create(
            someone.account_id, NewBusiness.parse("Copycat Ltd", "company", number, agent=False)
        )
    assert await businesses.memberships(someone.account_id) == []
    assert first in await businesses.registered(0, 100_000)


async def test_concurrent_creations_with_one_number_make_exactly_one_business(
    runtime: Runtime, businesses: BusinessService
) -> None:
    number, people = _company_number(), [await person(runtime) for _ in range(5)]
    results = await asyncio.gather(
        *(
            businesses.create(
                p.account_id, NewBusiness.parse("Race Ltd", "company", number, agent=False)
            )
            for p in people
        ),
        return_exceptions=True,
    )
    created = [r for r in results if isinstance(r, Business)]
    assert len(created) == 1
    assert all(isinstance(r, NumberAlreadyRegisteredError) for r in results if r not in created)


async def test_an_invited_person_accepts_with_the_emailed_link_and_joins_with_that_role(
    runtime: Runtime,
    businesses: BusinessService,
    business: Business,
    owner: Person,
    clock: MovableClock,
) -> None:
    invitee = await person(runtime)
    invitation = await businesses.invite(business.id, owner.account_id, invitee.email, Role.MEMBER)
    assert [i.id for i in await businesses.invitations(business.id, owner.account_id)] == [
        invitation.id
    ]
    token = await emailed_token(runtime, invitee.email)
    assert invitation.digest != token and token not in str(invitation.to_json())

    view = await businesses.invitation_for_link(token)
    assert view.business == business and view.invitation.email == invitee.email

    clock.advance(hours=1)
    membership = await businesses.accept(token, invitee.account_id)
    assert membership.role is Role.MEMBER
    assert await businesses.membership(business.id, invitee.account_id) == membership
    assert [m.account_id for m in await businesses.members(business.id)] == [
        owner.account_id,
        invitee.account_id,
    ]
    assert await businesses.invitations(business.id, owner.account_id) == []


async def test_the_invited_address_matches_whatever_its_case(
    runtime: Runtime, businesses: BusinessService, business: Business, owner: Person
) -> None:
    invitee = await person(runtime)
    await businesses.invite(business.id, owner.account_id, invitee.email.upper(), Role.MEMBER)
    token = await emailed_token(runtime, invitee.email)
    assert (await businesses.accept(token, invitee.account_id)).role is Role.MEMBER


async def test_someone_signed_in_with_another_address_cannot_accept_and_the_link_still_works(
    runtime: Runtime, businesses: BusinessService, business: Business, owner: Person
) -> None:
    invitee, intruder = await person(runtime), await person(runtime)
    await businesses.invite(business.id, owner.account_id, invitee.email, Role.ADMINISTRATOR)
    token = await emailed_token(runtime, invitee.email)
    with pytest.raises(InvitationEmailMismatchError):
        await businesses.accept(token, intruder.account_id)
    assert await businesses.membership(business.id, intruder.account_id) is None
    assert (await businesses.accept(token, invitee.account_id)).role is Role.ADMINISTRATOR


async def test_a_link_works_once(
    runtime: Runtime, businesses: BusinessService, business: Business, owner: Person
) -> None:
    invitee = await person(runtime)
    await businesses.invite(business.id, owner.account_id, invitee.email, Role.MEMBER)
    token = await emailed_token(runtime, invitee.email)
    await businesses.accept(token, invitee.account_id)
    await businesses.remove_member(business.id, owner.account_id, invitee.account_id)
    with pytest.raises(InvalidInvitationError):
        await businesses.accept(token, invitee.account_id)  # replayed after being removed
    assert await businesses.membership(business.id, invitee.account_id) is None


async def test_a_link_replayed_concurrently_admits_once(
    runtime: Runtime, businesses: BusinessService, business: Business, owner: Person
) -> None:
    invitee = await person(runtime)
    await businesses.invite(business.id, owner.account_id, invitee.email, Role.MEMBER)
    token = await emailed_token(runtime, invitee.email)
    results = await asyncio.gather(
        *(businesses.accept(token, invitee.account_id) for _ in range(5)), return_exceptions=True
    )
    assert sum(not isinstance(r, Exception) for r in results) == 1
    joined = [e for e in await runtime.evidence.entries(0, 100_000) if e["subject"] == business.id]
    assert [e["action"] for e in joined].count("business.member-joined") == 1


async def test_an_expired_link_is_refused(
    runtime: Runtime,
    businesses: BusinessService,
    business: Business,
    owner: Person,
    clock: MovableClock,
) -> None:
    invitee = await person(runtime)
    await businesses.invite(business.id, owner.account_id, invitee.email, Role.MEMBER)
    token = await emailed_token(runtime, invitee.email)
    clock.advance(seconds=INVITATION_SECONDS)
    with pytest.raises(InvalidInvitationError):
        await businesses.invitation_for_link(token)
    with pytest.raises(InvalidInvitationError):
        await businesses.accept(token, invitee.account_id)
    assert await businesses.invitations(business.id, owner.account_id) == []


async def test_a_withdrawn_link_and_a_replaced_link_are_refused(
    runtime: Runtime, businesses: BusinessService, business: Business, owner: Person
) -> None:
    invitee = await person(runtime)
    first = await businesses.invite(business.id, owner.account_id, invitee.email, Role.MEMBER)
    old_token = await emailed_token(runtime, invitee.email)
    await businesses.invite(business.id, owner.account_id, invitee.email, Role.MEMBER)
    new_token = await emailed_token(runtime, invitee.email)
    with pytest.raises(InvalidInvitationError):
        await businesses.accept(old_token, invitee.account_id)  # replaced by the second
    waiting = await businesses.invitations(business.id, owner.account_id)
    assert len(waiting) == 1 and waiting[0].id != first.id
    await businesses.revoke_invitation(business.id, owner.account_id, waiting[0].id)
    with pytest.raises(InvalidInvitationError):
        await businesses.accept(new_token, invitee.account_id)


@pytest.mark.parametrize(
    "token",
    ["", "x", "A" * 43, "A" * 44, "../../etc/passwd", "é" * 43, secrets.token_urlsafe(32)],
)
async def test_guessed_or_malformed_links_find_nothing(
    businesses: BusinessService, owner: Person, token: str
) -> None:
    with pytest.raises(InvalidInvitationError):
        await businesses.accept(token, owner.account_id)


async def test_a_member_cannot_invite_and_is_told_who_can(
    runtime: Runtime, businesses: BusinessService, business: Business, owner: Person
) -> None:
    member = await _member(runtime, businesses, business, owner, Role.MEMBER)
    with pytest.raises(NotAdministratorError) as raised:
        await businesses.invite(business.id, member.account_id, "someone@example.org", Role.MEMBER)
    assert raised.value.administrators == [owner.email]
    for attempt in (
        businesses.invitations(business.id, member.account_id),
        businesses.set_role(business.id, member.account_id, member.account_id, Role.ADMINISTRATOR),
        businesses.remove_member(business.id, member.account_id, owner.account_id),
        businesses.enrol(business.id, member.account_id, "parking-permits"),
    ):
        with pytest.raises(NotAdministratorError):
            await attempt
    membership = await businesses.membership(business.id, member.account_id)
    assert membership is not None and membership.role is Role.MEMBER


async def test_the_last_administrator_can_neither_leave_nor_be_demoted(
    runtime: Runtime, businesses: BusinessService, business: Business, owner: Person
) -> None:
    member = await _member(runtime, businesses, business, owner, Role.MEMBER)
    with pytest.raises(LastAdministratorError):
        await businesses.remove_member(business.id, owner.account_id, owner.account_id)
    with pytest.raises(LastAdministratorError):
        await businesses.set_role(business.id, owner.account_id, owner.account_id, Role.MEMBER)
    await businesses.set_role(business.id, owner.account_id, member.account_id, Role.ADMINISTRATOR)
    await businesses.remove_member(business.id, owner.account_id, owner.account_id)  # now fine
    assert [m.account_id for m in await businesses.members(business.id)] == [member.account_id]
    assert await businesses.memberships(owner.account_id) == []


async def test_two_administrators_demoting_each_other_at_once_leave_one(
    runtime: Runtime, businesses: BusinessService, business: Business, owner: Person
) -> None:
    other = await _member(runtime, businesses, business, owner, Role.ADMINISTRATOR)
    results = await asyncio.gather(
        businesses.set_role(business.id, owner.account_id, other.account_id, Role.MEMBER),
        businesses.set_role(business.id, other.account_id, owner.account_id, Role.MEMBER),
        return_exceptions=True,
    )
    roles = [m.role for m in await businesses.members(business.id)]
    assert roles.count(Role.ADMINISTRATOR) == 1
    assert any(isinstance(r, (LastAdministratorError, NotAdministratorError)) for r in results)


async def test_another_business_and_its_members_are_invisible_to_outsiders(
    runtime: Runtime, businesses: BusinessService, business: Business, owner: Person
) -> None:
    outsider = await person(runtime)
    for attempt in (
        businesses.member_of(business.id, outsider.account_id),
        businesses.member_views(business.id, outsider.account_id),
        businesses.invitations(business.id, outsider.account_id),
        businesses.invite(business.id, outsider.account_id, outsider.email, Role.ADMINISTRATOR),
        businesses.enrol(business.id, outsider.account_id, "parking-permits"),
        businesses.remove_member(business.id, outsider.account_id, owner.account_id),
        businesses.remove_member(business.id, outsider.account_id, outsider.account_id),
    ):
        with pytest.raises(BusinessNotFoundError) as raised:
            await attempt
        assert owner.email not in raised.value.detail
    assert await businesses.memberships(outsider.account_id) == []


async def test_an_administrator_cannot_reach_another_business_through_their_own(
    runtime: Runtime, businesses: BusinessService, business: Business, owner: Person
) -> None:
    """Roles are per business: administering one gives nothing in another."""
    rival = await person(runtime)
    theirs = await businesses.create(
        rival.account_id, NewBusiness.parse("Rival Plumbing", "sole_trader", "", agent=False)
    )
    with pytest.raises(BusinessNotFoundError):
        await businesses.set_role(theirs.id, owner.account_id, rival.account_id, Role.MEMBER)
    with pytest.raises(MemberNotFoundError):
        await businesses.remove_member(business.id, owner.account_id, rival.account_id)


async def test_inviting_a_member_or_a_non_address_is_refused(
    runtime: Runtime, businesses: BusinessService, business: Business, owner: Person
) -> None:
    with pytest.raises(AlreadyMemberError):
        await businesses.invite(business.id, owner.account_id, owner.email, Role.MEMBER)
    with pytest.raises(InvalidEmailError):
        await businesses.invite(business.id, owner.account_id, "not an address", Role.MEMBER)


async def test_agent_user_groups_are_set_by_administrators_of_agents_only(
    runtime: Runtime, businesses: BusinessService, owner: Person, business: Business
) -> None:
    agency = await businesses.create(
        owner.account_id, NewBusiness.parse("Anytown Advice", "other", "", agent=True)
    )
    staff = await _member(runtime, businesses, agency, owner, Role.MEMBER)
    await businesses.set_groups(agency.id, owner.account_id, staff.account_id, frozenset({"VAT"}))
    membership = await businesses.membership(agency.id, staff.account_id)
    assert membership is not None and membership.groups == frozenset({"VAT"})
    await businesses.set_groups(agency.id, owner.account_id, staff.account_id, frozenset())
    membership = await businesses.membership(agency.id, staff.account_id)
    assert membership is not None and membership.groups == frozenset()
    with pytest.raises(NotAdministratorError):
        await businesses.set_groups(agency.id, staff.account_id, staff.account_id, frozenset({"x"}))
    with pytest.raises(InvalidGroupError):  # not an agent organisation
        await businesses.set_groups(
            business.id, owner.account_id, owner.account_id, frozenset({"x"})
        )


async def test_services_are_enrolled_listed_and_removed_by_administrators(
    businesses: BusinessService, business: Business, owner: Person
) -> None:
    await businesses.enrol(business.id, owner.account_id, "parking-permits")
    await businesses.enrol(business.id, owner.account_id, "parking-permits")  # no duplicate
    await businesses.enrol(business.id, owner.account_id, "business-rates")
    assert [e.service for e in await businesses.enrolments(business.id)] == [
        "business-rates",
        "parking-permits",
    ]
    await businesses.unenrol(business.id, owner.account_id, "parking-permits")
    assert [e.service for e in await businesses.enrolments(business.id)] == ["business-rates"]


async def test_every_change_is_in_the_evidence_log_naming_the_actor(
    runtime: Runtime, businesses: BusinessService, business: Business, owner: Person
) -> None:
    member = await _member(runtime, businesses, business, owner, Role.MEMBER)
    await businesses.set_role(business.id, owner.account_id, member.account_id, Role.ADMINISTRATOR)
    await businesses.enrol(business.id, owner.account_id, "parking-permits")
    await businesses.remove_member(business.id, member.account_id, member.account_id)
    entries = [e for e in await runtime.evidence.entries(0, 100_000) if e["subject"] == business.id]
    assert [(e["action"], e["actor"]) for e in entries] == [
        ("business.created", f"account:{owner.account_id}"),
        ("business.member-invited", f"account:{owner.account_id}"),
        ("business.member-joined", f"account:{member.account_id}"),
        ("business.member-role-changed", f"account:{owner.account_id}"),
        ("business.service-enrolled", f"account:{owner.account_id}"),
        ("business.member-left", f"account:{member.account_id}"),
    ]
    assert member.email not in str(entries)  # addresses stay out of the permanent log


async def test_an_administrator_cannot_flood_addresses_with_invitations(
    businesses: BusinessService, business: Business, owner: Person
) -> None:
    for n in range(MAX_WAITING_INVITATIONS):
        await businesses.invite(
            business.id, owner.account_id, f"flood-{n}@example.org", Role.MEMBER
        )
    with pytest.raises(TooManyInvitationsError):
        await businesses.invite(business.id, owner.account_id, "one-more@example.org", Role.MEMBER)
    waiting = await businesses.invitations(business.id, owner.account_id)
    assert len(waiting) == MAX_WAITING_INVITATIONS
