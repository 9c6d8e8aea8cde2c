"""Tell Us Once: a change of address reported once and routed, with consent, to the
organisations the person chooses (UK GDPR Art. 6(1)(a) and Art. 7: consent for a specified
purpose, recorded, as easy to withdraw as to give; Art. 5(1)(c) data minimisation).

**The hub.** GovConnect sends as an organisation of its own, the one with the code
:data:`HUB_CODE`, through a client of that organisation and answers the person from its
messaging team (``govconnect moves hub`` sets all three up). Its client is disabled: it names
the sender in envelopes and messages and can never be issued a token.

**Who can be told.** An organisation registers by having a delivery service named
``change-of-address`` (or ``change-of-address-…``) routed to it from the hub; the newest
version's JSON Schema ``properties`` are the fields it receives, and only those
(:data:`FIELDS` are what the hub can fill). A council whose GSS code is the local authority of
the old or the new address (from the UPRNs) is suggested.

**Consent** is given per organisation and purpose (the service's title) while the move is a
draft, written to the evidence log, and withdrawable until that organisation's copy is
claimed for sending (:mod:`gateway.moves.store`).

**Sending** is one signed submission per organisation through the delivery engine, each
addressed with the person's pairwise subject for that organisation (the delivery engine puts
it in the envelope) and under an Idempotency-Key of its own, so a retry never sends twice. No
body, reference or subject names the move or another organisation, so no organisation learns
who else was told. Each disclosure is written to the evidence log.

**Progress** is read from the delivery engine: fetched or acknowledged is *received*; a
business response ``accepted`` is *updated*, ``rejected`` *not updated*. An organisation's
question goes to the person's secure messages (:meth:`MoveService.ask`). When every copy sent
has been answered the person gets one confirmation in their inbox.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

from joserfc.jwk import ECKey

from gateway.accounts.models import Account
from gateway.accounts.services import AccountService
from gateway.admin.models import Actor
from gateway.clients.models import Client, ClientRegistration, GrantType
from gateway.clients.services import ClientService
from gateway.core.clock import Clock
from gateway.core.ids import looks_like_id, new_id
from gateway.core.redis import RedisClient
from gateway.core.settings import Settings
from gateway.delivery.envelope import unb64url
from gateway.delivery.errors import DeliveryError
from gateway.delivery.models import (
    STATE_ORDER,
    NewRoute,
    ResponseOutcome,
    RoutingRule,
    Sender,
    Service,
    State,
    SubmissionRequest,
)
from gateway.delivery.services import Delivery, recipient_sector
from gateway.delivery.store import StoredSubmission
from gateway.evidence.models import Event
from gateway.evidence.services import EvidenceLog
from gateway.moves.addresses import AddressLookup, LocalGazetteer, OsPlacesLookup
from gateway.moves.errors import (
    AddressNotFoundError,
    ChangeNotFoundError,
    InvalidMoveError,
    MoveAlreadySentError,
    MoveNotFoundError,
    MovesNotConfiguredError,
    OrganisationNotOfferedError,
)
from gateway.moves.models import (
    MOVE_PREFIX,
    SERVICE_PREFIX,
    Address,
    Change,
    Move,
    MoveState,
    MoveView,
    NewMove,
    NewQuestion,
    Notice,
    NoticeState,
    Offer,
    Progress,
    Status,
)
from gateway.moves.store import MoveStore
from gateway.oidc.subjects import PairwiseSubjects
from gateway.organisations.models import NewOrganisation, Organisation, OrganisationKind
from gateway.organisations.services import OrganisationService
from messaging.models import Council, NewConversation, NewTeam, Recipient, Sent, Team
from messaging.services import Messaging
from trust_levels.assurance import Assurance
from trust_levels.models import Vector
from trust_levels.policies import AtLeast, check

HUB_CODE = "TELL-US-ONCE"
HUB_NAME = "GovConnect Tell Us Once"
HUB_SERVICE = "change-of-address"
# What the hub can fill in, in the order a page lists them.
FIELDS = ("full_name", "email", "old_address", "new_address", "moving_date", "people_moving")
MAX_DAYS_AGO = 366
MAX_DAYS_AHEAD = 92
CHANGES_LIMIT = 200
CONFIRMATION_SUBJECT = "Your change of address"
QUESTION_SUBJECT = "About your change of address"


def account_actor(account_id: str) -> str:
    return f"account:{account_id}"


def is_change_service(name: str) -> bool:
    return name == SERVICE_PREFIX or name.startswith(SERVICE_PREFIX + "-")


def declared_fields(schema: dict[str, Any]) -> tuple[str, ...] | None:
    """The fields a service's schema declares that the hub can fill; None when it requires
    one the hub cannot (so that organisation cannot be told this way) or declares none."""
    properties = schema.get("properties")
    required = schema.get("required", [])
    if not isinstance(properties, dict) or not isinstance(required, list):
        return None
    if any(name not in FIELDS for name in required):
        return None
    fields = tuple(f for f in FIELDS if f in properties)
    return fields or None


def disclosed(move: Move, account: Account, fields: Sequence[str]) -> dict[str, Any]:
    """The body one organisation receives: only ``fields`` (its schema's), nothing else."""
    names = " ".join(n for n in (account.given_name, account.family_name) if n)
    values: dict[str, Any] = {
        "full_name": names or None,
        "email": account.email,
        "old_address": move.old_address.disclosed(),
        "new_address": move.new_address.disclosed(),
        "moving_date": move.moving_date,
        "people_moving": list(move.people),
    }
    return {f: values[f] for f in fields if values.get(f) is not None}


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


@dataclass(frozen=True, slots=True)
class Hub:
    """GovConnect as a sender: its organisation, client and messaging team."""

    organisation: Organisation
    client: Client
    team: Team


class MoveService:
    def __init__(
        self,
        store: MoveStore,
        clock: Clock,
        evidence: EvidenceLog,
        *,
        addresses: AddressLookup,
        delivery: Delivery,
        organisations: OrganisationService,
        clients: ClientService,
        accounts: AccountService,
        messaging: Messaging,
        subjects: PairwiseSubjects,
        level: Vector,
    ) -> None:
        self._store = store
        self._clock = clock
        self._evidence = evidence
        self.addresses = addresses
        self._delivery = delivery
        self._organisations = organisations
        self._clients = clients
        self._accounts = accounts
        self._messaging = messaging
        self._subjects = subjects
        self.level = level

    # --- the hub ----------------------------------------------------------------------------

    async def hub(self) -> Hub:
        found = await self._find_hub()
        if isinstance(found, Hub):
            return found
        raise MovesNotConfiguredError(
            "Tell Us Once is not set up on this gateway: an operator runs "
            "'govconnect moves hub --contact-email …'."
        )

    async def _find_hub(self) -> Hub | Organisation | None:
        """The hub, or as much of it as exists (its organisation, or nothing)."""
        organisation = next(
            (o for o in await self._organisations.list() if o.code == HUB_CODE), None
        )
        if organisation is None:
            return None
        client = next(
            (c for c in await self._clients.list() if c.organisation_id == organisation.id),
            None,
        )
        team = next(
            (
                t
                for t in await self._messaging.teams()
                if t.organisation_id == organisation.id and t.service == HUB_SERVICE
            ),
            None,
        )
        if client is None or team is None:
            return organisation
        return Hub(organisation, client, team)

    async def set_up_hub(self, contact_email: str, actor: Actor) -> Hub:
        """Create whatever of the hub is missing (safe to run again)."""
        found = await self._find_hub()
        if isinstance(found, Hub):
            return found
        organisation = found or await self._organisations.add(
            NewOrganisation(
                name=HUB_NAME,
                kind=OrganisationKind.AGENCY,
                code=HUB_CODE,
                contact_email=contact_email,
            ),
            actor,
        )
        clients = [c for c in await self._clients.list() if c.organisation_id == organisation.id]
        if not clients:
            # NOTE: the key's private half is thrown away and the client is disabled at once:
            # it exists only so envelopes and messages name the hub's sender, and no token
            # can ever be issued for it.
            public = ECKey.generate_key("P-256", private=True).as_dict(private=False)
            issued = await self._clients.add(
                ClientRegistration.build(
                    {
                        "client_name": HUB_NAME,
                        "organisation_id": organisation.id,
                        "grant_types": [GrantType.CLIENT_CREDENTIALS.value],
                        "scope": "submissions",
                        "jwks": {"keys": [{**public, "kid": "hub", "use": "sig"}]},
                    }
                ),
                actor,
            )
            await self._clients.disable(issued.client.client_id, actor)
        teams = await self._messaging.teams()
        if not any(
            t.organisation_id == organisation.id and t.service == HUB_SERVICE for t in teams
        ):
            await self._messaging.add_team(
                NewTeam(organisation_id=organisation.id, name=HUB_NAME, service=HUB_SERVICE),
                str(actor),
            )
        return await self.hub()

    async def register(self, organisation_id: str, service: str, actor: Actor) -> RoutingRule:
        """Let the hub tell ``organisation_id`` about moves through ``service`` (a registered
        ``change-of-address…`` service): the routing rule that makes it an offer."""
        if not is_change_service(service):
            raise InvalidMoveError(
                f"A change-of-address service is named {SERVICE_PREFIX} or "
                f"{SERVICE_PREFIX}-…; {service[:64]!r} is not."
            )
        hub = await self.hub()
        return await self._delivery.registry.add_route(
            NewRoute(sender=hub.organisation.id, service=service, recipient=organisation_id),
            actor,
        )

    # --- reporting a move -------------------------------------------------------------------

    async def find_addresses(self, postcode: str) -> list[Address]:
        return await self.addresses.by_postcode(postcode)

    async def report(self, account_id: str, new: NewMove) -> Move:
        """Keep the person's report as a draft; the addresses come from the lookup by UPRN."""
        today = self._clock.now().date()
        if not today - timedelta(days=MAX_DAYS_AGO) <= new.moving_date:
            raise InvalidMoveError("The moving date must be within the last year.")
        if new.moving_date > today + timedelta(days=MAX_DAYS_AHEAD):
            raise InvalidMoveError(
                f"The moving date can be at most {MAX_DAYS_AHEAD} days from today."
            )
        old = await self._address(new.old_uprn)
        moved_to = await self._address(new.new_uprn)
        now = self._clock.now()
        move = Move(
            id=new_id(MOVE_PREFIX),
            account_id=account_id,
            old_address=old,
            new_address=moved_to,
            moving_date=new.moving_date.isoformat(),
            people=new.people,
            created_at=now.isoformat(),
        )
        await self._store.create(move, int(now.timestamp() * 1000))
        await self._evidence.record(
            Event(account_actor(account_id), "move.reported", move.id, {"people": len(move.people)})
        )
        return move

    async def _address(self, uprn: str) -> Address:
        found = await self.addresses.by_uprn(uprn)
        if found is None:
            raise AddressNotFoundError(
                f"No address has the UPRN {uprn}; look the address up by its postcode."
            )
        return found

    async def own(self, account_id: str, move_id: str) -> tuple[Move, list[Notice]]:
        """The move and its notices, for the person who reported it only."""
        found = await self._store.get(move_id) if looks_like_id(move_id, MOVE_PREFIX) else None
        # NOTE: another person's move answers exactly as a missing one, so ids cannot be
        # probed.
        if found is None or found[0].account_id != account_id:
            raise MoveNotFoundError("You have reported no change of address with that id.")
        return found

    async def moves(self, account_id: str) -> builtins.list[tuple[Move, builtins.list[Notice]]]:
        """The person's moves with their consents, newest first."""
        found = [await self._store.get(m) for m in await self._store.moves_of(account_id)]
        return [f for f in found if f is not None]

    # --- whom to tell -----------------------------------------------------------------------

    async def offers(self, move: Move) -> builtins.list[Offer]:
        """The organisations the person may tell: suggested councils first, then by name."""
        hub = await self.hub()
        registry = self._delivery.registry
        newest: dict[str, Service] = {}
        for service in await registry.services():
            if is_change_service(service.name):
                known = newest.get(service.name)
                if known is None or _version_key(service.version) > _version_key(known.version):
                    newest[service.name] = service
        organisations = {o.id: o for o in await self._organisations.list()}
        areas = {move.old_address.local_authority, move.new_address.local_authority} - {None}
        offers: dict[str, Offer] = {}
        for rule in sorted(await registry.routes(), key=lambda r: r.service):
            organisation = organisations.get(rule.recipient)
            routed = newest.get(rule.service)
            if rule.sender != hub.organisation.id or organisation is None or routed is None:
                continue
            fields = declared_fields(routed.json_schema)
            if fields is None or organisation.id in offers:
                continue
            offers[organisation.id] = Offer(
                organisation_id=organisation.id,
                organisation_name=organisation.name,
                service=routed.name,
                version=routed.version,
                purpose=routed.title,
                fields=fields,
                suggested=organisation.kind is OrganisationKind.COUNCIL
                and organisation.code in areas,
            )
        return sorted(offers.values(), key=lambda o: (not o.suggested, o.organisation_name))

    async def consent(
        self, account_id: str, move_id: str, chosen: Sequence[str]
    ) -> builtins.list[Notice]:
        """Consent to tell exactly the ``chosen`` organisations, each for its service's
        purpose; a consent given before and not chosen now is withdrawn."""
        move, notices = await self.own(account_id, move_id)
        if move.state is not MoveState.DRAFT:
            raise MoveAlreadySentError("This change of address was sent; consent is spent.")
        if not chosen:
            raise InvalidMoveError("Choose at least one organisation to tell.")
        offers = {o.organisation_id: o for o in await self.offers(move)}
        unknown = [c for c in chosen if c not in offers]
        if unknown:
            raise OrganisationNotOfferedError(
                f"{unknown[0][:64]} has no change-of-address service to be told through."
            )
        given = {n.organisation_id: n for n in notices if n.state is NoticeState.CONSENTED}
        now = self._clock.now().isoformat()
        for organisation_id in dict.fromkeys(chosen):
            offer = offers[organisation_id]
            before = given.get(organisation_id)
            if before is not None and (before.service, before.version, before.fields) == (
                offer.service,
                offer.version,
                offer.fields,
            ):
                continue  # the same consent stands
            notice = Notice(
                organisation_id=offer.organisation_id,
                organisation_name=offer.organisation_name,
                service=offer.service,
                version=offer.version,
                purpose=offer.purpose,
                fields=offer.fields,
                consented_at=now,
            )
            outcome = await self._store.consent(move.id, notice)
            if outcome != "ok":
                raise MoveAlreadySentError("This change of address was sent; consent is spent.")
            await self._evidence.record(
                Event(
                    account_actor(account_id),
                    "move.consent.given",
                    move.id,
                    {
                        "organisation": offer.organisation_id,
                        "service": f"{offer.service}@{offer.version}",
                        "purpose": offer.purpose,
                        "fields": list(offer.fields),
                    },
                )
            )
        for organisation_id in given.keys() - set(chosen):
            await self.withdraw(account_id, move.id, organisation_id)
        return (await self.own(account_id, move.id))[1]

    async def withdraw(self, account_id: str, move_id: str, organisation_id: str) -> Notice:
        """Withdraw consent for one organisation; refused once its copy was claimed."""
        move, notices = await self.own(account_id, move_id)
        notice = next((n for n in notices if n.organisation_id == organisation_id), None)
        if notice is None:
            raise OrganisationNotOfferedError(
                "You did not agree to tell that organisation about this move."
            )
        if notice.state is NoticeState.WITHDRAWN:
            return notice
        withdrawn = replace(
            notice, state=NoticeState.WITHDRAWN, withdrawn_at=self._clock.now().isoformat()
        )
        outcome = await self._store.transition(
            move.id, organisation_id, NoticeState.WITHDRAWN, [NoticeState.CONSENTED], withdrawn
        )
        if outcome != "ok":
            raise MoveAlreadySentError(
                f"{notice.organisation_name} has already been sent your change of address."
            )
        await self._evidence.record(
            Event(
                account_actor(account_id),
                "move.consent.withdrawn",
                move.id,
                {"organisation": organisation_id, "purpose": notice.purpose},
            )
        )
        return withdrawn

    # --- sending ----------------------------------------------------------------------------

    async def send(self, account_id: str, move_id: str, assurance: Assurance) -> MoveView:
        """Send each consented copy (a retry finishes what an interrupted send left); raises
        :class:`~trust_levels.errors.PolicyNotMetError` below the service's level."""
        check(AtLeast(self.level), assurance)
        move, notices = await self.own(account_id, move_id)
        if move.state is MoveState.DRAFT:
            if not any(n.state is NoticeState.CONSENTED for n in notices):
                raise InvalidMoveError("Choose at least one organisation to tell.")
            if await self._store.set_state(move.id, MoveState.DRAFT, MoveState.SENT):
                await self._evidence.record(
                    Event(account_actor(account_id), "move.sent", move.id, {})
                )
            move, notices = await self.own(account_id, move_id)
        hub = await self.hub()
        account = await self._accounts.get(account_id)
        for notice in notices:
            if notice.state in (NoticeState.CONSENTED, NoticeState.SENDING):
                await self._send_one(hub, move, account, notice, assurance)
        return await self.progress(account_id, move.id)

    async def _send_one(
        self, hub: Hub, move: Move, account: Account, notice: Notice, assurance: Assurance
    ) -> None:
        organisation_id = notice.organisation_id
        claimed = await self._store.transition(
            move.id,
            organisation_id,
            NoticeState.SENDING,
            [NoticeState.CONSENTED, NoticeState.SENDING],
        )
        if claimed != "ok":
            return  # withdrawn (or sent by a racing request) meanwhile
        reached = assurance.vector
        credential = assurance.credential
        at = assurance.reached_at(credential) if credential is not None else None
        sender = Sender(
            hub.client.client_id,
            hub.organisation.id,
            account_id=account.id,
            claims={
                "acr": None if reached is None else str(reached),
                "auth_time": None if at is None else int(at.timestamp()),
            },
            assurance=assurance,
        )
        request = SubmissionRequest(
            recipient=organisation_id,
            service=notice.service,
            version=notice.version,
            body=disclosed(move, account, notice.fields),
        )
        try:
            receipt = await self._delivery.submissions.submit(
                sender, request, f"move-{move.id}-{organisation_id}"
            )
        except DeliveryError as exc:
            await self._store.transition(
                move.id, organisation_id, NoticeState.FAILED, [NoticeState.SENDING]
            )
            await self._evidence.record(
                Event(
                    account_actor(account.id),
                    "move.disclosure-refused",
                    move.id,
                    {"organisation": organisation_id, "problem": exc.slug},
                )
            )
            return
        now = self._clock.now()
        submission = receipt.submission
        sent = replace(
            notice, state=NoticeState.SENT, submission_id=submission.id, sent_at=now.isoformat()
        )
        await self._store.add_change(
            organisation_id, submission.id, move.id, int(now.timestamp() * 1000)
        )
        await self._store.transition(
            move.id, organisation_id, NoticeState.SENT, [NoticeState.SENDING], sent
        )
        await self._evidence.record(
            Event(
                account_actor(account.id),
                "move.disclosed",
                move.id,
                {
                    "organisation": organisation_id,
                    "service": f"{notice.service}@{notice.version}",
                    "purpose": notice.purpose,
                    "fields": list(notice.fields),
                    "submission": submission.id,
                    "payload_sha256": submission.payload_sha256,
                },
            )
        )

    # --- progress ---------------------------------------------------------------------------

    async def progress(self, account_id: str, move_id: str) -> MoveView:
        """Each organisation's status; the confirmation goes out once all have answered."""
        move, notices = await self.own(account_id, move_id)
        view = MoveView(move, tuple([await self._progress(n) for n in notices]))
        if view.all_answered and move.state is MoveState.SENT:
            await self._confirm(view)
            view = MoveView(move.with_state(MoveState.CONFIRMED), view.progress)
        return view

    async def _progress(self, notice: Notice) -> Progress:
        if notice.state is not NoticeState.SENT or notice.submission_id is None:
            simple = {
                NoticeState.CONSENTED: Status.WAITING,
                NoticeState.WITHDRAWN: Status.WITHDRAWN,
                NoticeState.FAILED: Status.NOT_SENT,
            }
            return Progress(notice, simple.get(notice.state, Status.SENT))
        stored = await self._delivery.submissions.stored(notice.submission_id)
        return _progress_of(notice, stored)

    async def _confirm(self, view: MoveView) -> None:
        """One message in the person's inbox from the hub's team (the message's
        Idempotency-Key makes a repeat send the same message)."""
        hub = await self.hub()
        move = view.move
        sub = await self._messaging.enrol(hub.client, move.account_id)
        lines = [
            f"- {p.notice.organisation_name}: "
            + ("updated" if p.status is Status.UPDATED else "could not update")
            + (f" (reference {p.case_reference})" if p.case_reference else "")
            for p in view.progress
            if p.notice.submission_id is not None
        ]
        body = (
            f"Every organisation you chose has answered about your move to "
            f"{move.new_address.label} on {date.fromisoformat(move.moving_date):%d %B %Y}.\n\n"
            + "\n".join(lines)
        )
        await self._messaging.send(
            Council(hub.client.client_id, hub.organisation.id),
            NewConversation(
                team=hub.team.id, to=Recipient(sub=sub), subject=CONFIRMATION_SUBJECT, body=body
            ),
            [],
            f"move-confirmed-{move.id}",
        )
        if await self._store.set_state(move.id, MoveState.SENT, MoveState.CONFIRMED):
            await self._evidence.record(
                Event("gateway:moves", "move.confirmed", move.id, {"answers": len(lines)})
            )

    # --- the receiving organisation's side ---------------------------------------------------

    async def changes(self, organisation_id: str) -> builtins.list[Change]:
        """The changes of address sent to one organisation, newest first, each with only what
        that organisation received."""
        found: list[Change] = []
        for submission_id, move_id in await self._store.changes(organisation_id, CHANGES_LIMIT):
            change = await self._change(organisation_id, submission_id, move_id)
            if change is not None:
                found.append(change)
        return found

    async def _change(
        self, organisation_id: str, submission_id: str, move_id: str
    ) -> Change | None:
        got = await self._store.get(move_id)
        stored = await self._delivery.submissions.stored(submission_id)
        if got is None or stored is None:
            return None  # the submission's retention ended
        move, notices = got
        notice = next((n for n in notices if n.organisation_id == organisation_id), None)
        if notice is None:
            return None
        content = json.loads(unb64url(stored.envelope["payload"]))
        return Change(
            submission_id=submission_id,
            sub=self._subjects.subject(recipient_sector(organisation_id), move.account_id),
            service=notice.service,
            version=notice.version,
            sent_at=notice.sent_at or stored.submission.accepted_at,
            status=_progress_of(notice, stored).status,
            body=dict(content["body"]),
        )

    async def ask(
        self, caller: Sender, submission_id: str, question: NewQuestion, idempotency_key: str | None
    ) -> Sent:
        """A receiving organisation's question about a change it was sent, written to the
        person's secure messages from one of its teams (whose checks apply)."""
        organisation_id = caller.organisation_id
        move_id = await self._store.change(organisation_id, submission_id[:64])
        found = await self._store.get(move_id) if move_id is not None else None
        notice = (
            next((n for n in found[1] if n.organisation_id == organisation_id), None)
            if found is not None
            else None
        )
        if found is None or notice is None:
            raise ChangeNotFoundError(
                f"No change of address was sent to your organisation as {submission_id[:64]!r}."
            )
        move = found[0]
        client = await self._clients.get(caller.client_id)
        # The person becomes reachable under the sub the organisation was given in the
        # envelope: they agreed to tell this organisation about this move.
        await self._messaging.enrol(client, move.account_id)
        sub = self._subjects.subject(recipient_sector(organisation_id), move.account_id)
        sent = await self._messaging.send(
            Council(caller.client_id, organisation_id),
            NewConversation(
                team=question.team,
                to=Recipient(sub=sub),
                subject=QUESTION_SUBJECT,
                body=question.body,
            ),
            [],
            idempotency_key,
        )
        if notice.question_at is None:
            asked = replace(notice, question_at=self._clock.now().isoformat())
            await self._store.put_notice(move.id, asked)
            await self._evidence.record(
                Event(
                    f"client:{caller.client_id}",
                    "move.question",
                    move.id,
                    {"organisation": organisation_id, "conversation": sent.conversation.id},
                )
            )
        return sent


def _progress_of(notice: Notice, stored: StoredSubmission | None) -> Progress:
    """What the delivery engine says of a sent copy."""
    if stored is None:
        return Progress(notice, Status.SENT)  # its retention ended; nothing more to learn
    response = stored.response
    if response is not None:
        updated = response.get("outcome") == ResponseOutcome.ACCEPTED.value
        return Progress(
            notice,
            Status.UPDATED if updated else Status.NOT_UPDATED,
            response.get("case_reference"),
            response.get("message") or "; ".join(response.get("reasons") or []) or None,
        )
    if notice.question_at is not None:
        return Progress(notice, Status.QUESTION)
    if STATE_ORDER[stored.submission.state] >= STATE_ORDER[State.DELIVERED]:
        return Progress(notice, Status.RECEIVED)
    return Progress(notice, Status.SENT)


def build_moves(
    settings: Settings,
    redis: RedisClient,
    clock: Clock,
    evidence: EvidenceLog,
    *,
    delivery: Delivery,
    organisations: OrganisationService,
    clients: ClientService,
    accounts: AccountService,
    messaging: Messaging,
    subjects: PairwiseSubjects,
) -> MoveService:
    key = settings.moves_os_places_key
    addresses: AddressLookup = (
        OsPlacesLookup(
            key.get_secret_value(),
            settings.moves_custodian_codes,
            base_url=settings.moves_os_places_url,
        )
        if key is not None
        else LocalGazetteer()
    )
    return MoveService(
        MoveStore(redis),
        clock,
        evidence,
        addresses=addresses,
        delivery=delivery,
        organisations=organisations,
        clients=clients,
        accounts=accounts,
        messaging=messaging,
        subjects=subjects,
        level=Vector.parse(settings.moves_level),
    )
