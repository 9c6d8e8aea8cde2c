"""Creating, checking and revoking admin API tokens.

Tokens are 256-bit random secrets, so a single SHA-256 is a sufficient stored form (a slow
password hash adds nothing against a secret that cannot be guessed; OWASP ASVS 2.9.1 / 6.4).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import replace

from gateway.admin.errors import AdminAuthenticationError, AdminTokenNotFoundError
from gateway.admin.models import Actor, AdminToken, IssuedAdminToken
from gateway.admin.store import AdminStore
from gateway.core.clock import Clock
from gateway.core.ids import new_id
from gateway.evidence.models import Event
from gateway.evidence.services import EvidenceLog

TOKEN_PREFIX = "gcadm_"  # noqa: S105 - a public prefix that makes leaked tokens easy to spot


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class AdminService:
    def __init__(self, store: AdminStore, clock: Clock, evidence: EvidenceLog) -> None:
        self._store = store
        self._clock = clock
        self._evidence = evidence

    async def create_token(self, name: str, actor: Actor) -> IssuedAdminToken:
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token = AdminToken(new_id("adm"), name, self._clock.now().isoformat())
        await self._store.add(token, _digest(secret))
        await self._evidence.record(
            Event(str(actor), "admin-token.created", token.id, {"name": name})
        )
        return IssuedAdminToken(token, secret)

    async def authenticate(self, secret: str | None) -> Actor:
        """The actor behind a bearer secret, or :class:`AdminAuthenticationError`."""
        if not secret or not secret.startswith(TOKEN_PREFIX) or len(secret) > 128:
            raise AdminAuthenticationError(
                "Send an admin token as 'Authorization: Bearer gcadm_…'. Create one with "
                "'govconnect admin create-token'."
            )
        token = await self._store.by_digest(_digest(secret))
        if token is None or token.revoked:
            raise AdminAuthenticationError("The admin token is not valid or has been revoked.")
        return Actor("admin-token", token.name)

    async def revoke_token(self, token_id: str, actor: Actor) -> AdminToken:
        token = await self._store.get(token_id)
        if token is None:
            raise AdminTokenNotFoundError(f"No admin token has the id {token_id}.")
        revoked = replace(token, revoked=True)
        await self._store.save(revoked)
        await self._evidence.record(Event(str(actor), "admin-token.revoked", token_id))
        return revoked

    async def tokens(self) -> list[AdminToken]:
        return await self._store.all()
