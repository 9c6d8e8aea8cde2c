"""The delivery engine's domain logic (DESIGN.md §3): the registry of services, routing rules
and recipients, and submissions from acceptance to the recipient's business response.

The life of a submission (HMRC Transaction Engine: submit → acknowledgement → poll → response
→ delete; AS4: signed receipts and duplicate elimination; X-Road: per-service access rights
and a hash-chained log):

1. **accepted**: the sender is authenticated, a routing rule allows it, the level, size and
   JSON Schema checks pass; the envelope is signed and stored with the receipt (one script),
   under an id derived from the sender's client and ``Idempotency-Key``, so a retry finds it
   and returns the same receipt;
2. **queued**: the submission joins the recipient's inbox (pull) and, when the recipient
   takes pushes, the push queue; only then is the receipt returned, so nothing acknowledged
   to a sender is unqueued;
3. **delivered**: pushed to the recipient's endpoint with a 2xx answer, or fetched by it;
4. **acknowledged**: the recipient sent a JWS signed with its own registered key over the
   submission id and payload digest; the JWS is kept as proof of receipt and the submission
   leaves the inbox;
5. **responded**: the recipient's business response (accepted with a case reference, or
   rejected with reasons), signed by the gateway for the sender;

or **failed** when pushes were refused until the retries ran out (it can still be pulled).
Every state change is appended to the evidence log; delivery attempts are on the timeline.
Delivery is at least once; the submission id (``webhook-id``) lets a recipient drop a
duplicate, which gives exactly-once effect.
"""

from __future__ import annotations

import builtins
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from gateway.admin.models import Actor
from gateway.clients.errors import ClientError
from gateway.clients.services import ClientService
from gateway.core.clock import Clock
from gateway.core.ids import looks_like_id, new_id
from gateway.core.redis import RedisClient, RidingRead
from gateway.core.requestctx import current_request_id
from gateway.core.secretbox import DATA_KEY_FILE_NAME, SecretBox
from gateway.core.settings import Settings
from gateway.delivery import schemas
from gateway.delivery.envelope import (
    RECEIPT_TYPE,
    RESPONSE_TYPE,
    payload_bytes,
    seal_envelope,
    sealed_facts,
    sha256_hex,
    unb64url,
    verify_acknowledgement,
    verify_sender_signature,
)
from gateway.delivery.errors import (
    AttachmentNotFoundError,
    AttachmentRefusedError,
    DuplicateRouteError,
    DuplicateServiceError,
    IdempotencyConflictError,
    IdempotencyKeyError,
    InvalidAcknowledgementError,
    InvalidCursorError,
    InvalidResponseError,
    LevelNotMetError,
    NoRoutingRuleError,
    RecipientSettingsError,
    RouteNotFoundError,
    SenderSignatureError,
    ServiceNotFoundError,
    SubmissionNotFoundError,
    SubmissionTooLargeError,
)
from gateway.delivery.models import (
    STATE_ORDER,
    Attachment,
    BusinessResponse,
    DeliveryMode,
    IssuedRecipientSettings,
    NewRecipientSettings,
    NewRoute,
    NewService,
    Receipt,
    RecipientSettings,
    RoutingRule,
    Sender,
    Service,
    State,
    Submission,
    SubmissionRequest,
    WebhookSecret,
    route_triple,
    service_key,
)
from gateway.delivery.store import DeliveryQueue, DeliveryStore, StoredSubmission, SubmitContext
from gateway.delivery.webhooks import new_secret
from gateway.evidence.models import Event, canonical_json
from gateway.evidence.services import EvidenceLog
from gateway.oidc.errors import InsufficientUserAuthenticationError, InvalidClientError
from gateway.oidc.subjects import PairwiseSubjects
from gateway.organisations.services import OrganisationService
from gateway.signing.services import KeyRing
from gateway.tokens.client_keys import ClientKeys
from trust_levels.policies import AtLeast

SUBMISSION_PREFIX = "sbm"
ROUTE_PREFIX = "rte"
SECRET_ID_PREFIX = "whk"  # noqa: S105 - an id prefix, not a secret
# RFC 9110 token-ish: printable ASCII without spaces, as the Idempotency-Key draft suggests.
IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{8,255}")
INBOX_CURSOR = re.compile(r"[0-9]{1,20}-[0-9]{1,20}")
POLL_INTERVAL_SECONDS = 10
DEFAULT_ROTATION_GRACE_HOURS = 24
SYSTEM_ACTOR = "gateway:delivery"


def client_actor(client_id: str) -> str:
    return f"client:{client_id}"


def recipient_sector(organisation_id: str) -> str:
    """The pairwise sector of a recipient organisation: a citizen's ``sub`` in an envelope is
    its own for each recipient, so two recipients cannot join their records on it."""
    return f"urn:govconnect:organisation:{organisation_id}"


