"""Webhooks to council services, sent as GOV.UK Pay sends them.

GOV.UK Pay documentation, "Receive automatic payment event updates using webhooks":

- a webhook belongs to one service's test or live account, has a callback URL and the event
  types it wants (:class:`EventType`), and can be deactivated and activated again;
- each message is a ``POST`` of JSON ``{id, created_date, resource_id, api_version: 1,
  resource_type, event_type, resource}``, where ``resource`` is the payment as
  ``GET /v1/payments/{id}`` shows it (or the refund, for ``card_payment_refunded``) when the
  event happened;
- the ``Pay-Signature`` header is the lower-case hexadecimal HMAC-SHA256 of the exact body
  bytes, keyed with the webhook's signing secret (its UTF-8 bytes). The body is made once
  and kept, so every retry sends the same bytes and the same signature;
- a message not answered ``2xx`` within 5 seconds is sent again 60 seconds, 5 minutes,
  1 hour, 1 day and 2 days after each failure (:data:`RETRY_SCHEDULE`, as GOV.UK Pay's
  ``pay-webhooks`` schedules them), then given up on.

Messages are queued on :class:`~payments.store.WebhookStore` (the durable queue of
:mod:`gateway.core.queue`) and sent by :mod:`payments.worker`. The message ``id`` is the
same on every attempt, so a council drops a duplicate (delivery is at least once).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

import httpx

from gateway import __version__
from gateway.admin.models import Actor
from gateway.core.clock import Clock
from gateway.core.ids import new_id
from gateway.core.secretbox import SecretBox
from gateway.core.settings import is_loopback_host
from gateway.evidence.models import Event
from gateway.evidence.services import EvidenceLog
from gateway.organisations.services import OrganisationService
from payments.errors import InvalidWebhookRequestError, WebhookNotFoundError
from payments.models import SERVICE_NAME, Mode, new_pay_id, pay_time
from payments.states import (
    CAPTURE,
    CONFIRM,
    EXPIRE,
    HOLD,
    PROVIDER_ERROR,
    REJECT,
    SERVICE_CANCEL,
    USER_CANCEL,
)
from payments.store import WebhookStore

API_VERSION = 1
SIGNATURE_HEADER = "Pay-Signature"
TIMEOUT_SECONDS = 5.0
# Seconds to wait after the 1st, 2nd, … failed attempt; none after the last (6 attempts).
RETRY_SCHEDULE: tuple[float, ...] = (60, 300, 3_600, 86_400, 172_800)
MAX_URL = 2000
MAX_DESCRIPTION = 255


class EventType(StrEnum):
    """GOV.UK Pay's webhook event types that this gateway's payments produce."""

    SUCCEEDED = "card_payment_succeeded"  # the paying user approved; authorised
    CAPTURED = "card_payment_captured"  # the money was taken
    FAILED = "card_payment_failed"  # declined, cancelled (by user or service), provider error
    EXPIRED = "card_payment_expired"  # not finished within 90 minutes
    REFUNDED = "card_payment_refunded"  # a refund succeeded (the resource is the refund)


# The events of each lifecycle move, as GOV.UK Pay's EventMapper maps its internal events.
EVENTS_OF_TRANSITION: dict[str, tuple[EventType, ...]] = {
    CONFIRM.name: (EventType.SUCCEEDED, EventType.CAPTURED),
    HOLD.name: (EventType.SUCCEEDED,),
    CAPTURE.name: (EventType.CAPTURED,),
    REJECT.name: (EventType.FAILED,),
    USER_CANCEL.name: (EventType.FAILED,),
    SERVICE_CANCEL.name: (EventType.FAILED,),
    PROVIDER_ERROR.name: (EventType.FAILED,),
    EXPIRE.name: (EventType.EXPIRED,),
}


def signature(secret: str, body: bytes) -> str:
    """``Pay-Signature``: lower-case hex HMAC-SHA256 of ``body`` keyed with ``secret``."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _callback_url(url: str, mode: Mode) -> str:
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 - urlsplit parses the port lazily; this raises if it is junk
    except ValueError:
        parts = urlsplit("")
    if (
        len(url) > MAX_URL
        or parts.scheme not in {"https", "http"}
        or not parts.hostname
        or parts.username is not None
        or " " in url
    ):
        raise InvalidWebhookRequestError(
            "The callback URL must be an absolute https URL without credentials, for example "
            "https://parking.anytown.gov.uk/payment-events."
        )
    # NOTE: as GOV.UK Pay, plain http is accepted for test accounts (and loopback hosts in
    # development); a live account's messages travel over https only. Only operators and
    # admin tokens register webhooks, so the gateway posting to the URL given is trusted.
    if parts.scheme == "http" and mode is Mode.LIVE and not is_loopback_host(parts.hostname):
        raise InvalidWebhookRequestError("A live account's callback URL must use https.")
    return url


