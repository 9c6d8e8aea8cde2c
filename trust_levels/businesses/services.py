"""Business accounts: create a business, invite and manage its members, enrol it in services.

A business has member accounts with a role (:class:`Role`): administrators invite people,
change roles, remove members, manage agent user groups and service enrolments; members act
for the business. Two rules hold whatever the order of requests:

- **a business never loses its last administrator**: demoting or removing the only one is
  refused in the same script that would do it (:mod:`trust_levels.businesses.store`);
- **an invitation link works once, for its addressee, for 7 days**: the link carries 256
  random bits (RFC 4086 §8; OWASP Forgot Password Cheat Sheet, "URL tokens") of which only
  the SHA-256 is kept; accepting needs a signed-in account holding the invited address, and
  deletes the invitation atomically with adding the member, so a replayed link finds nothing.

Someone who is not a member learns nothing about a business (its members, invitations and
services): every such request is :class:`BusinessNotFoundError`, as for an unknown id.
Every change is written to the evidence log naming the account that made it.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from gateway.accounts.errors import AccountNotFoundError
from gateway.accounts.models import email_hint, normalise_email
from gateway.accounts.records import self_actor
from gateway.accounts.services import AccountService
from gateway.core.clock import Clock
from gateway.core.ids import looks_like_id, new_id
from gateway.evidence.models import Event
from gateway.evidence.services import EvidenceLog
from gateway.notify.models import Channel, Notification
from gateway.notify.services import Notifier
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
from trust_levels.businesses.models import (
    ID_PREFIX,
    INVITATION_PREFIX,
    Business,
    Enrolment,
    Invitation,
    InvitationView,
    Membership,
    MemberView,
    NewBusiness,
    Role,
    service_name,
)
from trust_levels.businesses.store import BusinessStore, token_digest

INVITATION_SECONDS = 7 * 86_400
# Bounds what one administrator can make the gateway email (and keep) for one business.
MAX_WAITING_INVITATIONS = 50
JOIN_PATH = "/account/businesses/join"
TOKEN_BYTES = 32
_TOKEN_LENGTH = 43  # token_urlsafe(32): 256 bits in unpadded base64url
_UK = ZoneInfo("Europe/London")


def _not_found(business_id: str) -> BusinessNotFoundError:
    return BusinessNotFoundError(
        f"No business {business_id[:40]!r} that you belong to. See your businesses at "
        "/account/businesses."
    )


def _invalid_link() -> InvalidInvitationError:
    return InvalidInvitationError(
        "This invitation link is not valid: it may have expired, been used or been withdrawn. "
        "Ask an administrator of the business to invite you again."
    )


class BusinessService:
    """Businesses for the pages, the admin API and the agents package (``runtime.businesses``).

    Built from its store, the clock, the evidence log, the account service (members' email
    addresses), the notifier (invitation emails) and the issuer (the links in them).
    """

    def __init__(
        self,
        store: BusinessStore,
        clock: Clock,
        evidence: EvidenceLog,
        accounts: AccountService,
        notifier: Notifier,
        *,
        issuer: str,
    ) -> None:
        self._store = store
        self._clock = clock
        self._evidence = evidence
        self._accounts = accounts
        self._notifier = notifier
        self._issuer = issuer

    # --- the interface other packages use ------------------------------------------------

    async def get(self, business_id: str) -> Business:
        """The business; :class:`BusinessNotFoundError` for an unknown id."""
        found = (
            await self._store.get(business_id) if looks_like_id(business_id, ID_PREFIX) else None
        )
        if found is None:
            raise BusinessNotFoundError(f"No business has the id {business_id[:40]!r}.")
        return found

    async def membership(self, business_id: str, account_id: str) -> Membership | None:
        if not looks_like_id(business_id, ID_PREFIX):
            return None
        return await self._store.membership(business_id, account_id)

    async def memberships(self, account_id: str) -> list[tuple[Business, Membership]]:
        """Every business the account belongs to, by name."""
        found = []
        for business_id in await self._store.business_ids(account_id):
            membership = await self._store.membership(business_id, account_id)
            business = await self._store.get(business_id)
            if membership is None or business is None:
                await self._store.unindex(account_id, business_id)  # left, or never finished
                continue
            found.append((business, membership))
        return sorted(found, key=lambda pair: (pair[0].name.lower(), pair[0].id))

    async def members(self, business_id: str) -> list[Membership]:
        """Every member, in the order they joined (no check of who asks: callers do that)."""
        if not looks_like_id(business_id, ID_PREFIX):
            return []
        return await self._store.members(business_id)

    # --- businesses ----------------------------------------------------------------------

    async def create(self, account_id: str, new: NewBusiness) -> Business:
        """Create a business with ``account_id`` as its administrator; a registered number
        may belong to one business only (:class:`NumberAlreadyRegisteredError`)."""
        business = Business(
            id=new_id(ID_PREFIX),
            name=new.name,
            kind=new.kind.value,
            number=new.number.value if new.number else None,
            agent=new.agent,
            created_at=self._clock.now(),
        )
        index = new.number.index if new.number else None
        if await self._store.create(business, index, account_id) != business.id:
            raise NumberAlreadyRegisteredError(
                f"A business with the number {business.number} is already registered on "
                "GovConnect. Ask one of its administrators to invite you.",
                number=business.number,
            )
        details = {
            "name": business.name,
            "kind": business.kind,
            "number": business.number,
            "agent": business.agent,
        }
        await self._record(account_id, "business.created", business.id, details)
        return business

    async def registered(self, offset: int = 0, limit: int = 100) -> list[Business]:
        """Businesses, oldest first, for operators."""
        found = [await self._store.get(i) for i in await self._store.page(offset, limit)]
        return [business for business in found if business is not None]

    async def member_of(self, business_id: str, account_id: str) -> tuple[Business, Membership]:
        """The business and the account's membership; :class:`BusinessNotFoundError` for
        anyone who is not a member, exactly as for an unknown business."""
        membership = await self.membership(business_id, account_id)
        business = await self._store.get(business_id) if membership is not None else None
        if membership is None or business is None:
            raise _not_found(business_id)
        return business, membership

    async def administered(self, business_id: str, account_id: str) -> Business:
        """The business if the account administers it: :class:`NotAdministratorError` (with
        the administrators' addresses, so the person knows whom to ask) for a member."""
        business, membership = await self.member_of(business_id, account_id)
        if membership.role is not Role.ADMINISTRATOR:
            administrators = [
                view.email
                for view in await self._views(business_id)
                if view.membership.role is Role.ADMINISTRATOR and view.email
            ]
            raise NotAdministratorError(
                f"Only an administrator of {business.name} can do this. Ask "
                + (", ".join(administrators) or "an administrator")
                + ".",
                business_name=business.name,
                administrators=administrators,
            )
        return business

    async def member_views(self, business_id: str, viewer: str) -> list[MemberView]:
        """The members with their email addresses, for someone who is a member."""
        await self.member_of(business_id, viewer)
        return await self._views(business_id)

    async def _views(self, business_id: str) -> list[MemberView]:
        views = []
        for membership in await self._store.members(business_id):
            try:
                email: str | None = (await self._accounts.get(membership.account_id)).email
            except AccountNotFoundError:
                email = None
            views.append(MemberView(membership, email))
        return views

    # --- members -------------------------------------------------------------------------

    async def set_role(self, business_id: str, actor: str, account_id: str, role: Role) -> None:
        """An administrator changes a member's role (their own too, unless they are the last
        administrator)."""
        await self.administered(business_id, actor)
        result = await self._store.set_role(business_id, account_id, role)
        self._check_member_change(result, business_id)
        await self._record(
            actor,
            "business.member-role-changed",
            business_id,
            {"account_id": account_id, "role": role.value},
        )

    async def remove_member(self, business_id: str, actor: str, account_id: str) -> None:
        """An administrator removes a member, or a member leaves (``actor == account_id``)."""
        leaving = actor == account_id
        if leaving:
            await self.member_of(business_id, actor)
        else:
            await self.administered(business_id, actor)
        result = await self._store.remove(business_id, account_id)
        self._check_member_change(result, business_id)
        action = "business.member-left" if leaving else "business.member-removed"
        await self._record(actor, action, business_id, {"account_id": account_id})

    async def set_groups(
        self, business_id: str, actor: str, account_id: str, groups: frozenset[str]
    ) -> None:
        """An administrator of an agent organisation puts a member in user groups (the agents
        package limits which staff see which clients by them); ``groups`` comes from
        :func:`~trust_levels.businesses.models.group_names`."""
        business = await self.administered(business_id, actor)
        if not business.agent:
            raise InvalidGroupError(
                f"{business.name} is not an agent organisation: only agents have user groups."
            )
        if not await self._store.set_groups(business_id, account_id, groups):
            raise MemberNotFoundError(f"That account is not a member of {business.name}.")
        await self._record(
            actor,
            "business.member-groups-changed",
            business_id,
            {"account_id": account_id, "groups": sorted(groups)},
        )

    @staticmethod
    def _check_member_change(result: int, business_id: str) -> None:
        if result == -1:
            raise MemberNotFoundError(f"That account is not a member of business {business_id}.")
        if result == 0:
            raise LastAdministratorError(
                "A business must always have an administrator. Make another member an "
                "administrator first."
            )

    # --- invitations ---------------------------------------------------------------------

    async def invite(self, business_id: str, actor: str, email: str, role: Role) -> Invitation:
        """An administrator invites an email address; the link goes to it by email.

        Inviting an address again replaces its waiting invitation (the old link stops
        working). :class:`~gateway.accounts.errors.InvalidEmailError` for an address that is
        not one, :class:`AlreadyMemberError` when its account is a member.
        """
        business = await self.administered(business_id, actor)
        address = normalise_email(email)
        account = await self._accounts.find_by_email(address)
        if account is not None and await self._store.membership(business_id, account.id):
            raise AlreadyMemberError(f"{address} is already a member of {business.name}.")
        for waiting in await self._waiting(business_id):
            if waiting.email.lower() == address.lower():
                await self._store.drop_invitation(waiting)
        token = secrets.token_urlsafe(TOKEN_BYTES)
        now = self._clock.now()
        invitation = Invitation(
            id=new_id(INVITATION_PREFIX),
            business_id=business_id,
            email=address,
            role=role,
            invited_by=actor,
            created_at=now,
            expires_at=now + timedelta(seconds=INVITATION_SECONDS),
            digest=token_digest(token),
        )
        if not await self._store.add_invitation(
            invitation, limit=MAX_WAITING_INVITATIONS, ttl_seconds=INVITATION_SECONDS
        ):
            raise TooManyInvitationsError(
                f"{business.name} has {MAX_WAITING_INVITATIONS} invitations waiting. Withdraw "
                "some before sending more."
            )
        await self._notifier.send(
            Notification(
                Channel.EMAIL,
                address,
                "business-invitation",
                {
                    "business": business.name,
                    "role": "an administrator" if role is Role.ADMINISTRATOR else "a member",
                    "link": f"{self._issuer}{JOIN_PATH}/{token}",
                    "expires": _uk_date(invitation.expires_at),
                },
            )
        )
        await self._record(
            actor,
            "business.member-invited",
            business_id,
            {"invitation_id": invitation.id, "email": email_hint(address), "role": role.value},
        )
        return invitation

    async def invitations(self, business_id: str, actor: str) -> list[Invitation]:
        """The invitations waiting, for an administrator."""
        await self.administered(business_id, actor)
        return await self._waiting(business_id)

    async def _waiting(self, business_id: str) -> list[Invitation]:
        """Waiting invitations; expired ones are cleared as they are found."""
        now, waiting = self._clock.now(), []
        for invitation in await self._store.invitations(business_id):
            if invitation.expires_at <= now:
                await self._store.drop_invitation(invitation)
            else:
                waiting.append(invitation)
        return waiting

    async def revoke_invitation(self, business_id: str, actor: str, invitation_id: str) -> None:
        """An administrator withdraws an invitation; its link stops working at once."""
        await self.administered(business_id, actor)
        invitation = await self._store.invitation(business_id, invitation_id)
        if invitation is None or not await self._store.drop_invitation(invitation):
            raise _invalid_link()
        await self._record(
            actor, "business.invitation-revoked", business_id, {"invitation_id": invitation_id}
        )

    async def invitation_for_link(self, token: str) -> InvitationView:
        """What a link leads to, without using it; :class:`InvalidInvitationError` for a
        link that is malformed, unknown, expired, withdrawn or used (one error for all)."""
        if len(token) != _TOKEN_LENGTH or not token.isascii():
            raise _invalid_link()
        invitation = await self._store.find_invitation(token_digest(token))
        if invitation is None or invitation.expires_at <= self._clock.now():
            raise _invalid_link()
        business = await self._store.get(invitation.business_id)
        if business is None:
            raise _invalid_link()
        return InvitationView(invitation, business)

    async def accept(self, token: str, account_id: str) -> Membership:
        """The signed-in account joins with the role it was invited to.

        Only an account whose confirmed email address is the invited one may accept
        (:class:`InvitationEmailMismatchError`, and the link still works for its addressee);
        the link then works no more.
        """
        view = await self.invitation_for_link(token)
        invitation = view.invitation
        account = await self._accounts.get(account_id)
        if not account.email_verified or account.email.lower() != invitation.email.lower():
            raise InvitationEmailMismatchError(
                f"This invitation was sent to {email_hint(invitation.email)}. Sign in with that "
                "email address to accept it.",
                email_hint=email_hint(invitation.email),
            )
        joined_at = self._clock.now()
        result = await self._store.accept(invitation, account_id, joined_at)
        if result == 0:
            raise _invalid_link()
        if result == 2:
            raise AlreadyMemberError(f"You are already a member of {view.business.name}.")
        await self._record(
            account_id,
            "business.member-joined",
            invitation.business_id,
            {"invitation_id": invitation.id, "role": invitation.role.value},
        )
        return Membership(
            invitation.business_id, account_id, invitation.role, frozenset(), joined_at
        )

    # --- service enrolments ----------------------------------------------------------------

    async def enrol(self, business_id: str, actor: str, service: str) -> Enrolment:
        """An administrator enrols the business in a service (named as its scope); enrolling
        again changes nothing."""
        await self.administered(business_id, actor)
        enrolment = Enrolment(business_id, service_name(service), actor, self._clock.now())
        if await self._store.enrol(enrolment):
            await self._record(
                actor, "business.service-enrolled", business_id, {"service": enrolment.service}
            )
        return enrolment

    async def unenrol(self, business_id: str, actor: str, service: str) -> None:
        await self.administered(business_id, actor)
        if await self._store.unenrol(business_id, service):
            await self._record(actor, "business.service-removed", business_id, {"service": service})

    async def enrolments(self, business_id: str) -> list[Enrolment]:
        """The services the business is enrolled in (no check of who asks: callers do that)."""
        if not looks_like_id(business_id, ID_PREFIX):
            return []
        return await self._store.enrolments(business_id)

    async def _record(
        self, account_id: str, action: str, business_id: str, details: dict[str, Any]
    ) -> None:
        await self._evidence.record(Event(self_actor(account_id), action, business_id, details))


def _uk_date(moment: datetime) -> str:
    """``5 December 2026`` in UK time, as GOV.UK writes dates."""
    local = moment.astimezone(_UK)
    return f"{local.day} {local:%B %Y}"