def submission_id_for(subjects: PairwiseSubjects, client_id: str, idempotency_key: str) -> str:
    """The id of the submission a client sends under ``idempotency_key``: every retry
    derives the same one, so the stored submission is its own idempotency record (the
    Idempotency-Key draft, §2.6: the key is scoped to the client) and accepting needs no
    separate claim of the key. An HMAC under the gateway's pairwise secret, its first 132
    bits as the id's random part: unguessable without the secret, like a random id
    (RFC 4086 §8), and in a sector of its own, so never equal to a citizen's pairwise
    subject."""
    # NOTE: the key outlives the Idempotency-Key draft's usual day: it stands as long as
    # the submission is kept (its service's retention), so a late retry is answered with the
    # first receipt rather than accepted twice. A key reused after retention starts anew.
    digest = subjects.subject(f"urn:govconnect:submission-id:{client_id}", idempotency_key)
    return f"{SUBMISSION_PREFIX}_{digest[:22]}"


def _request_digest(
    sender: Sender, request: SubmissionRequest, attachments: Sequence[Attachment]
) -> str:
    """What makes two requests the same under one Idempotency-Key. The sender's signature is
    left out: a retry signs again, and ECDSA signatures differ every time."""
    return hashlib.sha256(
        canonical_json(
            {
                "account": sender.account_id,
                "request": request.model_dump(exclude={"sender_signature"}),
                "attachments": [a.describe() for a in attachments],
            }
        )
    ).hexdigest()


def _attachment_context(submission_id: str, sha256: str) -> str:
    """What a sealed attachment is bound to: copied to another submission it fails to open."""
    return f"delivery-attachment:{submission_id}:{sha256}"


def _listed_attachments(stored: StoredSubmission) -> list[dict[str, Any]]:
    """The attachments the stored envelope's payload lists."""
    content = json.loads(unb64url(stored.envelope["payload"]))
    return [a for a in content.get("attachments", []) if isinstance(a, dict)]


def _check_attachments(service: Service, attachments: Sequence[Attachment]) -> None:
    """The service's rules on attachments: how many, of which types, how large."""
    if not attachments:
        return
    if not service.attachment_types:
        raise AttachmentRefusedError(
            f"{service.key} takes no attachments; send the form alone.", service=service.key
        )
    if len(attachments) > service.max_attachments:
        raise AttachmentRefusedError(
            f"{service.key} takes at most {service.max_attachments} attachments; "
            f"{len(attachments)} were sent.",
            limit=service.max_attachments,
        )
    for attachment in attachments:
        if attachment.media_type not in service.attachment_types:
            raise AttachmentRefusedError(
                f"Attachment {attachment.name!r} is {attachment.media_type}; {service.key} "
                f"takes {', '.join(service.attachment_types)}.",
                attachment=attachment.name,
                found=attachment.media_type,
            )
        if len(attachment.data) > service.max_attachment_bytes:
            raise SubmissionTooLargeError(
                f"Attachment {attachment.name!r} is {len(attachment.data)} bytes; "
                f"{service.key} takes at most {service.max_attachment_bytes} per attachment.",
                attachment=attachment.name,
                limit=service.max_attachment_bytes,
                size=len(attachment.data),
            )


