"""Secure messaging's domain logic (DESIGN.md §4): teams, the subject directory, sending and
replying, reading with access checks, read receipts, folders, and the subject access export.

**Who may read.** Every read names its reader through an :class:`Access`, made by one of
:meth:`Messaging.as_citizen` (the citizen the conversation is with, or a member of the business
it is with), :meth:`Messaging.as_delegate` (an agent user under an active relationship for the
conversation's service with that citizen), :meth:`Messaging.as_staff` (staff of the team) and
:meth:`Messaging.as_council` (a system of the team's organisation). Anyone else — and any
guessed id — gets :class:`~messaging.errors.MessageNotFoundError`, the same answer as for a
conversation that does not exist, so a refusal never confirms one does. Reads by staff, by a
delegate and by a council system are written to the evidence log.

**Levels.** A message may demand a vector of trust (``Cl.Cm`` …). Opening a conversation on
the citizen's side checks the session against the strongest level its messages demand; staff
are held to ``GOVCONNECT_MESSAGING_STAFF_LEVEL``. A shortfall raises
:class:`~trust_levels.errors.PolicyNotMetError`, which the pages turn into a step-up.

**Writes** are ordered single-slot steps, each safe to repeat: the conversation, then the
message with its sealed parts (one script, once per message id), then the retention schedule,
the two inboxes and the notification queue. An ``Idempotency-Key`` retry of a council's send
finishes whatever an earlier attempt left undone and answers with the first message.
"""

from __future__ import annotations

import builtins
import hashlib
import json
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from gateway.accounts.errors import AccountError
from gateway.accounts.models import Account
from gateway.clients.models import Client
from gateway.core.clock import Clock
from gateway.core.ids import looks_like_id, new_id
from gateway.core.redis import RedisClient, RidingRead
from gateway.core.secretbox import UnsealError
from gateway.core.settings import Settings
from gateway.delivery.services import recipient_sector
from gateway.evidence.models import Event, canonical_json
from gateway.evidence.services import EvidenceLog
from gateway.notify.models import Channel, Notification
from gateway.notify.services import Notifier
from gateway.oidc.subjects import PairwiseSubjects
from gateway.organisations.errors import OrganisationError
from gateway.organisations.models import Organisation
from messaging import attachments
from messaging.attachments import CheckedFile
from messaging.crypto import (
    KEK_FILE_NAME,
    DataKeyMaterial,
    KekRing,
    open_sealed,
    seal,
    wrapped_kid,
)
from messaging.errors import (
    ConversationClosedError,
    IdempotencyConflictError,
    IdempotencyKeyError,
    InvalidCursorError,
    InvalidMessageError,
    MessageNotFoundError,
    RecipientNotFoundError,
    TeamNotFoundError,
)
from messaging.live import LiveSettings, LiveUpdates
from messaging.models import (
    ATTACHMENT_PREFIX,
    CONVERSATION_PREFIX,
    MAX_BODY,
    MAX_REFERENCE,
    MAX_SUBJECT,
    MESSAGE_PREFIX,
    TEAM_PREFIX,
    AttachmentInfo,
    Conversation,
    ConversationPage,
    ConversationState,
    Council,
    Folder,
    Message,
    MessageMeta,
    NewConversation,
    NewReply,
    NewTeam,
    Owner,
    OwnerKind,
    PageCursor,
    Recipient,
    Sent,
    Side,
    Summary,
    Team,
    Thread,
    Upload,
    demanded,
    retention,
)
from messaging.store import MessagingStore
from payments.receipts import Receipt
from trust_levels.agents.models import UsableClient
from trust_levels.assurance import Assurance
from trust_levels.businesses.errors import BusinessError
from trust_levels.businesses.models import Business, Membership
from trust_levels.models import CredentialStrength, Vector
from trust_levels.policies import AtLeast, check

# RFC 9110 token-ish: printable ASCII without spaces, as the Idempotency-Key draft suggests.
IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{8,255}")
NEW_MESSAGE_TEMPLATE = "new-message"
INBOX_LIMIT = 200
SWEEP_BATCH = 200
REWRAP_PAGE = 200
_LOWEST = Vector(CredentialStrength.LOW)


# --- what this package needs of others -----------------------------------------------------


# The sender a payment receipt names: the payments service itself, not a council's client.
RECEIPT_SENDER = "govconnect-payments"


class Accounts(Protocol):
    async def get(self, account_id: str) -> Account: ...


class Businesses(Protocol):
    async def get(self, business_id: str) -> Business: ...

    async def membership(self, business_id: str, account_id: str) -> Membership | None: ...

    async def memberships(self, account_id: str) -> list[tuple[Business, Membership]]: ...

    async def members(self, business_id: str) -> list[Membership]: ...


class Agents(Protocol):
    async def usable(self, account_id: str) -> list[UsableClient]: ...

    async def client_of(self, relationship_id: str) -> str: ...

    async def delegates(self, client_account_id: str, service: str) -> list[tuple[str, str]]: ...


class Organisations(Protocol):
    async def get(self, org_id: str) -> Organisation: ...


class Clients(Protocol):
    async def list(self) -> list[Client]: ...