def event_types(names: Iterable[str]) -> frozenset[EventType]:
    """Event types by name; :class:`InvalidWebhookRequestError` naming one that is not."""
    chosen: set[EventType] = set()
    for name in names:
        try:
            chosen.add(EventType(name.strip().lower()))
        except ValueError:
            raise InvalidWebhookRequestError(
                f"{name!r} is not an event type. Choose from: "
                + ", ".join(e.value for e in EventType)
            ) from None
    if not chosen:
        raise InvalidWebhookRequestError("Choose at least one event type for the webhook.")
    return frozenset(chosen)


@dataclass(frozen=True, slots=True)
class Webhook:
    """A council service's webhook. ``sealed_secret`` is the signing secret sealed with the
    data key: it must be kept (not hashed) because every message is signed with it."""

    id: str
    org_id: str
    service: str
    mode: Mode
    url: str
    description: str
    events: frozenset[EventType]
    created: str
    sealed_secret: str
    active: bool = True

    @property
    def account_id(self) -> str:
        return f"{self.org_id}:{self.service}:{self.mode.value}"

    def to_api(self) -> dict[str, Any]:
        """What operators see: never the secret."""
        return {
            "id": self.id,
            "org_id": self.org_id,
            "service": self.service,
            "mode": self.mode.value,
            "callback_url": self.url,
            "description": self.description,
            "subscriptions": sorted(e.value for e in self.events),
            "status": "active" if self.active else "inactive",
            "created_date": self.created,
        }

    def to_json(self) -> dict[str, Any]:
        return {**self.to_api(), "sealed_secret": self.sealed_secret}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Webhook:
        return cls(
            id=data["id"],
            org_id=data["org_id"],
            service=data["service"],
            mode=Mode(data["mode"]),
            url=data["callback_url"],
            description=data["description"],
            events=frozenset(EventType(e) for e in data["subscriptions"]),
            created=data["created_date"],
            sealed_secret=data["sealed_secret"],
            active=data["status"] == "active",
        )


@dataclass(frozen=True, slots=True)
class IssuedWebhook:
    webhook: Webhook
    signing_secret: str


@dataclass(frozen=True, slots=True)
class WebhookJob:
    """One message to one webhook, at its ``attempt`` (1 to 6). ``body`` is the exact JSON
    sent, made when the event happened."""

    webhook_id: str
    message_id: str
    event_type: str
    resource_id: str
    body: str
    attempt: int = 1

    def to_json(self) -> dict[str, Any]:
        return {
            "webhook": self.webhook_id,
            "message": self.message_id,
            "event_type": self.event_type,
            "resource_id": self.resource_id,
            "body": self.body,
            "attempt": self.attempt,
        }

    def encoded(self) -> str:
        """The job as the queue holds it (compact JSON, as :class:`StreamQueue` writes)."""
        return json.dumps(self.to_json(), separators=(",", ":"))

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> WebhookJob:
        return cls(
            str(data["webhook"]),
            str(data["message"]),
            str(data["event_type"]),
            str(data["resource_id"]),
            str(data["body"]),
            int(data["attempt"]),
        )

    def next_attempt(self) -> WebhookJob:
        return replace(self, attempt=self.attempt + 1)


@dataclass(frozen=True, slots=True)
class Sent:
    """What one attempt got: the status when the council answered, else ``None``."""

    ok: bool
    status: int | None
    detail: str


class WebhookSender:
    """Posts one signed message. Outbound HTTP goes through an injectable ``httpx``
    transport, with GOV.UK Pay's 5-second timeout, without following redirects and without
    reading more of the answer than its status."""

    def __init__(self, transport: httpx.AsyncBaseTransport | None = None) -> None:
        # NOTE: trust_env is off so that proxy variables in the environment cannot send
        # payment events anywhere but the registered URL; redirects are not followed, so a
        # callback URL cannot bounce a signed message to another host.
        self._http = httpx.AsyncClient(
            transport=transport,
            timeout=TIMEOUT_SECONDS,
            follow_redirects=False,
            trust_env=False,
            headers={"User-Agent": f"GovConnect/{__version__} payment webhooks"},
        )

    async def post(self, url: str, secret: str, body: bytes) -> Sent:
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: signature(secret, body)}
        try:
            async with self._http.stream("POST", url, content=body, headers=headers) as answer:
                status = answer.status_code
        except httpx.HTTPError as exc:
            return Sent(False, None, f"the callback URL could not be reached: {type(exc).__name__}")
        if 200 <= status < 300:
            return Sent(True, status, f"answered {status}")
        return Sent(False, status, f"the callback URL answered {status}")

    async def aclose(self) -> None:
        await self._http.aclose()


