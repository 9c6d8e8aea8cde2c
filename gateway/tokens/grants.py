"""The grants of the token endpoint: authorization code (RFC 6749 §4.1.3, RFC 7636 §4.6,
OIDC Core §3.1.3), refresh token (RFC 6749 §6, RFC 9700 §4.14.2) and client credentials
(RFC 6749 §4.4)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping
from datetime import timedelta

from gateway.accounts.errors import AccountError
from gateway.accounts.models import Account
from gateway.accounts.services import AccountService
from gateway.clients.models import Client, GrantType
from gateway.core.clock import Clock
from gateway.core.ids import new_id
from gateway.oidc.errors import (
    InvalidDpopProofError,
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
)
from gateway.oidc.models import SCOPE_CLAIMS
from gateway.oidc.store import CodeStore
from gateway.tokens.claims import account_claims, requested
from gateway.tokens.errors import InvalidTargetError
from gateway.tokens.minting import TokenMinter, new_refresh_token, refresh_grant_id
from gateway.tokens.models import OPENID, FamilyRecord, TokenResponse
from gateway.tokens.store import RefreshState, TokenStore, digest

CODE_LIFETIME_SECONDS = 60  # RFC 6749 §4.1.2 recommends at most ten minutes; one is plenty
# RFC 7636 §4.1: 43 to 128 characters of [A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~".
_VERIFIER = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")
# Scopes that speak about a person: meaningless without one (client credentials).
PERSON_SCOPES = frozenset({OPENID, "offline_access", *SCOPE_CLAIMS})


def _required(form: Mapping[str, str], name: str) -> str:
    value = form.get(name)
    if not value:
        raise InvalidRequestError(f"The {name} parameter is required.")
    return value


def _scope(value: str | None) -> tuple[str, ...] | None:
    return None if value is None else tuple(dict.fromkeys(value.split()))


def pkce_matches(verifier: str, challenge: str) -> bool:
    """RFC 7636 §4.6: BASE64URL(SHA256(ASCII(code_verifier))) == code_challenge."""
    computed = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest())
    return hmac.compare_digest(computed.rstrip(b"=").decode(), challenge)


class Grants:
    def __init__(
        self,
        codes: CodeStore,
        store: TokenStore,
        minter: TokenMinter,
        accounts: AccountService,
        clock: Clock,
        *,
        issuer: str,
        refresh_lifetime: int,
        resource_servers: Mapping[str, str],
    ) -> None:
        self._codes = codes
        self._store = store
        self._minter = minter
        self._accounts = accounts
        self._clock = clock
        self._issuer = issuer
        self._refresh_lifetime = refresh_lifetime
        self._resources = resource_servers

    @property
    def revocation_memory(self) -> int:
        """How long a revoked grant is remembered: past the last token it could have issued."""
        return self._refresh_lifetime + self._minter.access_lifetime + 60

    async def revoke_grant(self, grant_id: str) -> None:
        await self._store.revoke_family(grant_id, self.revocation_memory)

    async def revoke_sign_in(self, sid: str) -> int:
        """Revoke every grant issued during sign-in ``sid``, and refuse codes from it that
        are yet to be redeemed; how many grants there were."""
        await self._store.end_sign_in(sid, CODE_LIFETIME_SECONDS + 60)
        grant_ids = await self._store.take_sign_in_grants(sid)
        for grant_id in grant_ids:
            await self.revoke_grant(grant_id)
        return len(grant_ids)

    async def revoke_client(self, account_id: str, client_id: str) -> int:
        """Revoke every grant a person gave a client (their consent was withdrawn)."""
        grant_ids = await self._store.take_client_grants(account_id, client_id)
        for grant_id in grant_ids:
            await self.revoke_grant(grant_id)
        return len(grant_ids)

    def audience(self, resources: list[str]) -> str:
        """RFC 8707 §2: the one resource asked for if tokens may be issued for it; otherwise
        the gateway's own API (its issuer, which userinfo expects)."""
        # NOTE: the resource is not compared with one given at the authorization endpoint
        # (the grant does not record one); any registered resource server may be asked for.
        if not resources:
            return self._issuer
        if len(resources) > 1:
            raise InvalidTargetError("Ask for one resource per access token.")
        if resources[0] != self._issuer and resources[0] not in self._resources:
            raise InvalidTargetError(
                f"The resource {resources[0][:200]!r} is not one tokens are issued for."
            )
        return resources[0]

    async def authorization_code(
        self, client: Client, form: Mapping[str, str], resources: list[str], jkt: str | None
    ) -> TokenResponse:
        code = _required(form, "code")
        redirect_uri = _required(form, "redirect_uri")
        verifier = form.get("code_verifier", "")
        redemption = await self._codes.redeem(code)
        if redemption.reused_grant_id is not None:
            # RFC 6749 §4.1.2: a code used twice revokes what was issued from it.
            await self.revoke_grant(redemption.reused_grant_id)
            raise InvalidGrantError(
                "The authorization code was already used; every token issued from it is now "
                "revoked."
            )
        grant = redemption.grant
        if grant is None:
            raise InvalidGrantError("The authorization code is unknown or has expired.")
        # NOTE: the checks below come after the code is consumed (a code is redeemed in one
        # atomic step), so a code presented by the wrong client, or with a wrong verifier, is
        # spent: its rightful client then sees a reused code. A stolen code is never usable.
        if grant.client_id != client.client_id:
            raise InvalidGrantError("The authorization code was issued to another client.")
        if self._clock.now() > grant.issued_at + timedelta(seconds=CODE_LIFETIME_SECONDS):
            raise InvalidGrantError("The authorization code has expired.")
        if redirect_uri != grant.redirect_uri:
            raise InvalidGrantError(
                "The redirect_uri differs from the one in the authorization request."
            )
        if not _VERIFIER.match(verifier) or not pkce_matches(verifier, grant.code_challenge):
            raise InvalidGrantError(
                "The code_verifier is missing or does not match the code_challenge (RFC 7636 §4.6)."
            )
        if grant.dpop_jkt is not None and jkt != grant.dpop_jkt:
            raise InvalidDpopProofError(
                "The authorization code is bound to a DPoP key (dpop_jkt); send a DPoP proof "
                "made with that key (RFC 9449 §10)."
            )
        audience = self.audience(resources)
        account = await self._account(grant.account_id)
        refreshable = GrantType.REFRESH_TOKEN in client.grant_types
        now = self._clock.now()
        lifetime = self._refresh_lifetime if refreshable else self._minter.access_lifetime
        record = FamilyRecord.of(grant, jkt, now + timedelta(seconds=lifetime))
        refresh = new_refresh_token(grant.grant_id) if refreshable else None
        ttl = lifetime + self._minter.access_lifetime + 60
        created = await self._store.create_family(
            grant.grant_id, record.dumps(), digest(refresh) if refresh else None, ttl
        )
        if not created:
            raise InvalidGrantError("The authorization grant has been revoked.")
        await self._store.remember_client_grant(
            grant.account_id, client.client_id, grant.grant_id, ttl
        )
        if grant.sid:
            await self._store.remember_sign_in(grant.sid, grant.grant_id, ttl)
            # Checked after the grant is indexed: a sign-out either finds the grant in the
            # index or has already left its mark, so a code redeemed after the person signed
            # out never yields tokens that outlive the sign-out.
            if await self._store.sign_in_ended(grant.sid):
                await self.revoke_grant(grant.grant_id)
                raise InvalidGrantError(
                    "The person signed out after this code was issued; start a new sign-in."
                )
        return self._issue(
            client, record, account, grant.scope, audience, jkt, refresh, nonce=grant.nonce
        )

    async def refresh_token(
        self, client: Client, form: Mapping[str, str], resources: list[str], jkt: str | None
    ) -> TokenResponse:
        token = _required(form, "refresh_token")
        grant_id = refresh_grant_id(token)
        if grant_id is None:
            raise InvalidGrantError("The refresh token is not valid.")
        presented = digest(token)
        state, raw = await self._store.refresh_state(grant_id, presented)
        if state is RefreshState.ROTATED:
            # RFC 9700 §4.14.2: a refresh token used twice has leaked; end the family.
            await self.revoke_grant(grant_id)
            raise InvalidGrantError(
                "The refresh token was already used; every token of this grant is now revoked."
            )
        if state is not RefreshState.CURRENT:
            raise InvalidGrantError("The refresh token is not valid or has been revoked.")
        record = FamilyRecord.loads(raw)
        if record.client_id != client.client_id:
            raise InvalidGrantError("The refresh token was issued to another client.")
        if self._clock.now() >= record.expires_at:
            raise InvalidGrantError("The refresh token has expired; sign the person in again.")
        if record.dpop_jkt is not None and jkt != record.dpop_jkt:
            raise InvalidDpopProofError(
                "The refresh token is bound to a DPoP key; send a DPoP proof made with it."
            )
        scope = _scope(form.get("scope")) or record.scope
        wider = [name for name in scope if name not in record.scope]
        if wider:
            raise InvalidScopeError(
                f"The scope may only narrow on refresh; {', '.join(wider)} was not granted "
                "(RFC 6749 §6)."
            )
        audience = self.audience(resources)
        account = await self._account(record.account_id)
        replacement = new_refresh_token(grant_id)
        # NOTE: two refreshes racing with one token (a client retrying after a lost response)
        # count as reuse and end the family; RFC 9700 §4.14.2 accepts that cost of rotation.
        if not await self._store.rotate(grant_id, presented, digest(replacement)):
            raise InvalidGrantError("The refresh token was already used or revoked.")
        return self._issue(client, record, account, scope, audience, jkt, replacement, nonce=None)

    def client_credentials(
        self,
        client: Client,
        form: Mapping[str, str],
        resources: list[str],
        jkt: str | None,
        *,
        x5t: str | None = None,
    ) -> TokenResponse:
        registered = tuple(client.scope.split())
        scope = _scope(form.get("scope"))
        if scope is None:
            scope = tuple(name for name in registered if name not in PERSON_SCOPES)
        refused = [name for name in scope if name in PERSON_SCOPES or name not in registered]
        if refused:
            raise InvalidScopeError(
                f"The scope {', '.join(refused)} cannot be granted to this client without a "
                "person signing in; ask only for registered API scopes."
            )
        access = self._minter.access_token(
            client,
            subject=client.client_id,
            scope=scope,
            audience=self.audience(resources),
            grant_id=new_id("grt"),
            jkt=jkt,
            person=None,
            x5t=x5t,
        )
        return TokenResponse(
            access, _token_type(jkt), self._minter.access_lifetime, scope, None, None
        )

    def _issue(
        self,
        client: Client,
        record: FamilyRecord,
        account: Account,
        scope: tuple[str, ...],
        audience: str,
        jkt: str | None,
        refresh: str | None,
        *,
        nonce: str | None,
    ) -> TokenResponse:
        access = self._minter.access_token(
            client,
            subject=self._minter.subject(client, record.account_id),
            scope=scope,
            audience=audience,
            grant_id=record.grant_id,
            jkt=jkt,
            person=record,
        )
        id_token = None
        if OPENID in scope:
            extra = account_claims(account, requested(scope, record.claims, "id_token"))
            id_token = self._minter.id_token(
                client, record, access_token=access, nonce=nonce, extra=extra
            )
        return TokenResponse(
            access, _token_type(jkt), self._minter.access_lifetime, scope, refresh, id_token
        )

    async def _account(self, account_id: str) -> Account:
        try:
            account = await self._accounts.get(account_id)
        except AccountError:
            account = None
        if account is None or account.disabled:
            raise InvalidGrantError("The account this grant was made for is no longer active.")
        return account


def _token_type(jkt: str | None) -> str:
    """RFC 9449 §5: ``DPoP`` for a bound token, ``Bearer`` (RFC 6750 §4) otherwise."""
    return "DPoP" if jkt is not None else "Bearer"
