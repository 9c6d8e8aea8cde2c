"""API keys per council service, as GOV.UK Pay issues them: test or live, shown once,
stored hashed, revocable.

A key is ``api_test_`` or ``api_live_`` and 256 random bits. A secret that cannot be guessed
needs no slow hash: its SHA-256 is the stored form (OWASP ASVS 2.9.1 / 6.4), as for admin
tokens. Callers send it as an OAuth 2.0 bearer token (RFC 6750 §2.1), which is how GOV.UK
Pay's API is called, so a council's client needs only a new base URL and key.

Each key may make ``rate_limit`` requests a second (GOV.UK Pay API reference, "Rate limits":
past it the answer is 429 ``P0900``). The counter is a Redis key per key digest and second,
read in the same round trip as the key itself.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import replace

from gateway.admin.models import Actor
from gateway.core.clock import Clock
from gateway.core.ids import new_id
from gateway.evidence.models import Event
from gateway.evidence.services import EvidenceLog
from gateway.organisations.services import OrganisationService
from payments.errors import (
    InvalidPaymentKeyRequestError,
    PaymentAuthenticationError,
    PaymentKeyNotFoundError,
    PaymentRateLimitedError,
)
from payments.models import SERVICE_NAME, IssuedPaymentKey, Mode, PaymentAccount, PaymentKey
from payments.store import PaymentKeyStore

KEY_PREFIXES = {Mode.TEST: "api_test_", Mode.LIVE: "api_live_"}
MAX_KEY_LENGTH = 128


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class PaymentKeyService:
    def __init__(
        self,
        store: PaymentKeyStore,
        clock: Clock,
        evidence: EvidenceLog,
        organisations: OrganisationService,
        *,
        rate_limit: int,
    ) -> None:
        self._store = store
        self._clock = clock
        self._evidence = evidence
        self._organisations = organisations
        self._rate_limit = rate_limit

    async def create(self, org_id: str, service: str, mode: Mode, actor: Actor) -> IssuedPaymentKey:
        """Issue a key for ``service`` of the organisation; the secret is returned once."""
        if not SERVICE_NAME.fullmatch(service):
            raise InvalidPaymentKeyRequestError(
                f"The service name {service!r} must start with a-z and use only a-z, 0-9 and "
                "'-' (at most 63 characters), for example 'parking-fines'."
            )
        organisation = await self._organisations.get(org_id)
        secret = KEY_PREFIXES[mode] + secrets.token_urlsafe(32)
        key = PaymentKey(
            new_id("pk"), organisation.id, service, mode, self._clock.now().isoformat()
        )
        await self._store.add(key, _digest(secret))
        await self._evidence.record(
            Event(
                str(actor),
                "payment-key.created",
                key.id,
                {"org_id": key.org_id, "service": service, "mode": mode.value},
            )
        )
        return IssuedPaymentKey(key, secret)

    async def authenticate(self, secret: str | None) -> PaymentAccount:
        """The account a bearer key reaches, or :class:`PaymentAuthenticationError`;
        :class:`PaymentRateLimitedError` past the key's requests a second."""
        if (
            not secret
            or len(secret) > MAX_KEY_LENGTH
            or not secret.startswith(tuple(KEY_PREFIXES.values()))
        ):
            raise PaymentAuthenticationError(
                "Send an API key as 'Authorization: Bearer api_…'. Create one with "
                "'govconnect payments keys create'."
            )
        # NOTE: a request with an unknown key is counted too (the count is read with the key,
        # in one round trip); its counter expires after two seconds like any other.
        key, requests = await self._store.by_digest(
            _digest(secret), int(self._clock.now().timestamp())
        )
        if key is None or key.revoked:
            raise PaymentAuthenticationError("The API key is not valid or has been revoked.")
        if requests > self._rate_limit:
            raise PaymentRateLimitedError(
                f"Too many requests: this API key may make {self._rate_limit} a second. "
                "Wait a second and try again."
            )
        return key.account()

    async def revoke(self, key_id: str, actor: Actor) -> PaymentKey:
        key = await self._store.get(key_id)
        if key is None:
            raise PaymentKeyNotFoundError(
                f"No payment API key has the id {key_id!r}. List them with "
                "'govconnect payments keys list'."
            )
        revoked = replace(key, revoked=True)
        await self._store.revoke(revoked)
        await self._evidence.record(Event(str(actor), "payment-key.revoked", key_id))
        return revoked

    async def list(self, org_id: str | None = None) -> list[PaymentKey]:
        keys = await self._store.all()
        return [k for k in keys if org_id is None or k.org_id == org_id]
