"""The back-channel endpoints' logic, free of HTTP: token (RFC 6749 §3.2), revocation
(RFC 7009), introspection (RFC 7662) and userinfo (OIDC Core §5.3).

Every caller except userinfo's is an authenticated client
(:class:`~gateway.tokens.client_auth.ClientAuthenticator`); userinfo's caller holds an access
token.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway.accounts.errors import AccountError
from gateway.accounts.services import AccountService
from gateway.clients.models import Client, GrantType
from gateway.core.clock import Clock
from gateway.core.settings import Settings
from gateway.oidc.errors import (
    InsufficientScopeError,
    InvalidDpopProofError,
    InvalidRequestError,
    InvalidTokenError,
    UnauthorizedClientError,
    UnsupportedGrantTypeError,
)
from gateway.oidc.store import CodeStore
from gateway.oidc.subjects import PairwiseSubjects
from gateway.signing.services import KeyRing
from gateway.tokens.access import AccessTokens, PresentedToken
from gateway.tokens.claims import account_claims, requested
from gateway.tokens.dpop import DpopVerifier
from gateway.tokens.exchange import Delegations, TokenExchange
from gateway.tokens.grants import Grants
from gateway.tokens.minting import TokenMinter, refresh_grant_id
from gateway.tokens.models import (
    OPENID,
    Endpoints,
    FamilyRecord,
    TokenResponse,
    VerifiedAccessToken,
)
from gateway.tokens.store import RefreshState, TokenStore, digest

_SUPPORTED_GRANTS = {
    GrantType.AUTHORIZATION_CODE,
    GrantType.REFRESH_TOKEN,
    GrantType.CLIENT_CREDENTIALS,
    GrantType.TOKEN_EXCHANGE,
}
_INACTIVE: dict[str, Any] = {"active": False}


class TokenService:
    def __init__(
        self,
        store: TokenStore,
        clock: Clock,
        *,
        keys: KeyRing,
        codes: CodeStore,
        subjects: PairwiseSubjects,
        accounts: AccountService,
        settings: Settings,
        delegations: Delegations | None = None,
    ) -> None:
        self.endpoints = Endpoints(settings.issuer)
        self.dpop = DpopVerifier(store, clock)
        self._store = store
        self._clock = clock
        self._accounts = accounts
        self._resources = dict(settings.resource_servers)
        self._minter = TokenMinter(
            keys,
            subjects,
            clock,
            issuer=settings.issuer,
            access_lifetime=settings.access_token_lifetime_seconds,
            id_lifetime=settings.id_token_lifetime_seconds,
        )
        self._grants = Grants(
            codes,
            store,
            self._minter,
            accounts,
            clock,
            issuer=settings.issuer,
            refresh_lifetime=settings.refresh_token_lifetime_seconds,
            resource_servers=self._resources,
        )
        self._access = AccessTokens(keys, store, self.dpop, clock, issuer=settings.issuer)
        # RFC 8693 token exchange, where agent relationships are wired in (gateway.runtime).
        self._exchange = (
            None
            if delegations is None
            else TokenExchange(
                self._minter,
                self._access,
                delegations,
                clock,
                issuer=settings.issuer,
                max_depth=settings.max_delegation_depth,
            )
        )

    async def session_ended(self, account_id: str, sid: str, clients: frozenset[str]) -> None:
        """OpenID Connect Back-Channel Logout 1.0 §2.7: when the OP session ends, refresh
        tokens issued in it SHOULD be revoked; access tokens of those grants stop working at
        userinfo and introspection too."""
        await self._grants.revoke_sign_in(sid)

    async def consent_withdrawn(self, account_id: str, client_id: str) -> None:
        """A person removed a service from their account: its tokens stop working."""
        await self._grants.revoke_client(account_id, client_id)

    async def token(
        self,
        client: Client,
        form: Mapping[str, str],
        resources: list[str],
        proof: str | None,
        x5t: str | None = None,
    ) -> TokenResponse:
        """RFC 6749 §4.1.3, §4.4.2, §6 for an authenticated ``client``; ``proof`` is the
        request's DPoP header (RFC 9449 §5) and ``x5t`` the thumbprint of the certificate the
        client authenticated with (RFC 8705 §3.1); each binds the tokens issued."""
        grant_type = form.get("grant_type")
        if not grant_type:
            raise InvalidRequestError("The grant_type parameter is required.")
        grant = next((g for g in _SUPPORTED_GRANTS if g.value == grant_type), None)
        if grant is None:
            raise UnsupportedGrantTypeError(
                f"The grant_type {grant_type[:100]!r} is not supported here; use "
                "authorization_code, refresh_token, client_credentials or "
                f"{GrantType.TOKEN_EXCHANGE.value}."
            )
        if grant not in client.grant_types:
            raise UnauthorizedClientError(
                f"The client {client.client_id} is not registered for the {grant.value} grant."
            )
        jkt = None
        if proof is not None:
            jkt = await self.dpop.verify(proof, method="POST", url=self.endpoints.token)
        elif client.require_dpop:
            raise InvalidDpopProofError(
                f"The client {client.client_id} must send a DPoP proof with every token request."
            )
        if grant is GrantType.AUTHORIZATION_CODE:
            return await self._grants.authorization_code(client, form, resources, jkt)
        if grant is GrantType.REFRESH_TOKEN:
            return await self._grants.refresh_token(client, form, resources, jkt)
        if grant is GrantType.TOKEN_EXCHANGE:
            if self._exchange is None:
                raise UnsupportedGrantTypeError("Token exchange is not set up on this gateway.")
            return await self._exchange.exchange(client, form, resources, jkt)
        # Only client_credentials clients register tls_client_auth (gateway.clients.models),
        # so only this grant meets a certificate.
        return self._grants.client_credentials(client, form, resources, jkt, x5t=x5t)

    async def revoke(self, client: Client, token: str, hint: str | None) -> None:
        """RFC 7009 §2.1: a refresh token revokes its whole grant, an access token itself.
        Unknown tokens and tokens of other clients change nothing and are not reported."""
        # NOTE: a token of another client is ignored rather than refused, so a caller cannot
        # learn whether a token it found is live (RFC 7009 §2.2 allows this).
        for kind in self._order(hint):
            if kind == "refresh_token":
                record = await self._refresh_record(token, any_state=True)
                if record is not None and record.client_id == client.client_id:
                    await self._grants.revoke_grant(record.grant_id)
                    return
            else:
                claims = self._access.signed_claims(token)
                if claims is not None and claims["client_id"] == client.client_id:
                    remaining = claims["exp"] - int(self._clock.now().timestamp())
                    if remaining > 0:
                        await self._store.revoke_access(
                            claims["grant_id"], claims["jti"], remaining
                        )
                    return

    async def introspect(self, client: Client, token: str, hint: str | None) -> dict[str, Any]:
        """RFC 7662 §2.2. A client sees tokens issued to it, and a resource server (a client
        named in ``GOVCONNECT_RESOURCE_SERVERS``) the access tokens meant for it; any other
        token reads as inactive, as does an expired, revoked or foreign one."""
        for kind in self._order(hint):
            answer = await (
                self._introspect_refresh(client, token)
                if kind == "refresh_token"
                else self._introspect_access(client, token)
            )
            if answer is not None:
                return answer
        return dict(_INACTIVE)

    async def at_resource(
        self,
        token: str,
        *,
        scheme: str,
        proof: str | None,
        method: str,
        url: str,
        certificate: str | None = None,
    ) -> VerifiedAccessToken:
        """A token presented to one of the gateway's own APIs at ``url`` (RFC 6750 §2.1,
        RFC 9449 §7.1, RFC 8705 §3): audience the issuer, sender constraint checked, not
        revoked."""
        return await self.settle(
            await self.presented_at_resource(
                token, scheme=scheme, proof=proof, method=method, url=url, certificate=certificate
            )
        )

    async def settle(self, presented: PresentedToken) -> VerifiedAccessToken:
        """Read, on a round trip of its own, whether ``presented`` is revoked."""
        return await self._access.settle(presented)

    async def presented_at_resource(
        self,
        token: str,
        *,
        scheme: str,
        proof: str | None,
        method: str,
        url: str,
        certificate: str | None = None,
    ) -> PresentedToken:
        """:meth:`at_resource` but for revocation, which the caller reads in its own
        pipeline (:attr:`PresentedToken.revocation`) to save a round trip."""
        return await self._access.check_presented(
            token,
            scheme=scheme,
            proof=proof,
            method=method,
            url=url,
            audience=self.endpoints.issuer,
            certificate=certificate,
        )

    async def userinfo(
        self,
        token: str,
        *,
        scheme: str,
        proof: str | None,
        method: str,
        certificate: str | None = None,
    ) -> dict[str, Any]:
        """OIDC Core §5.3: ``sub`` and the claims the granted scopes (and the ``claims``
        request) ask for, that the account holds."""
        verified = await self.at_resource(
            token,
            scheme=scheme,
            proof=proof,
            method=method,
            url=self.endpoints.userinfo,
            certificate=certificate,
        )
        if OPENID not in verified.scope:
            raise InsufficientScopeError(
                "The access token was not granted the openid scope (OIDC Core §5.3)."
            )
        record = verified.record
        if record is None:
            raise InvalidTokenError("The access token was not issued for a person.")
        try:
            account = await self._accounts.get(record.account_id)
        except AccountError:
            raise InvalidTokenError("The account behind this token no longer exists.") from None
        if account.disabled:
            raise InvalidTokenError("The account behind this token is disabled.")
        names = requested(verified.scope, record.claims, "userinfo")
        return {**account_claims(account, names), "sub": verified.subject}

    @staticmethod
    def _order(hint: str | None) -> tuple[str, str]:
        """``token_type_hint`` decides which lookup runs first, never which runs at all
        (RFC 7009 §2.1, RFC 7662 §2.1)."""
        if hint == "refresh_token":
            return ("refresh_token", "access_token")
        return ("access_token", "refresh_token")

    async def _refresh_record(self, token: str, *, any_state: bool) -> FamilyRecord | None:
        grant_id = refresh_grant_id(token)
        if grant_id is None:
            return None
        state, raw = await self._store.refresh_state(grant_id, digest(token))
        if state is RefreshState.CURRENT:
            return FamilyRecord.loads(raw)
        if any_state and state is not RefreshState.UNKNOWN:
            family = await self._store.family(grant_id)
            return FamilyRecord.loads(family.record) if family.record else None
        return None

    async def _introspect_refresh(self, client: Client, token: str) -> dict[str, Any] | None:
        record = await self._refresh_record(token, any_state=False)
        if record is None or record.client_id != client.client_id:
            return None
        if self._clock.now() >= record.expires_at:
            return None
        return {
            "active": True,
            "token_type": "refresh_token",
            "client_id": record.client_id,
            "scope": " ".join(record.scope),
            "sub": self._minter.subject(client, record.account_id),
            "exp": int(record.expires_at.timestamp()),
            "iss": self.endpoints.issuer,
        }

    async def _introspect_access(self, client: Client, token: str) -> dict[str, Any] | None:
        if self._access.signed_claims(token) is None:
            return None
        try:
            verified = await self._access.verify(token)
        except InvalidTokenError:
            return dict(_INACTIVE)
        claims = verified.claims
        aud = claims.get("aud")
        audiences = aud if isinstance(aud, list) else [aud]
        served = {self._resources.get(str(a)) for a in audiences}
        if claims["client_id"] != client.client_id and client.client_id not in served:
            return dict(_INACTIVE)
        answer: dict[str, Any] = {
            name: claims[name]
            for name in (
                "scope",
                "client_id",
                "sub",
                "aud",
                "iss",
                "exp",
                "iat",
                "nbf",
                "jti",
                "cnf",
                "auth_time",
                "acr",
                "amr",
            )
            if name in claims
        }
        cnf = claims.get("cnf")
        token_type = "DPoP" if isinstance(cnf, dict) and "jkt" in cnf else "Bearer"
        return {"active": True, "token_type": token_type, **answer}