class DeliveryRegistry:
    """Services, routing rules and recipients' delivery settings; every change is logged."""

    def __init__(
        self,
        store: DeliveryStore,
        clock: Clock,
        evidence: EvidenceLog,
        organisations: OrganisationService,
        box: SecretBox,
    ) -> None:
        self._store = store
        self._clock = clock
        self._evidence = evidence
        self._organisations = organisations
        self._box = box

    # --- services -------------------------------------------------------------------------

    async def add_service(self, new: NewService, actor: Actor) -> Service:
        """Register a service version; its schema must be a usable JSON Schema."""
        schemas.check_schema(new.json_schema)
        service = Service.of(new, self._clock.now().isoformat())
        if not await self._store.add_service(service):
            raise DuplicateServiceError(
                f"{service.key} is registered already; a version never changes once senders "
                "use it, so register the change as a new version."
            )
        await self._evidence.record(
            Event(
                str(actor),
                "delivery.service.created",
                service.key,
                {
                    "schema_sha256": schemas.schema_digest(service.json_schema),
                    "min_level": service.min_level,
                    "max_body_bytes": service.max_body_bytes,
                    "retention_days": service.retention_days,
                },
            )
        )
        return service

    async def service(self, name: str, version: str) -> Service:
        found = await self._store.service(service_key(name, version))
        if found is None:
            raise ServiceNotFoundError(
                f"No service {service_key(name, version)} is registered; list them with "
                "'govconnect services list'.",
                service=name,
                version=version,
            )
        return found

    async def services(self) -> list[Service]:
        return await self._store.services()

    # --- routing rules --------------------------------------------------------------------

    async def add_route(self, new: NewRoute, actor: Actor) -> RoutingRule:
        """Let ``sender`` send ``service`` (every version) to ``recipient``."""
        await self._organisations.get(new.sender)
        await self._organisations.get(new.recipient)
        if not any(s.name == new.service for s in await self._store.services()):
            raise ServiceNotFoundError(
                f"No service named {new.service!r} is registered; register it first."
            )
        rule = RoutingRule(
            new_id(ROUTE_PREFIX),
            new.sender,
            new.service,
            new.recipient,
            self._clock.now().isoformat(),
        )
        if not await self._store.add_route(rule):
            existing = await self._store.route_for(rule.triple)
            raise DuplicateRouteError(
                f"Routing rule {existing} already lets {new.sender} send {new.service} to "
                f"{new.recipient}.",
                route_id=existing,
            )
        await self._evidence.record(
            Event(str(actor), "delivery.route.created", rule.id, rule.to_json())
        )
        return rule

    async def routes(self) -> builtins.list[RoutingRule]:
        return await self._store.routes()

    async def remove_route(self, rule_id: str, actor: Actor) -> RoutingRule:
        rule = await self._store.route(rule_id) if looks_like_id(rule_id, ROUTE_PREFIX) else None
        if rule is None or not await self._store.remove_route(rule):
            raise RouteNotFoundError(
                f"No routing rule has the id {rule_id!r}; list them with 'govconnect routes list'."
            )
        await self._evidence.record(
            Event(str(actor), "delivery.route.removed", rule.id, rule.to_json())
        )
        return rule

    async def allows(self, sender: str, service: str, recipient: str) -> bool:
        return await self._store.route_for(route_triple(sender, service, recipient)) is not None

    @staticmethod
    def routed_service(
        context: SubmitContext, sender: str, name: str, version: str, recipient: str
    ) -> Service:
        """The service ``name@version`` as ``context`` read it, if a routing rule lets
        ``sender`` send it to ``recipient``."""
        service, routed = context.service, context.routed
        if service is None:
            raise ServiceNotFoundError(
                f"No service {service_key(name, version)} is registered; list them with "
                "'govconnect services list'.",
                service=name,
                version=version,
            )
        if not routed:
            raise NoRoutingRuleError(
                f"No routing rule lets organisation {sender} send {name} to {recipient}; ask "
                "the gateway's operators to add one ('govconnect routes add').",
                sender=sender,
                service=name,
                recipient=recipient,
            )
        return service

    # --- recipients -----------------------------------------------------------------------

    async def set_recipient(
        self, organisation_id: str, new: NewRecipientSettings, actor: Actor
    ) -> IssuedRecipientSettings:
        """Set how ``organisation_id`` receives; the first push set-up issues its webhook
        secret, shown once."""
        await self._organisations.get(organisation_id)
        now = self._clock.now().isoformat()
        current = await self._store.recipient(organisation_id)
        secrets_ = current.secrets if current is not None else ()
        issued: str | None = None
        if new.mode is DeliveryMode.PUSH and not secrets_:
            issued, secret = self._new_secret(organisation_id, now)
            secrets_ = (secret,)
        settings = RecipientSettings(organisation_id, new.mode, new.endpoint, secrets_, now)
        await self._store.put_recipient(settings)
        await self._evidence.record(
            Event(
                str(actor),
                "delivery.recipient.updated",
                organisation_id,
                {"mode": new.mode.value, "endpoint": new.endpoint},
            )
        )
        return IssuedRecipientSettings(settings, issued)

    async def rotate_secret(
        self,
        organisation_id: str,
        actor: Actor,
        grace: timedelta = timedelta(hours=DEFAULT_ROTATION_GRACE_HOURS),
    ) -> IssuedRecipientSettings:
        """Issue a new webhook secret; the old ones keep signing beside it for ``grace``
        (Standard Webhooks, "Key rotation"), then stop."""
        current = await self.recipient(organisation_id)
        if current is None:
            raise RecipientSettingsError(
                f"{organisation_id} has no delivery settings; set push delivery first."
            )
        now = self._clock.now()
        ends = (now + grace).isoformat()
        kept = tuple(
            s if s.expires_at is not None else replace(s, expires_at=ends)
            for s in self._live(current, now)
        )
        issued, secret = self._new_secret(organisation_id, now.isoformat())
        settings = replace(current, secrets=(secret, *kept), updated_at=now.isoformat())
        await self._store.put_recipient(settings)
        await self._evidence.record(
            Event(
                str(actor),
                "delivery.recipient.secret-rotated",
                organisation_id,
                {"secret_id": secret.id, "previous_until": ends},
            )
        )
        return IssuedRecipientSettings(settings, issued)

    async def recipient(self, organisation_id: str) -> RecipientSettings | None:
        return await self._store.recipient(organisation_id)

    def signing_secrets(self, settings: RecipientSettings) -> list[str]:
        """The plaintext secrets a push is signed with now, newest first."""
        context = _secret_context(settings.organisation_id)
        return [
            self._box.open(s.sealed, context=context).decode()
            for s in self._live(settings, self._clock.now())
        ]

    @staticmethod
    def _live(settings: RecipientSettings, now: datetime) -> tuple[WebhookSecret, ...]:
        return tuple(
            s
            for s in settings.secrets
            if s.expires_at is None or datetime.fromisoformat(s.expires_at) > now
        )

    def _new_secret(self, organisation_id: str, now: str) -> tuple[str, WebhookSecret]:
        plaintext = new_secret()
        # NOTE: the secret is kept sealed (AES-256-GCM under the data key, bound to the
        # organisation) rather than as a digest, because the gateway must compute HMACs with
        # it; a copy of the store alone does not reveal it.
        sealed = self._box.seal(plaintext.encode(), context=_secret_context(organisation_id))
        return plaintext, WebhookSecret(new_id(SECRET_ID_PREFIX), sealed, now)


