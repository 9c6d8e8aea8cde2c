"""Registering, changing and authenticating OAuth 2.0 / OpenID Connect clients.

Registration is an administrative act (RFC 7591 §3 with an initial access token: here the
admin API or the CLI), so every change is written to the evidence log with who made it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from gateway.admin.models import Actor
from gateway.clients.errors import (
    ClientAuthenticationError,
    ClientChangedConcurrentlyError,
    ClientDisabledError,
    ClientHasNoSecretError,
    ClientNotFoundError,
    ClientSecretsNotAllowedError,
    InvalidClientRegistrationError,
)
from gateway.clients.models import (
    AuthMethod,
    Client,
    ClientRegistration,
    ClientUpdate,
    IssuedClient,
)
from gateway.clients.store import ClientStore
from gateway.core.clock import Clock
from gateway.core.ids import looks_like_id, new_id
from gateway.evidence.models import Event
from gateway.evidence.services import EvidenceLog
from gateway.organisations.errors import OrganisationNotFoundError
from gateway.organisations.services import OrganisationService

ID_PREFIX = "cli"
MAX_SECRET_LENGTH = 256
MAX_CHANGE_ATTEMPTS = 5
# Compared against when the client has no secret, so that path costs the same as a wrong one.
_NO_SECRET = "0" * 64


def _digest(secret: str) -> str:
    # NOTE: one SHA-256, not a slow password hash: the secret is 256 random bits from
    # secrets.token_urlsafe(32), which no offline guessing can reach, and the token endpoint
    # checks it on every call (OWASP ASVS 2.9.1 / 6.4; RFC 6749 §2.3.1).
    return hashlib.sha256(secret.encode()).hexdigest()


def _new_secret() -> tuple[str, str]:
    """A client secret (RFC 6749 §2.3.1, 256 bits per RFC 6749 §10.10) and its stored digest."""
    secret = secrets.token_urlsafe(32)
    return secret, _digest(secret)


def _audit_view(client: Client) -> dict[str, Any]:
    """What the evidence log keeps of a client: its metadata, keys named by kid only."""
    view = client.to_json()
    for name in ("created_at", "updated_at", "client_id"):
        view.pop(name)
    if client.jwks is not None:
        view["jwks"] = {"kids": [key.get("kid") for key in client.jwks.get("keys", [])]}
    return view


class ClientService:
    def __init__(
        self,
        store: ClientStore,
        clock: Clock,
        evidence: EvidenceLog,
        organisations: OrganisationService,
        *,
        secrets_allowed: bool,
    ) -> None:
        self._store = store
        self._clock = clock
        self._evidence = evidence
        self._organisations = organisations
        self._secrets_allowed = secrets_allowed

    async def add(self, registration: ClientRegistration, actor: Actor) -> IssuedClient:
        """Register a client; a ``client_secret_*`` client gets its secret here, once
        (RFC 7591 §3.2.1)."""
        await self._check_organisation(registration.organisation_id)
        secret, secret_hash = self._issue_secret(registration.token_endpoint_auth_method)
        now = self._clock.now()
        client = Client.from_registration(
            new_id(ID_PREFIX), registration, secret_hash=secret_hash, created_at=now, updated_at=now
        )
        await self._store.add(client)
        await self._evidence.record(
            Event(str(actor), "client.created", client.client_id, _audit_view(client))
        )
        return IssuedClient(client, secret)

    async def check_startup(self) -> None:
        """Refuse to start where changes to clients could not be announced."""
        await self._store.check_changes()

    async def aclose(self) -> None:
        """Stop hearing of changes to clients (the runtime is closing)."""
        await self._store.aclose()

    async def get(self, client_id: str) -> Client:
        self._check_id(client_id)
        client = await self._store.get(client_id)
        if client is None:
            raise ClientNotFoundError(self._not_found(client_id))
        return client

    async def get_enabled(self, client_id: str) -> Client:
        """The client for a protocol request; a disabled client is refused (RFC 6749 §4.1.2.1
        ``unauthorized_client``)."""
        client = await self.get(client_id)
        if client.disabled:
            raise ClientDisabledError(
                f"The client {client_id} is disabled; an administrator can enable it with "
                f"'govconnect clients enable {client_id}'."
            )
        return client

    async def list(self) -> list[Client]:
        """Every registered client, oldest first."""
        return await self._store.all()

    async def update(self, client_id: str, update: ClientUpdate, actor: Actor) -> IssuedClient:
        """Change the fields given in ``update``; the merged registration is validated whole
        (RFC 7592 §2.2).

        Switching to a ``client_secret_*`` method issues a secret (returned once); switching
        to ``private_key_jwt`` drops the stored secret hash.
        """
        changes = update.changes()

        async def apply(client: Client) -> IssuedClient:
            registration = ClientRegistration.build({**client.registration_data(), **changes})
            if registration.organisation_id != client.organisation_id:
                await self._check_organisation(registration.organisation_id)
            method = registration.token_endpoint_auth_method
            secret: str | None = None
            secret_hash = client.secret_hash if method.uses_secret else None
            if method.uses_secret and secret_hash is None:
                secret, secret_hash = self._issue_secret(method)
            changed = Client.from_registration(
                client.client_id,
                registration,
                secret_hash=secret_hash,
                created_at=client.created_at,
                updated_at=self._clock.now(),
                disabled=client.disabled,
            )
            return IssuedClient(changed, secret)

        before, after = await self._change(client_id, apply)
        old, new = _audit_view(before), _audit_view(after.client)
        details = {
            "changed": {name: value for name, value in new.items() if value != old[name]},
            "secret_issued": after.secret is not None,
        }
        await self._evidence.record(Event(str(actor), "client.updated", client_id, details))
        return after

    async def disable(self, client_id: str, actor: Actor) -> Client:
        """Switch a client off at once: it can no longer sign people in or get tokens."""
        return await self._set_disabled(client_id, actor, disabled=True)

    async def enable(self, client_id: str, actor: Actor) -> Client:
        return await self._set_disabled(client_id, actor, disabled=False)

    async def rotate_secret(self, client_id: str, actor: Actor) -> str:
        """Issue a new secret; the old one stops working at once (RFC 7592 §2.2 lets the
        server rotate ``client_secret``). Works on a disabled client, so a leaked secret can
        be replaced before the client is enabled again."""

        async def apply(client: Client) -> IssuedClient:
            method = client.token_endpoint_auth_method
            if not method.uses_secret:
                raise ClientHasNoSecretError(
                    f"The client {client_id} authenticates with {method.value} and has no "
                    "secret; to change its keys, update its jwks or jwks_uri (private_key_jwt) "
                    "or issue a new organisation certificate (tls_client_auth)."
                )
            secret, secret_hash = self._issue_secret(method)
            changed = replace(client, secret_hash=secret_hash, updated_at=self._clock.now())
            return IssuedClient(changed, secret)

        _, after = await self._change(client_id, apply)
        await self._evidence.record(Event(str(actor), "client.secret-rotated", client_id))
        assert after.secret is not None
        return after.secret

    async def authenticate_secret(self, client_id: str, secret: str) -> Client:
        """``client_secret_basic`` / ``client_secret_post`` (RFC 6749 §2.3.1): the enabled
        client whose secret this is. Unknown client, wrong secret, disabled client and a client
        without a secret all raise the same :class:`ClientAuthenticationError` (RFC 6749 §5.2
        ``invalid_client``)."""
        client = None
        if looks_like_id(client_id, ID_PREFIX) and len(secret) <= MAX_SECRET_LENGTH:
            client = await self._store.get(client_id)
        expected = client.secret_hash if client and client.secret_hash else _NO_SECRET
        matches = hmac.compare_digest(_digest(secret), expected)
        # NOTE: with secrets switched off, a secret client left over from development cannot
        # authenticate either; the operator moves it to private_key_jwt.
        if client is None or not matches or client.disabled or not self._secrets_allowed:
            raise ClientAuthenticationError
        return client

    async def _set_disabled(self, client_id: str, actor: Actor, *, disabled: bool) -> Client:
        async def apply(client: Client) -> IssuedClient:
            if client.disabled == disabled:
                return IssuedClient(client)
            return IssuedClient(replace(client, disabled=disabled, updated_at=self._clock.now()))

        before, after = await self._change(client_id, apply)
        if before.disabled != after.client.disabled:
            action = "client.disabled" if disabled else "client.enabled"
            await self._evidence.record(Event(str(actor), action, client_id))
        return after.client

    async def _change(
        self, client_id: str, apply: Callable[[Client], Awaitable[IssuedClient]]
    ) -> tuple[Client, IssuedClient]:
        """Read, apply, write back with compare-and-set; a lost race re-reads and re-applies,
        so no change is ever based on a state another writer has already replaced."""
        self._check_id(client_id)
        for _ in range(MAX_CHANGE_ATTEMPTS):
            read = await self._store.versioned(client_id)
            if read is None:
                raise ClientNotFoundError(self._not_found(client_id))
            after = await apply(read.client)
            if after.client == read.client or await self._store.replace(read, after.client):
                return read.client, after
        raise ClientChangedConcurrentlyError(
            f"The client {client_id} kept changing while this change was being made; "
            "nothing was changed. Read it again and retry."
        )

    def _issue_secret(self, method: AuthMethod) -> tuple[str | None, str | None]:
        if not method.uses_secret:
            return None, None
        if not self._secrets_allowed:
            raise ClientSecretsNotAllowedError
        return _new_secret()

    async def _check_organisation(self, organisation_id: str) -> None:
        try:
            await self._organisations.get(organisation_id)
        except OrganisationNotFoundError:
            raise InvalidClientRegistrationError(
                f"organisation_id {organisation_id!r} names no registered organisation; "
                "register it first ('govconnect orgs add') or check the id "
                "('govconnect orgs list')",
                errors=[{"location": "organisation_id", "message": "unknown organisation"}],
            ) from None

    def _check_id(self, client_id: str) -> None:
        """Junk ids are refused before they reach Redis."""
        if not looks_like_id(client_id, ID_PREFIX):
            raise ClientNotFoundError(self._not_found(client_id))

    @staticmethod
    def _not_found(client_id: str) -> str:
        shown = client_id if len(client_id) <= 64 else client_id[:64] + "…"
        return f"No client has the id {shown!r}. List clients with 'govconnect clients list'."