@dataclass(frozen=True, slots=True)
class MessagingSettings:
    """The deployment's choices (``GOVCONNECT_MESSAGING_*``)."""

    attachment_max_bytes: int
    attachments_per_message: int
    notify_batch: timedelta
    notify_reminder: timedelta
    staff_level: Vector

    @classmethod
    def of(cls, settings: Settings) -> MessagingSettings:
        return cls(
            attachment_max_bytes=settings.messaging_attachment_max_bytes,
            attachments_per_message=settings.messaging_attachments_per_message,
            notify_batch=timedelta(seconds=settings.messaging_notify_batch_seconds),
            notify_reminder=timedelta(seconds=settings.messaging_notify_reminder_seconds),
            staff_level=Vector.parse(settings.messaging_staff_level),
        )


class ReaderKind(StrEnum):
    OWNER = "owner"  # the citizen, or a member of the business, the conversation is with
    DELEGATE = "delegate"  # an agent user acting for the citizen (read only)
    STAFF = "staff"  # staff of the conversation's team
    SYSTEM = "system"  # a council system of the team's organisation (the API)


@dataclass(frozen=True, slots=True)
class Access:
    """A reader proven entitled to one conversation: holding one means the checks passed."""

    conversation: Conversation
    team: Team
    kind: ReaderKind
    actor: str  # the evidence log's actor: "account:<id>" or "client:<id>"
    relationship_id: str | None = None
    # The messages' stored fields (sealed), read with the conversation for the open, reply or
    # download that follows the check; None reads them again.
    rows: tuple[dict[str, str], ...] | None = field(default=None, repr=False, compare=False)

    @property
    def side(self) -> Side:
        if self.kind in (ReaderKind.STAFF, ReaderKind.SYSTEM):
            return Side.COUNCIL
        return Side.CITIZEN

    @property
    def logged(self) -> bool:
        """Reads the evidence log records: everyone's but the citizen's own."""
        return self.kind is not ReaderKind.OWNER


@dataclass(frozen=True, slots=True)
class Rewrapped:
    """What a KEK rotation's sweep did: the KEK now wrapping, how many data keys it re-wrapped,
    and the messages whose key would not unwrap."""

    kek: str
    rewrapped: int
    unreadable: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"kek": self.kek, "rewrapped": self.rewrapped, "unreadable": list(self.unreadable)}


def account_actor(account_id: str) -> str:
    return f"account:{account_id}"


def _other(side: Side) -> Side:
    return Side.CITIZEN if side is Side.COUNCIL else Side.COUNCIL


def _not_found() -> MessageNotFoundError:
    return MessageNotFoundError("There is no such conversation, message or attachment for you.")


