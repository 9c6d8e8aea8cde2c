"""Agent relationships: invitation, the client's known-fact check and acceptance, revocation by
either side, and the checks a token exchange (RFC 8693) makes before an agent user acts for a
client (DESIGN.md §2).

Every invitation, acceptance, decline, revocation and exchange is written to the evidence log
with both identities: the agent user and their organisation, and the client.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Protocol

from gateway.accounts.errors import InvalidEmailError
from gateway.accounts.models import Account, email_digest, normalise_email
from gateway.accounts.records import self_actor
from gateway.core.clock import Clock
from gateway.core.ids import looks_like_id, new_id
from gateway.core.redis import RedisClient
from gateway.core.settings import Settings
from gateway.evidence.models import Event
from gateway.evidence.services import EvidenceLog
from gateway.notify.models import Channel, Notification
from gateway.notify.services import Notifier
from gateway.oidc.subjects import PairwiseSubjects
from gateway.tokens.store import TokenStore
from trust_levels.agents.errors import (
    InvalidInvitationError,
    InvitationExpiredError,
    InvitationLockedError,
    InvitationNotFoundError,
    KnownFactsMismatchError,
    NotAMemberError,
    NotAnAdministratorError,
    NotAnAgentError,
    OutsideGroupsError,
    RelationshipNotActiveError,
    RelationshipNotFoundError,
    UnknownServiceError,
    WrongInviteeError,
    WrongServiceError,
)
from trust_levels.agents.models import (
    ID_PREFIX,
    MAX_CLIENT_NAME,
    Delegation,
    Invitation,
    KnownFacts,
    Relationship,
    RelationshipState,
    Side,
    UsableClient,
    end_of,
)
from trust_levels.agents.store import AcceptOutcome, RelationshipStore, digest
from trust_levels.assurance import Assurance
from trust_levels.businesses.errors import BusinessNotFoundError
from trust_levels.businesses.models import Business, Membership, Role
from trust_levels.models import Vector
from trust_levels.policies import AtLeast, check

INVITATION_TEMPLATE = "agent-invitation"
INVITATION_PATH = "/account/agents/invitations/"
# The "sector" under which the pairwise-subject secret keys the known-facts digest: a URN, so
# it can never be the sector of a relying party (a host name or a client id).
KNOWN_FACTS_SECTOR = "urn:govconnect:agents:known-facts"
_LIVE = frozenset({RelationshipState.PENDING, RelationshipState.ACTIVE})


class Businesses(Protocol):
    """What this package needs of ``trust_levels.businesses`` (``runtime.businesses``)."""

    async def get(self, business_id: str) -> Business: ...

    async def membership(self, business_id: str, account_id: str) -> Membership | None: ...

    async def memberships(self, account_id: str) -> list[tuple[Business, Membership]]: ...

    async def members(self, business_id: str) -> list[Membership]: ...


@dataclass(frozen=True, slots=True)
class AgentSettings:
    """The deployment's choices: the services an agent may be given, each with the level the
    client must be signed in at to give it; how long an invitation lasts; how many wrong
    known-fact answers an invitation takes; where the invitation link points."""

    services: Mapping[str, Vector]
    invitation_lifetime: timedelta
    attempt_limit: int
    issuer: str
    token_lifetime_seconds: int


@dataclass(frozen=True, slots=True)
class ClientView:
    """What a client sees on "Who can act for you": who (the organisation) and for what."""

    relationship: Relationship
    agent: Business


class AgentService:
    def __init__(
        self,
        store: RelationshipStore,
        clock: Clock,
        *,
        businesses: Businesses,
        notifier: Notifier,
        evidence: EvidenceLog,
        subjects: PairwiseSubjects,
        tokens: TokenStore,
        settings: AgentSettings,
    ) -> None:
        self._store = store
        self._clock = clock
        self._businesses = businesses
        self._notifier = notifier
        self._evidence = evidence
        self._subjects = subjects
        self._tokens = tokens
        self.settings = settings

    # --- The agent organisation's side -------------------------------------------------------

    async def invite(
        self,
        business_id: str,
        account_id: str,
        *,
        email: str,
        service: str,
        facts: KnownFacts,
        groups: frozenset[str],
        ends_on: date | None,
    ) -> Invitation:
        """An administrator of an agent organisation asks a client, by email, for authority in
        one service; the link is emailed and only its SHA-256 kept, the known facts only as a
        keyed digest."""
        business, _ = await self.administered(business_id, account_id)
        if service not in self.settings.services:
            raise UnknownServiceError(
                f"{service[:64]!r} is not a service agents can act in; choose one of "
                + ", ".join(sorted(self.settings.services))
            )
        try:
            address = normalise_email(email)
        except InvalidEmailError:
            raise InvalidInvitationError(
                "Enter the client's email address, like name@example.com", field="email"
            ) from None
        now = self._clock.now()
        ends_at = end_of(ends_on) if ends_on is not None else None
        if ends_at is not None and ends_at <= now:
            raise InvalidInvitationError("The end date must be today or later", field="ends_on")
        relationship = Relationship(
            id=new_id(ID_PREFIX),
            agent_id=business.id,
            service=service,
            invitee_email=address,
            groups=groups,
            state=RelationshipState.PENDING,
            invited_by=account_id,
            invited_at=now,
            invitation_expires_at=now + self.settings.invitation_lifetime,
            ends_at=ends_at,
        )
        token = secrets.token_urlsafe(32)
        await self._store.create(
            relationship,
            invite_digest=digest(token),
            facts_digest=self._facts_digest(relationship.id, facts),
            invite_ttl_seconds=int(self.settings.invitation_lifetime.total_seconds()),
        )
        await self._notifier.send(
            Notification(
                Channel.EMAIL,
                address,
                INVITATION_TEMPLATE,
                {
                    "agent_name": business.name,
                    "service": service,
                    "link": self.settings.issuer + INVITATION_PATH + token,
                    "expires": _day(relationship.invitation_expires_at),
                },
            )
        )
        await self._record(account_id, "agent.invited", relationship, business.id)
        return Invitation(relationship, token)

    async def for_organisation(self, business_id: str, account_id: str) -> list[Relationship]:
        """Every relationship of the organisation, newest first; members only."""
        await self._member(business_id, account_id)
        found = await self._store.for_organisation(business_id)
        return sorted(found, key=lambda r: r.invited_at, reverse=True)

    async def limit_groups(
        self, business_id: str, account_id: str, relationship_id: str, groups: frozenset[str]
    ) -> Relationship:
        """An administrator limits who in the organisation may use a relationship (no groups:
        every member)."""
        await self.administered(business_id, account_id)
        relationship = await self._of_organisation(business_id, relationship_id)
        changed = replace(relationship, groups=groups)
        stored = await self._store.update(
            relationship,
            allowed=_LIVE,
            fields={"groups": changed.to_fields()["groups"]},
            ends=False,
        )
        if not stored:
            raise self._not_active(relationship)
        await self._record(account_id, "agent.groups-limited", changed, business_id)
        return changed

    async def revoke_as_agent(
        self, business_id: str, account_id: str, relationship_id: str
    ) -> Relationship:
        """An administrator withdraws an invitation or gives up an authority."""
        await self.administered(business_id, account_id)
        relationship = await self._of_organisation(business_id, relationship_id)
        return await self._revoke(relationship, account_id, Side.AGENT)

    # --- The client's side -------------------------------------------------------------------

    async def invitation(self, token: str, account: Account) -> tuple[Relationship, Business]:
        """The pending invitation a link names, for the person it was sent to; an unknown,
        used or withdrawn link and a link for someone else read the same to a stranger."""
        relationship = await self._pending(token)
        if email_digest(account.email) != email_digest(relationship.invitee_email):
            raise WrongInviteeError(
                "This invitation was sent to another email address. Sign in with the account "
                "for the address the email was sent to."
            )
        return relationship, await self._businesses.get(relationship.agent_id)

    def required_level(self, service: str) -> Vector:
        """The credential level (and identity confidence) a client must show to accept."""
        return self.settings.services[service]

    async def accept(
        self,
        token: str,
        account: Account,
        *,
        facts: KnownFacts,
        client_name: str,
        assurance: Assurance,
    ) -> Relationship:
        """The client gives the authority: signed in at the level the service demands
        (:class:`~trust_levels.errors.PolicyNotMetError` otherwise, before any fact is
        compared), with the same known facts the agent gave (attempt-limited)."""
        relationship, business = await self.invitation(token, account)
        check(AtLeast(self.required_level(relationship.service)), assurance)
        name = " ".join(client_name.split())[:MAX_CLIENT_NAME]
        if not name:
            raise InvalidInvitationError(
                "Enter the name the agent will see you as", field="client_name"
            )
        now = self._clock.now()
        answer = await self._store.accept(
            relationship,
            invite_digest=digest(token),
            facts_digest=self._facts_digest(relationship.id, facts),
            attempt_limit=self.settings.attempt_limit,
            account_id=account.id,
            client_name=name,
            accepted_at=now.isoformat(),
        )
        if answer.outcome is AcceptOutcome.MISMATCH:
            await self._record(account.id, "agent.known-facts-mismatch", relationship, business.id)
            if answer.remaining <= 0:
                raise InvitationLockedError(_LOCKED)
            raise KnownFactsMismatchError(
                "The details you entered do not match the ones the agent gave",
                remaining=answer.remaining,
            )
        if answer.outcome is AcceptOutcome.LOCKED:
            raise InvitationLockedError(_LOCKED)
        if answer.outcome is AcceptOutcome.MISSING:
            raise InvitationNotFoundError(_NOT_FOUND)
        accepted = replace(
            relationship,
            state=RelationshipState.ACTIVE,
            client_account_id=account.id,
            client_name=name,
            accepted_at=now,
        )
        await self._record(account.id, "agent.accepted", accepted, business.id)
        return accepted

    async def decline(self, token: str, account: Account) -> Relationship:
        """The client refuses an invitation from its link."""
        relationship, business = await self.invitation(token, account)
        return await self._decline(relationship, account, business.id, digest(token))

    async def decline_pending(self, relationship_id: str, account: Account) -> Relationship:
        """The client refuses an invitation listed on "Who can act for you"."""
        relationship = await self._store.get(relationship_id) if _is_id(relationship_id) else None
        if relationship is None or email_digest(relationship.invitee_email) != email_digest(
            account.email
        ):
            raise RelationshipNotFoundError("There is no such invitation for you.")
        return await self._decline(relationship, account, relationship.agent_id, "")

    async def for_client(self, account: Account) -> tuple[list[ClientView], list[ClientView]]:
        """What "Who can act for you" shows: the active relationships, and the invitations
        waiting for an answer (sent to the account's address)."""
        now = self._clock.now()
        active = [
            r
            for r in await self._store.for_client(account.id)
            if r.client_account_id == account.id and r.state_at(now) is RelationshipState.ACTIVE
        ]
        pending = [
            r
            for r in await self._store.for_invitee(account.email)
            if r.state_at(now) is RelationshipState.PENDING
        ]
        return await self._views(active), await self._views(pending)

    async def revoke_as_client(self, account_id: str, relationship_id: str) -> Relationship:
        """The client withdraws the authority they gave."""
        relationship = await self._store.get(relationship_id) if _is_id(relationship_id) else None
        if relationship is None or relationship.client_account_id != account_id:
            raise RelationshipNotFoundError("You have given no such authority.")
        return await self._revoke(relationship, account_id, Side.CLIENT)

    # --- Acting for a client (token exchange, RFC 8693) -------------------------------------

    async def delegate(
        self, relationship_id: str, agent_account_id: str, service: str, client_id: str
    ) -> Delegation:
        """Whether the agent user may have a token for the client in ``service`` now: the
        relationship is active, for that service, and the user is a member of its
        organisation in a permitted group. Records the exchange for relying party
        ``client_id``."""
        relationship = await self._active(relationship_id)
        if relationship.service != service:
            raise WrongServiceError(
                f"The relationship is for the service {relationship.service}, not {service[:64]}."
            )
        membership = await self._businesses.membership(relationship.agent_id, agent_account_id)
        if membership is None:
            raise NotAMemberError(
                "The agent user is not a member of the organisation the client gave authority to."
            )
        if not relationship.permits(membership.groups):
            raise OutsideGroupsError(
                "The relationship is limited to agent user groups this user is not in."
            )
        assert relationship.client_account_id is not None
        await self._evidence.record(
            Event(
                self_actor(agent_account_id),
                "agent.token-exchanged",
                relationship.id,
                {
                    **_identities(relationship, relationship.agent_id),
                    "agent_account_id": agent_account_id,
                    "client_id": client_id,
                },
            )
        )
        return Delegation(
            relationship.id,
            relationship.client_account_id,
            relationship.agent_id,
            relationship.service,
            relationship.ends_at,
        )

    async def client_of(self, relationship_id: str) -> str:
        """The client an active relationship is for: an actor token that itself acts for a
        client names its actor this way (RFC 8693 §4.1, nested delegation)."""
        relationship = await self._active(relationship_id)
        assert relationship.client_account_id is not None
        return relationship.client_account_id

    async def acting_for(self, relationship_id: str, agent_id: str, service: str) -> Relationship:
        """The relationship behind an exchanged token, checked again at the moment of use."""
        relationship = await self._active(relationship_id)
        if relationship.agent_id != agent_id:
            raise RelationshipNotFoundError("The token names a relationship of another agent.")
        if relationship.service != service:
            raise WrongServiceError("The relationship is for another service.")
        return relationship

    async def usable(self, account_id: str) -> list[UsableClient]:
        """The active relationships an agent user may use, across their organisations."""
        now = self._clock.now()
        found: list[UsableClient] = []
        for business, membership in await self._businesses.memberships(account_id):
            if not business.agent:
                continue
            for relationship in await self._store.for_organisation(business.id):
                if relationship.state_at(now) is RelationshipState.ACTIVE and (
                    relationship.permits(membership.groups)
                ):
                    found.append(
                        UsableClient(
                            relationship.id,
                            business.id,
                            relationship.service,
                            relationship.client_name or "",
                            relationship.ends_at,
                        )
                    )
        return found

    async def delegates(self, client_account_id: str, service: str) -> list[tuple[str, str]]:
        """Who may act for the client in ``service`` now, as ``(relationship id, agent user
        account id)`` pairs: the reverse of :meth:`usable` (an active relationship, of an
        organisation still registered as an agent, and a member in a permitted group). For
        those who must be told of a change to the client's records (messaging's live
        updates); a client who never accepted a relationship costs one ``SMEMBERS``."""
        now = self._clock.now()
        found: list[tuple[str, str]] = []
        for relationship in await self._store.for_client(client_account_id):
            if (
                relationship.client_account_id != client_account_id
                or relationship.service != service
                or relationship.state_at(now) is not RelationshipState.ACTIVE
            ):
                continue
            try:
                business = await self._businesses.get(relationship.agent_id)
            except BusinessNotFoundError:
                continue
            if business.agent:
                found += [
                    (relationship.id, member.account_id)
                    for member in await self._businesses.members(business.id)
                    if relationship.permits(member.groups)
                ]
        return found

    # --- Shared steps ----------------------------------------------------------------------

    def _facts_digest(self, relationship_id: str, facts: KnownFacts) -> str:
        # NOTE: the pairwise-subject secret keys the digest (under its own sector, and bound
        # to the relationship id), so a copy of the store alone cannot test the small space of
        # postcodes and birth dates; a second secret file would add a key to lose for nothing.
        return self._subjects.subject(
            KNOWN_FACTS_SECTOR, f"{relationship_id}\x00{facts.canonical()}"
        )

    async def _pending(self, token: str) -> Relationship:
        relationship_id = await self._store.by_invite(digest(token)) if token else None
        relationship = await self._store.get(relationship_id) if relationship_id else None
        if relationship is None or relationship.state is not RelationshipState.PENDING:
            raise InvitationNotFoundError(_NOT_FOUND)
        if relationship.state_at(self._clock.now()) is RelationshipState.EXPIRED:
            raise InvitationExpiredError(
                "This invitation has expired. Ask the agent to send you a new one."
            )
        if relationship.attempts >= self.settings.attempt_limit:
            raise InvitationLockedError(_LOCKED)
        return relationship

    async def _active(self, relationship_id: str) -> Relationship:
        relationship = await self._store.get(relationship_id) if _is_id(relationship_id) else None
        if relationship is None:
            raise RelationshipNotFoundError("There is no agent relationship with that id.")
        if relationship.state_at(self._clock.now()) is not RelationshipState.ACTIVE:
            raise self._not_active(relationship)
        return relationship

    def _not_active(self, relationship: Relationship) -> RelationshipNotActiveError:
        state = relationship.state_at(self._clock.now())
        return RelationshipNotActiveError(
            f"The agent relationship is {state.value}, not active.", state=state.value
        )

    async def _decline(
        self, relationship: Relationship, account: Account, business_id: str, invite: str
    ) -> Relationship:
        now = self._clock.now()
        declined = replace(
            relationship, state=RelationshipState.DECLINED, ended_at=now, ended_by=Side.CLIENT
        )
        stored = await self._store.update(
            relationship,
            allowed=frozenset({RelationshipState.PENDING}),
            fields=_ending(declined),
            ends=True,
            invite_digest=invite,
        )
        if not stored:
            raise InvitationNotFoundError(_NOT_FOUND)
        if invite:
            await self._store.forget_invite(invite)
        await self._record(account.id, "agent.declined", declined, business_id)
        return declined

    async def _revoke(
        self, relationship: Relationship, account_id: str, side: Side
    ) -> Relationship:
        now = self._clock.now()
        revoked = replace(
            relationship, state=RelationshipState.REVOKED, ended_at=now, ended_by=side
        )
        stored = await self._store.update(
            relationship, allowed=_LIVE, fields=_ending(revoked), ends=True
        )
        if not stored:
            raise self._not_active(relationship)
        # Every token exchanged under the relationship carries its id as ``grant_id``: revoking
        # that family stops them at once (gateway.tokens.access.AccessTokens.verify).
        await self._tokens.revoke_family(relationship.id, self.settings.token_lifetime_seconds + 60)
        await self._record(
            account_id, f"agent.revoked-by-{side.value}", revoked, relationship.agent_id
        )
        return revoked

    async def _views(self, relationships: list[Relationship]) -> list[ClientView]:
        views = []
        for relationship in sorted(relationships, key=lambda r: r.invited_at, reverse=True):
            try:
                business = await self._businesses.get(relationship.agent_id)
            except BusinessNotFoundError:
                continue  # the organisation was removed: nothing to show or revoke
            views.append(ClientView(relationship, business))
        return views

    async def _member(self, business_id: str, account_id: str) -> tuple[Business, Membership]:
        try:
            business = await self._businesses.get(business_id)
        except BusinessNotFoundError:
            raise NotAMemberError("You are not a member of that organisation.") from None
        membership = await self._businesses.membership(business_id, account_id)
        if membership is None:
            raise NotAMemberError("You are not a member of that organisation.")
        if not business.agent:
            raise NotAnAgentError(
                f"{business.name} is not registered as an agent organisation, so it cannot act "
                "for clients."
            )
        return business, membership

    async def administered(self, business_id: str, account_id: str) -> tuple[Business, Membership]:
        """The agent organisation and the membership of one of its administrators;
        :class:`NotAnAdministratorError` for any other member."""
        business, membership = await self._member(business_id, account_id)
        if membership.role is not Role.ADMINISTRATOR:
            raise NotAnAdministratorError(
                "Only an administrator of the organisation can do this; ask one of them."
            )
        return business, membership

    async def _of_organisation(self, business_id: str, relationship_id: str) -> Relationship:
        relationship = await self._store.get(relationship_id) if _is_id(relationship_id) else None
        if relationship is None or relationship.agent_id != business_id:
            raise RelationshipNotFoundError("The organisation has no such client relationship.")
        return relationship

    async def _record(
        self, account_id: str, action: str, relationship: Relationship, business_id: str
    ) -> None:
        await self._evidence.record(
            Event(
                self_actor(account_id),
                action,
                relationship.id,
                _identities(relationship, business_id),
            )
        )


_NOT_FOUND = "This invitation link is not valid: it may have been used or withdrawn."
_LOCKED = (
    "The details were entered wrongly too many times. Ask the agent to send you a new invitation."
)


def _day(moment: datetime) -> str:
    """GOV.UK style: ``4 December 2026``."""
    return f"{moment.day} {moment:%B %Y}"


def _is_id(value: str) -> bool:
    return looks_like_id(value, ID_PREFIX)


def _ending(relationship: Relationship) -> dict[str, str]:
    fields = relationship.to_fields()
    return {name: fields[name] for name in ("state", "ended_at", "ended_by")}


def _identities(relationship: Relationship, business_id: str) -> dict[str, object]:
    """Both sides of a relationship, as the evidence log records them."""
    return {
        "agent_organisation_id": business_id,
        "invited_by": relationship.invited_by,
        "client_account_id": relationship.client_account_id,
        "invitee_email_digest": email_digest(relationship.invitee_email),
        "service": relationship.service,
        "state": relationship.state.value,
    }


def build_agents(
    settings: Settings,
    redis: RedisClient,
    clock: Clock,
    evidence: EvidenceLog,
    *,
    businesses: Businesses,
    notifier: Notifier,
    subjects: PairwiseSubjects,
) -> AgentService:
    """The agent relationships service as ``gateway.runtime`` wires it."""
    return AgentService(
        RelationshipStore(redis),
        clock,
        businesses=businesses,
        notifier=notifier,
        evidence=evidence,
        subjects=subjects,
        tokens=TokenStore(redis),
        settings=AgentSettings(
            services={name: Vector.parse(v) for name, v in settings.agent_services.items()},
            invitation_lifetime=timedelta(days=settings.agent_invitation_days),
            attempt_limit=settings.agent_known_fact_attempts,
            issuer=settings.issuer,
            token_lifetime_seconds=settings.access_token_lifetime_seconds,
        ),
    )