def _secret_context(organisation_id: str) -> str:
    return f"delivery-webhook-secret:{organisation_id}"


@dataclass(frozen=True, slots=True)
class Job:
    """One queued push: the submission to deliver, and the request it was accepted in."""

    submission: str
    request_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"submission": self.submission, "request_id": self.request_id}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Job:
        submission = data["submission"]
        if not isinstance(submission, str) or not looks_like_id(submission, SUBMISSION_PREFIX):
            raise ValueError("not a submission id")
        request_id = data.get("request_id")
        return cls(submission, request_id if isinstance(request_id, str) else None)


class Submissions:
    """Submitting, reading, pulling, acknowledging and answering submissions."""

    def __init__(
        self,
        store: DeliveryStore,
        queue: DeliveryQueue,
        registry: DeliveryRegistry,
        clock: Clock,
        evidence: EvidenceLog,
        *,
        keys: KeyRing,
        subjects: PairwiseSubjects,
        clients: ClientService,
        client_keys: ClientKeys,
        box: SecretBox,
        issuer: str,
    ) -> None:
        self._store = store
        self._queue = queue
        self._registry = registry
        self._clock = clock
        self._evidence = evidence
        self._keys = keys
        self._subjects = subjects
        self._clients = clients
        self._client_keys = client_keys
        self._box = box
        self._issuer = issuer

    # --- submitting -----------------------------------------------------------------------

    async def submit(
        self,
        sender: Sender,
        request: SubmissionRequest,
        idempotency_key: str | None,
        attachments: Sequence[Attachment] = (),
        *,
        riding: RidingRead | None = None,
    ) -> Receipt:
        """Accept ``request`` with its ``attachments`` from ``sender`` and queue it; the
        signed receipt. A retry under the same ``idempotency_key`` with the same request
        returns the first receipt. ``riding`` reads (the sender's token's revocation) go in
        the first pipeline and are checked before anything it read is used.

        Round trips to Redis on the way (the 1,000 a second target): the service, the
        routing rule, the recipient's settings and any submission stored under the id the
        key derives (one pipeline), the sender's client when it signed, the submission with
        its inbox entry and, for a push recipient, its queue entry (one pipeline), the
        evidence log (one script for both entries, shared with concurrent submits), and the
        note that it is queued."""
        if idempotency_key is None or not IDEMPOTENCY_KEY.fullmatch(idempotency_key):
            raise IdempotencyKeyError(
                "Send an Idempotency-Key header of 8 to 255 printable characters (a UUID is "
                "ideal), the same on every retry of this submission."
            )
        submission_id = submission_id_for(self._subjects, sender.client_id, idempotency_key)
        context = await self._store.submit_context(
            service_key(request.service, request.version),
            route_triple(sender.organisation_id, request.service, request.recipient),
            request.recipient,
            submission_id,
            riding,
        )
        service = self._registry.routed_service(
            context, sender.organisation_id, request.service, request.version, request.recipient
        )
        self._check_level(sender, service)
        size = len(canonical_json(request.body))
        if size > service.max_body_bytes:
            raise SubmissionTooLargeError(
                f"The body is {size} bytes as canonical JSON; {service.key} takes at most "
                f"{service.max_body_bytes}.",
                limit=service.max_body_bytes,
                size=size,
            )
        _check_attachments(service, attachments)
        schemas.validate(service.json_schema, request.body)
        content = self._content(sender, request, service, attachments)
        signed = await self._sender_signature(sender, request, content)
        request_sha256 = _request_digest(sender, request, attachments)
        pushes = context.recipient is not None and context.recipient.pushes
        if context.existing is not None:
            return await self._replay(context.existing, request_sha256, sender, pushes)
        return await self._accept(
            sender,
            request,
            service,
            submission_id,
            request_sha256,
            content,
            signed,
            attachments,
            pushes,
        )

    async def _replay(
        self, stored: StoredSubmission, request_sha256: str, sender: Sender, pushes: bool
    ) -> Receipt:
        """A retry under an Idempotency-Key already used: the first receipt for the same
        request (finishing a first attempt that stopped before it noted the submission
        queued), a conflict for another."""
        if stored.submission.request_sha256 != request_sha256:
            raise IdempotencyConflictError(
                "This Idempotency-Key was used for a different request; use a new key "
                "for a new submission.",
                submission=stored.submission.id,
            )
        if not stored.queued:  # the first attempt stopped before noting it queued
            await self._requeue(stored, sender, pushes)
        return Receipt(stored.submission, stored.receipt, replayed=True)

    def _check_level(self, sender: Sender, service: Service) -> None:
        level = service.level
        if level is None:
            return
        if sender.assurance is None:
            raise LevelNotMetError(
                f"{service.key} takes submissions for a citizen signed in at {level}; send it "
                "with the citizen's access token, not a client credentials token."
            )
        shortfall = AtLeast(level).unmet(sender.assurance)
        if shortfall is not None:
            raise InsufficientUserAuthenticationError(
                f"{service.key} {shortfall.reason}. Send the citizen through /authorize again "
                f"with acr_values={level} (RFC 9470 §4).",
                acr_values=str(level),
            )

    def _content(
        self,
        sender: Sender,
        request: SubmissionRequest,
        service: Service,
        attachments: Sequence[Attachment],
    ) -> dict[str, Any]:
        """The envelope's payload: everything the sender knows before it submits, so a
        sender can sign these very bytes."""
        return {
            "iss": self._issuer,
            "sender": {"organisation": sender.organisation_id, "client_id": sender.client_id},
            "recipient": {"organisation": request.recipient},
            "service": {"name": service.name, "version": service.version},
            "reference": request.reference,
            "body": request.body,
            "attachments": [a.describe() for a in attachments],
        }

    async def _sender_signature(
        self, sender: Sender, request: SubmissionRequest, content: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        """The sender's own signature member and key, verified with its client's registered
        keys; None when it sent none."""
        if request.sender_signature is None:
            return None
        try:
            client = await self._clients.get_enabled(sender.client_id)
            keyset = await self._client_keys.keyset(client)
        except (ClientError, InvalidClientError):
            raise SenderSignatureError(
                f"Client {sender.client_id} has no usable registered keys to check "
                "sender_signature with; register a jwks (or jwks_uri) for it, or send none."
            ) from None
        return verify_sender_signature(request.sender_signature, payload_bytes(content), keyset)

    async def _accept(
        self,
        sender: Sender,
        request: SubmissionRequest,
        service: Service,
        submission_id: str,
        request_sha256: str,
        content: dict[str, Any],
        signed: dict[str, Any] | None,
        attachments: Sequence[Attachment],
        pushes: bool,
    ) -> Receipt:
        now = self._clock.now()
        facts: dict[str, Any] = {
            "id": submission_id,
            "submitted_at": now.isoformat(),
            "subject": self._subject(sender, request.recipient),
        }
        if signed is not None:
            facts["sender_key"] = signed["key"]
        digest = sha256_hex(payload_bytes(content))
        envelope = seal_envelope(
            content,
            facts,
            self._keys.current("ES256"),
            None if signed is None else signed["member"],
        )
        delete_after = now + timedelta(days=service.retention_days)
        submission = Submission(
            id=submission_id,
            sender_org=sender.organisation_id,
            sender_client=sender.client_id,
            recipient_org=request.recipient,
            service=service.name,
            version=service.version,
            reference=request.reference,
            payload_sha256=digest,
            request_sha256=request_sha256,
            accepted_at=now.isoformat(),
            delete_after=delete_after.isoformat(),
            state=State.QUEUED,
        )
        receipt = self._keys.sign(
            {
                "iss": self._issuer,
                "iat": int(now.timestamp()),
                "sub": submission_id,
                "correlation_id": submission_id,
                "payload_sha256": digest,
                "sender": sender.organisation_id,
                "recipient": request.recipient,
                "service": service.name,
                "version": service.version,
                "accepted_at": submission.accepted_at,
                "sender_signed": signed is not None,
            },
            typ=RECEIPT_TYPE,
        )
        # Accepted and queued in one write: the inbox and queue entries go in the same
        # round trip, and no receipt leaves before all are stored. A recipient that pulls
        # gets no push job: the worker would only find it pulls and drop the job (a
        # recipient switching to push later is pushed what it is sent from then on).
        created = await self._store.create(
            submission,
            envelope,
            receipt,
            [
                self._event(State.ACCEPTED, now, {"payload_sha256": digest}),
                self._event(State.QUEUED, now, {}),
            ],
            int(delete_after.timestamp()),
            {
                a.sha256: self._box.seal(
                    a.data, context=_attachment_context(submission_id, a.sha256)
                )
                for a in attachments
            },
            self._queue,
            Job(submission_id, current_request_id()).to_json() if pushes else None,
        )
        if not created.created:  # a racing retry stored it first: answer as a retry
            stored = await self._store.get(submission_id)
            if stored is None:  # pragma: no cover - stored by the racing retry just now
                raise SubmissionNotFoundError(f"Submission {submission_id} was not stored; retry.")
            return await self._replay(stored, request_sha256, sender, pushes)
        actor = client_actor(sender.client_id)
        await self._evidence.record_many(
            [
                Event(
                    actor,
                    "submission.accepted",
                    submission_id,
                    {
                        "sender": sender.organisation_id,
                        "recipient": request.recipient,
                        "service": service.key,
                        "payload_sha256": digest,
                        "request_sha256": request_sha256,
                        "attachments_sha256": [a.sha256 for a in attachments],
                        "sender_signed": signed is not None,
                    },
                ),
                Event(actor, "submission.queued", submission_id, {}),
            ]
        )
        await self._store.mark_queued(submission_id, created.inbox_entry)
        return Receipt(submission, receipt)

    def _seal(self, submission_id: str, attachment: Attachment) -> str:
        # Kept encrypted at rest (AES-256-GCM under the data key), bound to its submission.
        context = _attachment_context(submission_id, attachment.sha256)
        return self._box.seal(attachment.data, context=context)

    def _subject(self, sender: Sender, recipient: str) -> dict[str, Any] | None:
        """The citizen as the recipient knows them: pairwise ``sub`` for the recipient
        organisation, the level reached (``acr``, ``auth_time``) and the acting agent
        (RFC 8693 §4.1 ``act``) where one acts."""
        if sender.account_id is None:
            return None
        subject: dict[str, Any] = {
            "sub": self._subjects.subject(recipient_sector(recipient), sender.account_id),
            "acr": sender.claims.get("acr"),
            "auth_time": sender.claims.get("auth_time"),
        }
        if "act" in sender.claims:
            subject["act"] = sender.claims["act"]
        return subject

    async def _requeue(self, stored: StoredSubmission, sender: Sender, pushes: bool) -> None:
        """Finish a submit that stopped after storing: inbox, queue, evidence, the note
        (duplicates of the first attempt's entries are dropped by submission id)."""
        submission = stored.submission
        job = Job(submission.id, current_request_id()).to_json() if pushes else None
        entry = await self._store.requeue(submission, self._queue, job)
        await self._evidence.record(
            Event(client_actor(sender.client_id), "submission.queued", submission.id, {})
        )
        await self._store.mark_queued(submission.id, entry)

    # --- reading --------------------------------------------------------------------------

    async def _visible(self, organisation_id: str, submission_id: str) -> StoredSubmission:
        stored = (
            await self._store.get(submission_id)
            if looks_like_id(submission_id, SUBMISSION_PREFIX)
            else None
        )
        # NOTE: a submission of other organisations answers exactly as a missing one, so
        # ids cannot be probed.
        if stored is None or not stored.submission.involves(organisation_id):
            raise SubmissionNotFoundError(
                f"No submission {submission_id!r} was sent by or to your organisation."
            )
        return stored

    async def view(self, caller: Sender, submission_id: str) -> dict[str, Any]:
        """The submission's state and timeline, for its sender or its recipient; with a
        citizen's token, only a submission sent for that citizen (a council website's other
        citizens' submissions are theirs alone)."""
        stored = await self._visible(caller.organisation_id, submission_id)
        if caller.account_id is not None and not self._sent_for(caller.account_id, stored):
            # NOTE: answered as a missing submission, so a citizen cannot probe ids either.
            raise SubmissionNotFoundError(
                f"No submission {submission_id!r} was sent by or to your organisation."
            )
        return {
            **stored.submission.to_json(),
            "receipt": stored.receipt,
            "acknowledgement": stored.acknowledgement,
            "response": stored.response,
            "timeline": await self._store.timeline(submission_id),
        }

    def _sent_for(self, account_id: str, stored: StoredSubmission) -> bool:
        """Whether ``stored`` was sent on the citizen's behalf: its envelope names them by
        the pairwise subject the recipient knows them by."""
        submission = stored.submission
        subject = sealed_facts(stored.envelope).get("subject")
        expected = self._subjects.subject(recipient_sector(submission.recipient_org), account_id)
        return isinstance(subject, dict) and subject.get("sub") == expected

    async def fetch(self, recipient: Sender, submission_id: str) -> dict[str, Any]:
        """The envelope, for the recipient only; fetching counts as delivery (pull)."""
        stored = await self._recipient_view(recipient, submission_id)
        await self._advance(
            stored.submission,
            State.DELIVERED,
            client_actor(recipient.client_id),
            {"via": "pull"},
        )
        return stored.envelope

    def attachment_links(self, stored: StoredSubmission) -> list[dict[str, str]]:
        """Where the recipient fetches each attachment the envelope lists (a push links to
        them; the envelope itself carries only their digests)."""
        base = f"{self._issuer}/api/v1/submissions/{stored.submission.id}/attachments"
        return [
            {"sha256": a["sha256"], "href": f"{base}/{a['sha256']}"}
            for a in _listed_attachments(stored)
        ]

    async def attachment(self, recipient: Sender, submission_id: str, sha256: str) -> Attachment:
        """An attachment of a submission, for its recipient, by the SHA-256 digest the
        envelope lists; its digest is checked again as it is opened."""
        stored = await self._recipient_view(recipient, submission_id)
        listed = {a["sha256"]: a for a in _listed_attachments(stored)}
        sealed = await self._store.attachment(submission_id, sha256) if sha256 in listed else None
        if sealed is None:
            raise AttachmentNotFoundError(
                f"Submission {submission_id} has no attachment with SHA-256 {sha256!r}, or its "
                "retention has ended; the envelope lists the digests of its attachments."
            )
        data = self._box.open(sealed, context=_attachment_context(submission_id, sha256))
        return Attachment(str(listed[sha256]["name"]), str(listed[sha256]["media_type"]), data)

    async def _recipient_view(self, recipient: Sender, submission_id: str) -> StoredSubmission:
        stored = await self._visible(recipient.organisation_id, submission_id)
        if stored.submission.recipient_org != recipient.organisation_id:
            raise SubmissionNotFoundError(
                f"Submission {submission_id} was not sent to your organisation; only its "
                "recipient fetches, acknowledges or answers it."
            )
        return stored

    async def inbox(self, recipient: Sender, after: str, limit: int) -> dict[str, Any]:
        """Submissions to ``recipient`` not yet acknowledged, after the cursor ``after``
        (HMRC Transaction Engine style poll: come back after ``poll_interval`` seconds)."""
        if after and not INBOX_CURSOR.fullmatch(after):
            raise InvalidCursorError("The cursor is not one this API gave; start with no cursor.")
        rows = await self._store.inbox(recipient.organisation_id, after, limit)
        listed: list[dict[str, Any]] = []
        settled: list[str] = []
        seen: set[str] = set()
        for entry, submission_id in rows:
            stored = await self._store.get(submission_id) if submission_id else None
            if (
                stored is None
                or submission_id in seen
                or STATE_ORDER[stored.submission.state] >= STATE_ORDER[State.ACKNOWLEDGED]
            ):
                settled.append(entry)  # acknowledged, expired or a duplicate: tidy it away
                continue
            seen.add(submission_id)
            submission = stored.submission
            listed.append(
                {
                    "cursor": entry,
                    "id": submission.id,
                    "sender": submission.sender_org,
                    "service": submission.service,
                    "version": submission.version,
                    "accepted_at": submission.accepted_at,
                    "state": submission.state.value,
                    "payload_sha256": submission.payload_sha256,
                }
            )
        await self._store.remove_from_inbox(recipient.organisation_id, settled)
        next_cursor = rows[-1][0] if rows else after
        return {
            "submissions": listed,
            "next_cursor": next_cursor or None,
            "poll_interval": POLL_INTERVAL_SECONDS,
        }

    # --- the recipient's answers ----------------------------------------------------------

    async def acknowledge(self, recipient: Sender, submission_id: str, token: str) -> Submission:
        """Keep the recipient's signed acknowledgement as proof of receipt (the first one
        stands; sending it again changes nothing) and take the submission off the inbox."""
        stored = await self._recipient_view(recipient, submission_id)
        try:
            client = await self._clients.get_enabled(recipient.client_id)
            keyset = await self._client_keys.keyset(client)
        except (ClientError, InvalidClientError):
            raise InvalidAcknowledgementError(
                f"Client {recipient.client_id} has no usable registered keys to sign "
                "acknowledgements with; register a jwks (or jwks_uri) for it."
            ) from None
        claims = verify_acknowledgement(
            token,
            keyset,
            client_id=recipient.client_id,
            audience=self._issuer,
            submission_id=submission_id,
            payload_sha256=stored.submission.payload_sha256,
            now=int(self._clock.now().timestamp()),
        )
        if STATE_ORDER[stored.submission.state] < STATE_ORDER[State.DELIVERED]:
            # A recipient can only sign for what reached it, so the acknowledgement proves
            # delivery too: the push worker may not have noted its 2xx yet when a fast
            # recipient answers, and the timeline must still show delivered before acknowledged.
            await self._advance(
                stored.submission,
                State.DELIVERED,
                client_actor(recipient.client_id),
                {"via": "acknowledgement"},
            )
        await self._advance(
            stored.submission,
            State.ACKNOWLEDGED,
            client_actor(recipient.client_id),
            {"acknowledgement_sha256": sha256_hex(token.encode()), "iat": claims.get("iat")},
            proof=("ack", token),
        )
        if stored.inbox_entry is not None:
            await self._store.remove_from_inbox(recipient.organisation_id, [stored.inbox_entry])
        return await self._current(submission_id)

    async def respond(
        self, recipient: Sender, submission_id: str, response: BusinessResponse
    ) -> dict[str, Any]:
        """Record the recipient's business response, signed by the gateway for the sender;
        the first response stands."""
        stored = await self._recipient_view(recipient, submission_id)
        if STATE_ORDER[stored.submission.state] < STATE_ORDER[State.ACKNOWLEDGED]:
            raise InvalidResponseError(
                "Acknowledge the submission (with your signed acknowledgement) before answering it."
            )
        if stored.response is not None:
            raise InvalidResponseError("This submission has been answered already.")
        now = self._clock.now()
        answer = {**response.model_dump(mode="json"), "responded_at": now.isoformat()}
        signed = self._keys.sign(
            {
                "iss": self._issuer,
                "iat": int(now.timestamp()),
                "sub": submission_id,
                "payload_sha256": stored.submission.payload_sha256,
                "response": answer,
            },
            typ=RESPONSE_TYPE,
        )
        document = {**answer, "signed": signed}
        moved = await self._advance(
            stored.submission,
            State.RESPONDED,
            client_actor(recipient.client_id),
            {"outcome": response.outcome.value, "case_reference": response.case_reference},
            proof=("response", canonical_json(document).decode()),
        )
        if not moved:
            raise InvalidResponseError("This submission has been answered already.")
        return document

    # --- delivery (the worker) ------------------------------------------------------------

    async def stored(self, submission_id: str) -> StoredSubmission | None:
        return await self._store.get(submission_id)

    async def record_attempt(
        self, submission: Submission, attempt: int, outcome: str, detail: str | None
    ) -> None:
        await self._store.note(submission.id, self._attempt(attempt, outcome, detail))

    async def mark_delivered(self, submission: Submission, attempt: int, status: int) -> None:
        """The push ``attempt`` answered with 2xx ``status``: the attempt on the timeline and
        the move to delivered, in one script."""
        await self._advance(
            submission,
            State.DELIVERED,
            SYSTEM_ACTOR,
            {"via": "push", "attempt": attempt, "status": status},
            note=self._attempt(attempt, "delivered", str(status)),
        )

    async def mark_failed(self, submission: Submission, attempts: int, reason: str) -> None:
        """The last push attempt failed too: that attempt on the timeline and the move to
        failed, in one script."""
        await self._advance(
            submission,
            State.FAILED,
            SYSTEM_ACTOR,
            {"attempts": attempts, "reason": reason},
            note=self._attempt(attempts, "failed", reason),
        )

    def _attempt(self, attempt: int, outcome: str, detail: str | None) -> dict[str, Any]:
        return self._event_named(
            "attempt", self._clock.now(), {"attempt": attempt, "outcome": outcome, "detail": detail}
        )

    # --- helpers --------------------------------------------------------------------------

    async def _current(self, submission_id: str) -> Submission:
        stored = await self._store.get(submission_id)
        if stored is None:
            raise SubmissionNotFoundError(f"Submission {submission_id} is gone.")
        return stored.submission

    async def _advance(
        self,
        submission: Submission,
        state: State,
        actor: str,
        details: dict[str, Any],
        proof: tuple[str, str] | None = None,
        note: dict[str, Any] | None = None,
    ) -> bool:
        """Move to ``state`` (never back); a move is written to the evidence log. ``note``
        goes on the timeline before it, moved or not."""
        moved = await self._store.advance(
            submission.id, state, self._event(state, self._clock.now(), details), proof, note
        )
        if moved.advanced or moved.stored:
            await self._evidence.record(
                Event(actor, f"submission.{state.value}", submission.id, details)
            )
        return moved.advanced or moved.stored

    def _event(self, state: State, at: datetime, details: dict[str, Any]) -> dict[str, Any]:
        return self._event_named(state.value, at, details)

    @staticmethod
    def _event_named(name: str, at: datetime, details: dict[str, Any]) -> dict[str, Any]:
        return {"event": name, "at": at.isoformat(), **details}


@dataclass(frozen=True, slots=True)
class Delivery:
    """The delivery engine as the runtime holds it."""

    registry: DeliveryRegistry
    submissions: Submissions
    queue: DeliveryQueue


def build_delivery(
    settings: Settings,
    redis: RedisClient,
    clock: Clock,
    evidence: EvidenceLog,
    *,
    keys: KeyRing,
    organisations: OrganisationService,
    clients: ClientService,
    subjects: PairwiseSubjects,
    client_keys: ClientKeys,
) -> Delivery:
    store = DeliveryStore(redis)
    queue = DeliveryQueue(redis)
    box = SecretBox.load(settings.pki_dir / DATA_KEY_FILE_NAME)
    registry = DeliveryRegistry(store, clock, evidence, organisations, box)
    submissions = Submissions(
        store,
        queue,
        registry,
        clock,
        evidence,
        keys=keys,
        subjects=subjects,
        clients=clients,
        client_keys=client_keys,
        box=box,
        issuer=settings.issuer,
    )
    return Delivery(registry, submissions, queue)