class WebhookService:
    """Registers webhooks and queues a message for each one an event concerns."""

    def __init__(
        self,
        store: WebhookStore,
        clock: Clock,
        evidence: EvidenceLog,
        box: SecretBox,
        organisations: OrganisationService,
    ) -> None:
        self.store = store
        self._clock = clock
        self._evidence = evidence
        self._box = box
        self._organisations = organisations

    async def create(
        self,
        org_id: str,
        service: str,
        mode: Mode,
        url: str,
        events: Iterable[str],
        actor: Actor,
        description: str = "",
    ) -> IssuedWebhook:
        """Register a webhook for one service's test or live account; its signing secret is
        returned (and may be shown again with :meth:`signing_secret`)."""
        if not SERVICE_NAME.fullmatch(service):
            raise InvalidWebhookRequestError(
                f"The service name {service!r} must start with a-z and use only a-z, 0-9 and "
                "'-' (at most 63 characters)."
            )
        if len(description) > MAX_DESCRIPTION:
            raise InvalidWebhookRequestError("The description must be at most 255 characters.")
        organisation = await self._organisations.get(org_id)
        webhook_id = new_id("pwh")
        secret = f"webhook_{mode.value}_{secrets.token_urlsafe(32)}"
        webhook = Webhook(
            id=webhook_id,
            org_id=organisation.id,
            service=service,
            mode=mode,
            url=_callback_url(url, mode),
            description=description,
            events=event_types(events),
            created=pay_time(self._clock.now()),
            sealed_secret=self._box.seal(secret.encode(), context=_secret_context(webhook_id)),
        )
        await self.store.add_webhook(webhook.account_id, webhook.id, webhook.to_json())
        await self._evidence.record(
            Event(
                str(actor),
                "payment-webhook.created",
                webhook.id,
                {
                    "account": webhook.account_id,
                    "events": sorted(webhook.to_api()["subscriptions"]),
                },
            )
        )
        return IssuedWebhook(webhook, secret)

    async def get(self, webhook_id: str) -> Webhook:
        raw = await self.store.webhook(webhook_id)
        if raw is None:
            raise WebhookNotFoundError(
                f"No payment webhook has the id {webhook_id!r}. List them with "
                "'govconnect payments webhooks list'."
            )
        return Webhook.from_json(raw)

    async def all(self, org_id: str | None = None) -> list[Webhook]:
        hooks = [Webhook.from_json(raw) for raw in await self.store.all_webhooks()]
        return sorted(
            (w for w in hooks if org_id is None or w.org_id == org_id), key=lambda w: w.created
        )

    async def set_active(self, webhook_id: str, active: bool, actor: Actor) -> Webhook:
        """Deactivate (no more messages are sent, queued ones included) or activate again."""
        webhook = replace(await self.get(webhook_id), active=active)
        await self.store.put_webhook(webhook.account_id, webhook.id, webhook.to_json())
        action = "activated" if active else "deactivated"
        await self._evidence.record(Event(str(actor), f"payment-webhook.{action}", webhook.id))
        return webhook

    def signing_secret(self, webhook: Webhook) -> str:
        return self._box.open(webhook.sealed_secret, context=_secret_context(webhook.id)).decode()

    async def attempts(self, webhook_id: str) -> list[dict[str, Any]]:
        """The webhook's latest delivery attempts, newest first."""
        await self.get(webhook_id)
        return await self.store.attempts(webhook_id)

    async def emit(
        self,
        account_id: str,
        events: Iterable[EventType],
        resource_type: str,
        resource_id: str,
        resource: Mapping[str, Any],
    ) -> int:
        """Queue a message for every active webhook of the account subscribed to each of
        ``events``; how many were queued."""
        wanted = tuple(events)
        if not wanted:
            return 0
        hooks = [Webhook.from_json(raw) for raw in await self.store.of_account(account_id)]
        created = pay_time(self._clock.now())
        jobs: list[dict[str, Any]] = []
        for event in wanted:
            for hook in hooks:
                if not hook.active or event not in hook.events:
                    continue
                message_id = new_pay_id()
                body = {
                    "id": message_id,
                    "created_date": created,
                    "resource_id": resource_id,
                    "api_version": API_VERSION,
                    "resource_type": resource_type,
                    "event_type": event.value,
                    "resource": resource,
                }
                job = WebhookJob(hook.id, message_id, event.value, resource_id, json.dumps(body))
                jobs.append(job.to_json())
        await self.store.add_many(jobs)
        return len(jobs)


def _secret_context(webhook_id: str) -> str:
    return f"payment-webhook:{webhook_id}"