class Messaging:
    def __init__(
        self,
        store: MessagingStore,
        clock: Clock,
        evidence: EvidenceLog,
        ring: KekRing,
        *,
        accounts: Accounts,
        businesses: Businesses,
        agents: Agents,
        organisations: Organisations,
        clients: Clients,
        subjects: PairwiseSubjects,
        notifier: Notifier,
        settings: MessagingSettings,
        live: LiveUpdates,
    ) -> None:
        self._store = store
        self._clock = clock
        self._evidence = evidence
        self.ring = ring
        self._accounts = accounts
        self._businesses = businesses
        self._agents = agents
        self._organisations = organisations
        self._clients = clients
        self._subjects = subjects
        self._notifier = notifier
        self.settings = settings
        self.live = live
        self._organisation_names: dict[str, str] = {}

    # --- teams ----------------------------------------------------------------------------

    async def add_team(self, new: NewTeam, actor: str) -> Team:
        """A council service team of an existing organisation."""
        try:
            await self._organisations.get(new.organisation_id)
        except OrganisationError:
            raise TeamNotFoundError(
                f"There is no organisation {new.organisation_id[:64]}; add it first."
            ) from None
        team = Team(
            id=new_id(TEAM_PREFIX),
            organisation_id=new.organisation_id,
            name=new.name,
            service=new.service,
            view_days=new.view_days,
            record_days=new.record_days,
            created_at=self._clock.now(),
        )
        await self._store.put_team(team)
        await self._evidence.record(Event(actor, "messaging.team-added", team.id, team.to_json()))
        return team

    async def team(self, team_id: str) -> Team:
        team = await self._store.team(team_id) if looks_like_id(team_id, TEAM_PREFIX) else None
        if team is None:
            raise TeamNotFoundError(f"There is no team {team_id[:64]}.")
        return team

    async def teams(self) -> builtins.list[Team]:
        return await self._store.teams()

    async def add_staff(self, team_id: str, account_id: str, actor: str) -> None:
        team = await self.team(team_id)
        account = await self._accounts.get(account_id)
        await self._store.add_staff(team.id, account.id)
        await self._evidence.record(
            Event(actor, "messaging.staff-added", team.id, {"account_id": account.id})
        )

    async def remove_staff(self, team_id: str, account_id: str, actor: str) -> bool:
        team = await self.team(team_id)
        removed = await self._store.remove_staff(team.id, account_id)
        if removed:
            await self._evidence.record(
                Event(actor, "messaging.staff-removed", team.id, {"account_id": account_id})
            )
        return removed

    async def staff_teams(self, account_id: str) -> builtins.list[Team]:
        teams = [await self._store.team(t) for t in await self._store.teams_of(account_id)]
        return sorted((t for t in teams if t is not None), key=lambda t: t.name)

    async def team_staff(self, team_id: str) -> builtins.list[Account]:
        found = []
        for account_id in sorted(await self._store.staff(team_id)):
            try:
                found.append(await self._accounts.get(account_id))
            except AccountError:
                continue  # an account deleted since it joined the team
        return found

    # --- the subject directory ------------------------------------------------------------

    async def payment_received(self, receipt: Receipt) -> None:
        """A receipt in the citizen's inbox for a payment they made signed in (DESIGN.md §5),
        from the paid organisation's team for that service (else any of its teams); once per
        payment, whatever the retries (the payment id is the Idempotency-Key)."""
        teams = [t for t in await self.teams() if t.organisation_id == receipt.org_id]
        team = next((t for t in teams if t.service == receipt.service), teams[0] if teams else None)
        if team is None:
            # NOTE: an organisation with no messaging team has nowhere to write from; the
            # payment itself, its events and the council's webhook are unaffected.
            return
        sector = recipient_sector(receipt.org_id)
        sub = self._subjects.subject(sector, receipt.account_id)
        await self._store.remember_subject(sector, sub, receipt.account_id)
        pounds = f"£{receipt.amount // 100:,}.{receipt.amount % 100:02d}"
        card = (
            f" with {receipt.card_brand} ending {receipt.last_digits}"
            if receipt.last_digits
            else ""
        )
        request = NewConversation(
            team=team.id,
            to=Recipient(sub=sub),
            subject=f"Payment received: {receipt.description}"[:MAX_SUBJECT],
            reference=receipt.reference[:MAX_REFERENCE],
            body=(
                f"We received your payment of {pounds}{card} on {receipt.paid_at[:10]} for "
                f"{receipt.description} (reference {receipt.reference}). Keep this message as "
                "your receipt."
            ),
        )
        council = Council(RECEIPT_SENDER, receipt.org_id)
        await self.send(council, request, [], f"payment-receipt:{receipt.payment_id}")

    async def signed_in(self, client: Client, account_id: str) -> None:
        """A person signed in to a council's client (the authorization endpoint issued a
        code): its organisation may now write to them by the ``sub`` it receives."""
        await self.enrol(client, account_id)

    async def enrol(self, client: Client, account_id: str) -> str:
        """Let the client's organisation write to this person: remember the pairwise ``sub``
        the client was given (OIDC Core §8.1, the client's sector) and the one its
        organisation gets in submissions, each naming the account. Returns the client's
        ``sub``."""
        sub = self._subjects.subject(client.sector_identifier, account_id)
        sector = recipient_sector(client.organisation_id)
        await self._store.remember_subject(client.sector_identifier, sub, account_id)
        await self._store.remember_subject(
            sector, self._subjects.subject(sector, account_id), account_id
        )
        return sub

    async def _recipient(self, organisation_id: str, to: Recipient) -> Owner:
        if to.business is not None:
            try:
                business = await self._businesses.get(to.business)
            except BusinessError:
                raise RecipientNotFoundError(f"There is no business {to.business}.") from None
            return Owner(OwnerKind.BUSINESS, business.id)
        assert to.sub is not None
        sectors = {
            c.sector_identifier
            for c in await self._clients.list()
            if c.organisation_id == organisation_id
        } | {recipient_sector(organisation_id)}
        for sector in sorted(sectors):
            account_id = await self._store.subject_account(sector, to.sub)
            if account_id is not None:
                return Owner(OwnerKind.CITIZEN, account_id)
        raise RecipientNotFoundError(
            "No one your organisation's services know has that sub: use the pairwise sub your "
            "website was given at sign-in (after enrolling the person with "
            "POST /api/messaging/v1/recipients) or the one in a submission."
        )

    # --- the council's side ---------------------------------------------------------------

    async def send(
        self,
        council: Council,
        request: NewConversation,
        uploads: builtins.list[Upload],
        idempotency_key: str | None,
    ) -> Sent:
        """A new conversation from one of the council's teams, with its first message."""
        self._check_key(idempotency_key)
        assert idempotency_key is not None
        team = await self._council_team(council, request.team)
        files = self._check_files(uploads)
        owner = await self._recipient(council.organisation_id, request.to)
        digest = _request_digest(request.model_dump(), files)
        conversation_id, message_id, replayed = await self._claim(
            council, idempotency_key, digest, new_id(CONVERSATION_PREFIX)
        )
        now = self._clock.now()
        conversation = Conversation(
            id=conversation_id,
            team_id=team.id,
            organisation_id=team.organisation_id,
            service=team.service,
            owner=owner,
            subject=request.subject,
            reference=request.reference,
            created_at=now,
            updated_at=now,
        )
        await self._store.create_conversation(conversation)
        return await self._deliver(
            conversation, team, council.actor, request, files, message_id, replayed
        )

    async def council_reply(
        self,
        council: Council,
        conversation_id: str,
        request: NewReply,
        uploads: builtins.list[Upload],
        idempotency_key: str | None,
    ) -> Sent:
        """A council system's message in an existing conversation of its organisation."""
        self._check_key(idempotency_key)
        assert idempotency_key is not None
        access = await self.as_council(council, conversation_id)
        files = self._check_files(uploads)
        digest = _request_digest({**request.model_dump(), "conversation": conversation_id}, files)
        _, message_id, replayed = await self._claim(
            council, idempotency_key, digest, conversation_id
        )
        return await self._deliver(
            access.conversation, access.team, council.actor, request, files, message_id, replayed
        )

    async def council_conversations(
        self, council: Council, team_id: str | None, limit: int, before: PageCursor | None
    ) -> ConversationPage:
        """A page of the conversations of the organisation's teams (or of the one named),
        newest first by their inboxes' order (:meth:`MessagingStore.page`), and the cursor of
        the next page, which continues after the last inbox entry this page covered.

        A team that is not the organisation's lists nothing, as it always has. ``before``
        must come from a page asked with the same ``team``: otherwise it would continue
        another list, so it is refused."""
        if before is not None and before.team != team_id:
            asked = "all your teams" if before.team is None else f"team {before.team[:64]}"
            raise InvalidCursorError(
                f"This cursor continues the list of {asked}: send the same team parameter "
                "as the page that gave it, or leave before out to start from the newest."
            )
        # NOTE: the cursor is neither signed nor bound to the council: it grants nothing. It
        # only says where in an inbox to start, and the inboxes read are always the caller's
        # own teams', so a cursor made up or taken from another council lists only this
        # council's conversations.
        teams = [
            t for t in await self._store.teams() if t.organisation_id == council.organisation_id
        ]
        if team_id is not None:
            teams = [t for t in teams if t.id == team_id]
        after = None if before is None else (before.at, before.conversation_id)
        owners = [Owner(OwnerKind.TEAM, t.id) for t in teams]
        # One more than the page, only to learn whether a next page exists.
        entries = await self._store.page(owners, after, limit + 1)
        covered = entries[:limit]
        summaries = await self._lines([c for _, c in covered], Side.COUNCIL)
        following = None
        if len(entries) > limit:
            # After the last entry covered, listed or not: one that could not be listed (its
            # conversation or team gone) is not read again by every later page.
            following = PageCursor(covered[-1][0], covered[-1][1], team_id)
        return ConversationPage(tuple(summaries), following)

    async def _council_team(self, council: Council, team_id: str) -> Team:
        team = await self._store.team(team_id) if looks_like_id(team_id, TEAM_PREFIX) else None
        if team is None or team.organisation_id != council.organisation_id:
            raise TeamNotFoundError(
                f"Your organisation has no team {team_id[:64]}; ask the gateway's operators "
                "for your team ids ('govconnect messaging teams list')."
            )
        return team

    def _check_key(self, key: str | None) -> None:
        if key is None or not IDEMPOTENCY_KEY.fullmatch(key):
            raise IdempotencyKeyError(
                "Send an Idempotency-Key header of 8 to 255 printable characters (a UUID is "
                "ideal), the same on every retry of this message."
            )

    def _check_files(self, uploads: builtins.list[Upload]) -> builtins.list[CheckedFile]:
        return attachments.check(
            uploads,
            max_bytes=self.settings.attachment_max_bytes,
            max_count=self.settings.attachments_per_message,
        )

    async def _claim(
        self, council: Council, key: str, digest: str, conversation_id: str
    ) -> tuple[str, str, bool]:
        """The conversation and message ids this key stands for, and whether it was used
        before (with the same request: otherwise :class:`IdempotencyConflictError`)."""
        message_id = new_id(MESSAGE_PREFIX)
        claimed = await self._store.claim_idempotency(
            council.client_id,
            key,
            {"conversation": conversation_id, "message": message_id, "request_sha256": digest},
        )
        if claimed is None:
            return conversation_id, message_id, False
        if claimed["request_sha256"] != digest:
            raise IdempotencyConflictError(
                "This Idempotency-Key was used for a different message; use a new key for a "
                "new message.",
                message=claimed["message"],
            )
        return claimed["conversation"], claimed["message"], True

    async def _deliver(
        self,
        conversation: Conversation,
        team: Team,
        author: str,
        request: NewReply,
        files: builtins.list[CheckedFile],
        message_id: str,
        replayed: bool,
    ) -> Sent:
        found = await self._store.conversation(conversation.id)
        if found is None:  # pragma: no cover - written just above, or by the first attempt
            raise _not_found()
        conversation = found[0]
        stored = await self._store.message(conversation.id, message_id)
        if stored is not None:
            meta = MessageMeta.from_fields(stored)
        else:
            meta = await self._write(
                conversation,
                team,
                Side.COUNCIL,
                author,
                request.body,
                request.level,
                files,
                message_id,
            )
        # Repeated on a replay: an attempt that stopped after the write finishes here.
        await self._index(conversation, team, meta)
        if conversation.state is ConversationState.CLOSED:
            await self._reopen(conversation.id)
        return Sent(conversation, meta, replayed=replayed)

    # --- writing ------------------------------------------------------------------------

    async def _write(
        self,
        conversation: Conversation,
        team: Team,
        side: Side,
        author: str,
        body: str,
        level: str | None,
        files: builtins.list[CheckedFile],
        message_id: str,
    ) -> MessageMeta:
        """Seal and store one message; its metadata."""
        if not body.strip() or len(body) > MAX_BODY:
            raise InvalidMessageError(f"A message needs a body of 1 to {MAX_BODY} characters.")
        now = self._clock.now()
        visible_until, destroy_at = retention(team, now)
        meta = MessageMeta(
            id=message_id,
            conversation_id=conversation.id,
            side=side,
            author=author,
            sent_at=now,
            level=level,
            visible_until=visible_until,
            destroy_at=destroy_at,
        )
        key = DataKeyMaterial.generate()
        named = [(new_id(ATTACHMENT_PREFIX), f) for f in files]
        document = {
            "body": body,
            "attachments": [
                AttachmentInfo(aid, f.filename, f.content_type, len(f.data)).to_json()
                for aid, f in named
            ],
        }
        fields = {
            "meta": meta.dumps(),
            "key": self.ring.wrap(key, message_id=message_id),
            "body": seal(key, canonical_json(document), message_id=message_id, part="body"),
        }
        for aid, f in named:
            fields[f"att:{aid}"] = seal(
                key, f.data, message_id=message_id, part=f"attachment:{aid}"
            )
        added = await self._store.add_message(
            conversation.id, message_id, now, _other(side), fields
        )
        if added < 0:  # pragma: no cover - the conversation is read before every write
            raise _not_found()
        await self._evidence.record(
            Event(
                author,
                "message.sent",
                conversation.id,
                {
                    "message": message_id,
                    "side": side.value,
                    "team": team.id,
                    "level": level,
                    "attachments": len(named),
                },
            )
        )
        return meta

    async def _index(self, conversation: Conversation, team: Team, meta: MessageMeta) -> None:
        """The steps after a write, each safe to repeat: retention, both inboxes, and (for a
        council's message) the recipients' notifications."""
        await self._store.schedule_destroy(conversation.id, meta.id, meta.destroy_at)
        await self._store.file(Owner(OwnerKind.TEAM, team.id), conversation.id, meta.sent_at)
        await self._store.file(conversation.owner, conversation.id, meta.sent_at)
        if meta.side is Side.COUNCIL:
            sender = await self._organisation_name(team.organisation_id)
            for account_id in await self._recipients(conversation.owner):
                await self._store.queue_notification(
                    account_id,
                    sender,
                    meta.sent_at + self.settings.notify_batch,
                    f"{conversation.id} {meta.id} {account_id}",
                    meta.sent_at + self.settings.notify_reminder,
                )
        await self._changed(conversation, team, meta.side, message=True)

    async def _changed(
        self, conversation: Conversation, team: Team, by: Side, *, message: bool
    ) -> None:
        """Tell both sides' open pages that the conversation changed (messaging/live.py),
        with the agents who may read it for the citizen (:meth:`as_delegate`'s rule, asked
        now: an agent whose relationship ended, or covers another service, is not told)."""
        owner = conversation.owner
        delegates = (
            await self._agents.delegates(owner.id, conversation.service)
            if owner.kind is OwnerKind.CITIZEN
            else []
        )
        await self.live.publish(
            conversation.id,
            by,
            message=message,
            citizens=await self._recipients(owner),
            staff=await self._store.staff(team.id),
            delegates=delegates,
        )

    async def _recipients(self, owner: Owner) -> builtins.list[str]:
        if owner.kind is OwnerKind.CITIZEN:
            return [owner.id]
        return [m.account_id for m in await self._businesses.members(owner.id)]

    async def reply(
        self,
        access: Access,
        body: str,
        uploads: builtins.list[Upload],
        assurance: Assurance | None,
    ) -> MessageMeta:
        """A reply from the reader's side (a delegate's access is read only)."""
        if access.kind is ReaderKind.DELEGATE:
            raise _not_found()
        conversation = access.conversation
        closed = conversation.state is ConversationState.CLOSED
        if closed and access.side is Side.CITIZEN:
            raise ConversationClosedError(
                "This conversation is closed; the council can reopen it by writing again."
            )
        metas = await self._metas(access)
        self._check_level(access, metas, assurance)
        files = self._check_files(uploads)
        meta = await self._write(
            conversation,
            access.team,
            access.side,
            access.actor,
            body,
            None,
            files,
            new_id(MESSAGE_PREFIX),
        )
        await self._index(conversation, access.team, meta)
        if closed:
            await self._reopen(conversation.id)
        return meta

    async def _reopen(self, conversation_id: str) -> None:
        """The council writing in a closed conversation opens it again."""
        await self._store.set_conversation(conversation_id, state=ConversationState.OPEN.value)

    # --- access ---------------------------------------------------------------------------

    async def _load(
        self, conversation_id: str, riding: RidingRead | None = None
    ) -> tuple[Conversation, Team, tuple[dict[str, str], ...]]:
        """The conversation, its team and its messages' stored fields, in one or two round
        trips (:meth:`MessagingStore.thread`), with the ``riding`` reads checked first. The
        messages are read with the conversation, before the caller's check, so that opening
        it costs no further trip; nothing of them leaves this process unless the check
        passes."""
        if not looks_like_id(conversation_id, CONVERSATION_PREFIX):
            if riding is not None:
                await self._store.riding_only(riding)  # a refused token is told so, not 404
            raise _not_found()
        found = await self._store.thread(conversation_id, riding)
        if found is None:
            raise _not_found()
        conversation, team, rows = found
        if team is None:
            raise _not_found()
        return conversation, team, tuple(rows)

    async def as_citizen(self, account_id: str, conversation_id: str) -> Access:
        """The citizen the conversation is with, or a member of its business."""
        conversation, team, rows = await self._load(conversation_id)
        owner = conversation.owner
        if (owner.kind is OwnerKind.CITIZEN and owner.id == account_id) or (
            owner.kind is OwnerKind.BUSINESS
            and await self._businesses.membership(owner.id, account_id) is not None
        ):
            return Access(
                conversation, team, ReaderKind.OWNER, account_actor(account_id), rows=rows
            )
        raise _not_found()

    async def relationship(self, account_id: str, relationship_id: str) -> UsableClient:
        """An active relationship the agent user may use now, or not found."""
        for usable in await self._agents.usable(account_id):
            if usable.relationship_id == relationship_id:
                return usable
        raise _not_found()

    async def as_delegate(
        self, account_id: str, relationship_id: str, conversation_id: str
    ) -> Access:
        """An agent user acting for the citizen under an active relationship for the
        conversation's service."""
        usable = await self.relationship(account_id, relationship_id)
        conversation, team, rows = await self._load(conversation_id)
        client = await self._agents.client_of(usable.relationship_id)
        if conversation.service != usable.service or conversation.owner != Owner(
            OwnerKind.CITIZEN, client
        ):
            raise _not_found()
        return Access(
            conversation,
            team,
            ReaderKind.DELEGATE,
            account_actor(account_id),
            usable.relationship_id,
            rows,
        )

    async def as_staff(self, account_id: str, conversation_id: str) -> Access:
        conversation, team, rows = await self._load(conversation_id)
        if not await self._store.is_staff(team.id, account_id):
            raise _not_found()
        return Access(conversation, team, ReaderKind.STAFF, account_actor(account_id), rows=rows)

    async def as_council(
        self, council: Council, conversation_id: str, *, riding: RidingRead | None = None
    ) -> Access:
        """The council's access; ``riding`` (its token's revocation reads) goes in the same
        pipeline and is checked before anything else."""
        conversation, team, rows = await self._load(conversation_id, riding)
        if team.organisation_id != council.organisation_id:
            raise _not_found()
        return Access(conversation, team, ReaderKind.SYSTEM, council.actor, rows=rows)

    # --- reading --------------------------------------------------------------------------

    async def _metas(self, access: Access) -> builtins.list[tuple[MessageMeta, dict[str, str]]]:
        """The messages the reader may see: on the citizen's side, those still in view."""
        conversation_id = access.conversation.id
        rows = access.rows
        if rows is None:
            ids = await self._store.message_ids(conversation_id)
            rows = tuple(await self._store.messages(conversation_id, ids))
        now = self._clock.now()
        found = [(MessageMeta.from_fields(r), r) for r in rows]
        if access.side is Side.CITIZEN:
            found = [(m, r) for m, r in found if m.visible_at(now)]
            if not found:
                raise _not_found()  # the whole conversation has left the citizen's view
        return found

    def _check_level(
        self,
        access: Access,
        metas: builtins.list[tuple[MessageMeta, dict[str, str]]],
        assurance: Assurance | None,
    ) -> None:
        """:class:`~trust_levels.errors.PolicyNotMetError` when the reader's sign-in is below
        what the messages demand (staff: below the staff level too)."""
        if access.kind is ReaderKind.SYSTEM:
            return  # a council system reads its own organisation's record
        level = demanded(m.level for m, _ in metas) or _LOWEST
        if access.kind is ReaderKind.STAFF:
            level = demanded([str(level), str(self.settings.staff_level)]) or level
        assert assurance is not None, "a person's read needs the session's assurance"
        check(AtLeast(level), assurance)

    async def open(self, access: Access, assurance: Assurance | None) -> Thread:
        """The conversation with its messages decrypted, after the level check; read receipts
        set for the other side's messages; logged unless the citizen reads their own."""
        metas = await self._metas(access)
        self._check_level(access, metas, assurance)
        messages = [self._decrypt(meta, fields) for meta, fields in metas]
        now = self._clock.now()
        receipts = [
            m.meta.id
            for m in messages
            if m.meta.side is not access.side and m.meta.read_at is None and not m.meta.destroyed
        ]
        if receipts:
            # The receipts as stored: this reader's, or a concurrent first reader's.
            rows = await self._store.mark_read(
                access.conversation.id, receipts, now, access.actor, access.side
            )
            await self._changed(access.conversation, access.team, access.side, message=False)
            read = {m.id: m for m in map(MessageMeta.from_fields, rows)}
            messages = [
                Message(read.get(m.meta.id, m.meta), m.body, m.attachments) for m in messages
            ]
        if access.logged:
            await self._record_read(access, [m.meta.id for m in messages])
        # The conversation as the access check read it, not read again: receipts change only
        # the messages and the unread counts, which a thread does not show.
        return Thread(
            access.conversation,
            access.team,
            await self._organisation_name(access.team.organisation_id),
            tuple(messages),
        )

    async def _record_read(self, access: Access, message_ids: builtins.list[str]) -> None:
        action = "message.read-delegated" if access.kind is ReaderKind.DELEGATE else "message.read"
        details: dict[str, Any] = {
            "team": access.team.id,
            "reader": access.kind.value,
            "messages": message_ids,
        }
        if access.relationship_id is not None:
            details["relationship"] = access.relationship_id
        await self._evidence.record(Event(access.actor, action, access.conversation.id, details))

    def _decrypt(self, meta: MessageMeta, fields: dict[str, str]) -> Message:
        if meta.destroyed or "key" not in fields or "body" not in fields:
            return Message(meta, None)
        key = self.ring.unwrap(fields["key"], message_id=meta.id)
        document = json.loads(open_sealed(key, fields["body"], message_id=meta.id, part="body"))
        return Message(
            meta,
            str(document["body"]),
            tuple(AttachmentInfo.from_json(a) for a in document["attachments"]),
        )

    async def attachment(
        self, access: Access, message_id: str, attachment_id: str, assurance: Assurance | None
    ) -> tuple[AttachmentInfo, bytes]:
        """One attachment's name, type and bytes, under the same checks as :meth:`open`."""
        metas = await self._metas(access)
        self._check_level(access, metas, assurance)
        chosen = next(((m, f) for m, f in metas if m.id == message_id), None)
        if chosen is None or not looks_like_id(attachment_id, ATTACHMENT_PREFIX):
            raise _not_found()
        message = self._decrypt(*chosen)
        info = next((a for a in message.attachments if a.id == attachment_id), None)
        sealed = await self._store.attachment(access.conversation.id, message_id, attachment_id)
        if info is None or sealed is None:
            raise _not_found()
        key = self.ring.unwrap(sealed[0], message_id=message_id)
        data = open_sealed(
            key, sealed[1], message_id=message_id, part=f"attachment:{attachment_id}"
        )
        if access.logged:
            await self._record_read(access, [message_id])
        return info, data

    # --- inboxes --------------------------------------------------------------------------

    async def inbox(self, account_id: str) -> builtins.list[Summary]:
        """The person's own conversations and their businesses', in every folder."""
        owners = [Owner(OwnerKind.CITIZEN, account_id)] + [
            Owner(OwnerKind.BUSINESS, business.id)
            for business, _ in await self._businesses.memberships(account_id)
        ]
        return await self._summaries(owners, Side.CITIZEN)

    async def delegated_inbox(
        self, account_id: str, relationship_id: str
    ) -> tuple[UsableClient, builtins.list[Summary]]:
        """A client's conversations in the relationship's service, as their agent sees them."""
        usable = await self.relationship(account_id, relationship_id)
        client = await self._agents.client_of(usable.relationship_id)
        summaries = await self._summaries([Owner(OwnerKind.CITIZEN, client)], Side.CITIZEN)
        return usable, [
            s
            for s in summaries
            if s.conversation.service == usable.service and s.folder is not Folder.DELETED
        ]

    async def team_inbox(self, account_id: str) -> builtins.list[Summary]:
        owners = [Owner(OwnerKind.TEAM, t.id) for t in await self.staff_teams(account_id)]
        return await self._summaries(owners, Side.COUNCIL)

    async def _summaries(self, owners: builtins.list[Owner], side: Side) -> builtins.list[Summary]:
        found: list[Summary] = []
        for owner in owners:
            ids, archived, deleted = await self._store.box(owner, INBOX_LIMIT)
            found += await self._lines(ids, side, archived, deleted)
        return sorted(found, key=lambda s: s.conversation.updated_at, reverse=True)

    async def _lines(
        self,
        ids: builtins.list[str],
        side: Side,
        archived: Collection[str] = (),
        deleted: Collection[str] = (),
    ) -> builtins.list[Summary]:
        """The inbox lines of those conversations for ``side``, in the order given: those
        whose conversation and team still exist and, on the citizen's side, still in view,
        in the folder ``archived`` and ``deleted`` put them in."""
        now = self._clock.now()
        loaded = await self._store.conversations(ids) if ids else []
        teams = await self._store.teams_by_id(c.team_id for c, _ in loaded)
        found: list[Summary] = []
        for conversation, unread in loaded:
            conversation_id = conversation.id
            team = teams.get(conversation.team_id)
            if team is None:
                continue
            folder = Folder.INBOX
            if side is Side.CITIZEN:
                # Whole conversations leave the view once their newest message has.
                if now >= conversation.updated_at + timedelta(days=team.view_days):
                    continue
                if conversation_id in deleted:
                    folder = Folder.DELETED
                elif conversation_id in archived:
                    folder = Folder.ARCHIVED
            found.append(
                Summary(
                    conversation,
                    team,
                    await self._organisation_name(team.organisation_id),
                    unread[side.value],
                    folder,
                )
            )
        return found

    async def move(self, access: Access, folder: Folder) -> None:
        """Archive, delete from view, or bring back: the citizen's own view only; the
        council's record is untouched."""
        if access.kind is not ReaderKind.OWNER:
            raise _not_found()
        # NOTE: a business's folders are shared by its members, like its inbox: one member
        # archiving a conversation archives it for all of them.
        await self._store.move(access.conversation.owner, access.conversation.id, folder)

    # --- staff ----------------------------------------------------------------------------

    async def assign(self, access: Access, account_id: str | None) -> None:
        """Give the conversation to one of the team's staff (or to nobody)."""
        if access.kind is not ReaderKind.STAFF:
            raise _not_found()
        if account_id is not None and not await self._store.is_staff(access.team.id, account_id):
            raise InvalidMessageError("Choose someone on this team.")
        await self._store.set_conversation(access.conversation.id, assigned_to=account_id or "")
        await self._evidence.record(
            Event(access.actor, "conversation.assigned", access.conversation.id, {"to": account_id})
        )

    async def close(self, access: Access) -> None:
        if access.kind is not ReaderKind.STAFF:
            raise _not_found()
        await self._store.set_conversation(
            access.conversation.id, state=ConversationState.CLOSED.value
        )
        await self._evidence.record(
            Event(access.actor, "conversation.closed", access.conversation.id, {})
        )

    # --- the subject access export --------------------------------------------------------

    async def export(self, account_id: str, assurance: Assurance) -> dict[str, Any]:
        """Everything held in the person's own inbox (every folder, not their businesses'),
        decrypted, with attachments in base64 (UK GDPR Art. 15). Needs the strongest level
        any of it demands."""
        conversations = []
        for summary in await self._summaries([Owner(OwnerKind.CITIZEN, account_id)], Side.CITIZEN):
            access = await self.as_citizen(account_id, summary.conversation.id)
            thread = await self._export_thread(access, assurance)
            conversations.append(
                {
                    **thread.to_json(),
                    "from": {"organisation": thread.organisation_name, "team": thread.team.name},
                }
            )
        return {"exported_at": self._clock.now().isoformat(), "conversations": conversations}

    async def _export_thread(self, access: Access, assurance: Assurance) -> Thread:
        metas = await self._metas(access)
        self._check_level(access, metas, assurance)
        return Thread(
            access.conversation,
            access.team,
            await self._organisation_name(access.team.organisation_id),
            tuple(self._decrypt(meta, fields) for meta, fields in metas),
        )

    # --- sweeps ---------------------------------------------------------------------------

    async def sweep_notifications(self, now: datetime | None = None) -> int:
        """Send every batch that is due, after queueing reminders for messages still unread;
        the number of notifications sent. Safe to run in many processes at once: each batch
        and each reminder is taken by one."""
        now = now or self._clock.now()
        for member in await self._store.take_due_reminders(now, SWEEP_BATCH):
            conversation_id, message_id, account_id = [*member.split(" "), "", ""][:3]
            fields = await self._store.message(conversation_id, message_id)
            loaded = await self._store.conversation(conversation_id)
            if fields is None or loaded is None:
                continue
            meta = MessageMeta.from_fields(fields)
            if meta.read_at is None and meta.visible_at(now):
                team = await self._store.team(loaded[0].team_id)
                if team is not None:
                    sender = await self._organisation_name(team.organisation_id)
                    await self._store.queue_notification(account_id, sender, now, "", now)
        sent = 0
        for account_id, senders in await self._store.take_due_notifications(now, SWEEP_BATCH):
            try:
                account = await self._accounts.get(account_id)
            except AccountError:
                continue
            if account.disabled or not senders:
                continue
            # NOTE: the notification names only the council: no subject, reference or body,
            # since email and text messages are not a secure channel.
            await self._notifier.send(
                Notification(
                    Channel.EMAIL,
                    account.email,
                    NEW_MESSAGE_TEMPLATE,
                    {"sender": " and ".join(senders)},
                )
            )
            sent += 1
        return sent

    async def sweep_retention(self, now: datetime | None = None) -> int:
        """Destroy every message whose retention has ended (its data key first); how many."""
        now = now or self._clock.now()
        destroyed = 0
        for conversation_id, message_id in await self._store.take_due_destructions(
            now, SWEEP_BATCH
        ):
            await self._store.destroy(conversation_id, message_id, now)
            await self._evidence.record(
                Event(
                    "gateway:messaging",
                    "message.destroyed",
                    conversation_id,
                    {"message": message_id},
                )
            )
            destroyed += 1
        return destroyed

    async def rewrap(self) -> Rewrapped:
        """Re-wrap every live message's data key under the newest KEK (bodies untouched). A
        key that will not unwrap (damaged, or under a KEK no longer held) is listed, not
        fatal: every other message is still re-wrapped."""
        current = self.ring.current_kid()
        cursor, rewrapped, unreadable = 0, 0, []
        while True:
            cursor, page = await self._store.live_messages(cursor, REWRAP_PAGE)
            for conversation_id, message_id in page:
                fields = await self._store.message(conversation_id, message_id)
                wrapped = fields.get("key") if fields else None
                if wrapped is None or wrapped_kid(wrapped) == current:
                    continue
                try:
                    key = self.ring.unwrap(wrapped, message_id=message_id)
                except UnsealError:
                    unreadable.append(f"{conversation_id}/{message_id}")
                    continue
                fresh = self.ring.wrap(key, message_id=message_id)
                if await self._store.replace_key(conversation_id, message_id, wrapped, fresh):
                    rewrapped += 1
            if cursor == 0:
                return Rewrapped(current, rewrapped, tuple(unreadable))

    async def _organisation_name(self, organisation_id: str) -> str:
        """The name a reader sees the council by. Remembered per process: an organisation's
        name never changes (gateway/organisations has no rename), and every open shows it."""
        name = self._organisation_names.get(organisation_id)
        if name is None:
            try:
                name = (await self._organisations.get(organisation_id)).name
            except OrganisationError:
                return "your council"
            self._organisation_names[organisation_id] = name
        return name


def _request_digest(request: dict[str, Any], files: builtins.list[CheckedFile]) -> str:
    """What an Idempotency-Key retry must repeat: the request and each file's name and bytes."""
    listed = [{"name": f.filename, "sha256": hashlib.sha256(f.data).hexdigest()} for f in files]
    return hashlib.sha256(canonical_json({"request": request, "files": listed})).hexdigest()


def build_messaging(
    settings: Settings,
    redis: RedisClient,
    clock: Clock,
    evidence: EvidenceLog,
    *,
    accounts: Accounts,
    businesses: Businesses,
    agents: Agents,
    organisations: Organisations,
    clients: Clients,
    subjects: PairwiseSubjects,
    notifier: Notifier,
) -> Messaging:
    """Secure messaging as ``gateway.runtime`` wires it."""
    store = MessagingStore(redis)
    return Messaging(
        store,
        clock,
        evidence,
        KekRing(settings.pki_dir / KEK_FILE_NAME),
        accounts=accounts,
        businesses=businesses,
        agents=agents,
        organisations=organisations,
        clients=clients,
        subjects=subjects,
        notifier=notifier,
        settings=MessagingSettings.of(settings),
        live=LiveUpdates(store, clock, LiveSettings.of(settings)),
    )
