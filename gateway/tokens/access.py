"""Checking the gateway's own access tokens where they are presented: userinfo (RFC 6750 §2.1,
RFC 9449 §7, RFC 8705 §3), introspection (RFC 7662 §2.2) and revocation (RFC 7009 §2.1)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gateway.core.clock import Clock
from gateway.oidc.errors import InvalidDpopProofError, InvalidTokenError
from gateway.organisations.client_cert import certificate_der, thumbprint
from gateway.organisations.errors import ClientCertificateError
from gateway.signing.errors import TokenVerificationError
from gateway.signing.services import KeyRing
from gateway.tokens.dpop import DpopVerifier
from gateway.tokens.errors import ResourceDpopProofError
from gateway.tokens.models import (
    ACCESS_TOKEN_ALGORITHMS,
    ACCESS_TOKEN_TYPE,
    FamilyRecord,
    VerifiedAccessToken,
    scope_of,
)
from gateway.tokens.store import FamilyRead, RevocationRead, TokenStore

MAX_TOKEN_LENGTH = 8192
# Access tokens whose signature this process has checked, most recent last. A resource
# server sees the same token again and again for its lifetime (a back-office system sends
# every submission of five minutes with one token); the ES256 check is about a tenth of such
# a request's CPU (docs/performance.md).
VERIFIED_CACHE_SIZE = 4096


class AccessTokens:
    def __init__(
        self, keys: KeyRing, store: TokenStore, dpop: DpopVerifier, clock: Clock, *, issuer: str
    ) -> None:
        self._keys = keys
        self._store = store
        self._dpop = dpop
        self._clock = clock
        self._issuer = issuer
        self._verified: dict[str, dict[str, Any]] = {}

    def signed_claims(self, token: str) -> dict[str, Any] | None:
        """The claims of an access token this gateway signed, expired or not; None for
        anything else (a refresh token, a foreign or forged JWT, an ID token). The claims
        are shared with later calls for the same token: read them, never change them."""
        # NOTE: a token's checked signature is remembered until VERIFIED_CACHE_SIZE newer
        # tokens push it out, so withdrawing a signing key from the ring stops tokens already
        # seen here only when they expire (minutes: the access token lifetime). Expiry and
        # revocation are checked on every use, never remembered; only tokens that passed
        # are kept, so forged ones cannot fill the cache.
        cached = self._verified.get(token)
        if cached is not None:
            return cached
        if len(token) > MAX_TOKEN_LENGTH or token.count(".") != 2:
            return None
        try:
            verified = self._keys.verify(token, algorithms=ACCESS_TOKEN_ALGORITHMS)
        except TokenVerificationError:
            return None
        claims: dict[str, Any] = verified["claims"]
        # RFC 9068 §4: explicit typing keeps an ID token from passing as an access token.
        if verified["header"].get("typ") != ACCESS_TOKEN_TYPE or claims.get("iss") != self._issuer:
            return None
        if not all(isinstance(claims.get(name), str) for name in ("jti", "grant_id", "client_id")):
            return None
        if not isinstance(claims.get("exp"), int):
            return None
        if len(self._verified) >= VERIFIED_CACHE_SIZE:
            del self._verified[next(iter(self._verified))]
        self._verified[token] = claims
        return claims

    def _live_claims(self, token: str) -> dict[str, Any]:
        """Signature, type, issuer and lifetime (RFC 9068 §4); not yet revocation, nor the
        audience or proof of possession, which depend on where the token is presented."""
        claims = self.signed_claims(token)
        if claims is None:
            raise InvalidTokenError("The access token is not one this gateway issued.")
        now = self._clock.now().timestamp()
        if claims["exp"] <= now:
            raise InvalidTokenError("The access token has expired.")
        nbf = claims.get("nbf")
        if isinstance(nbf, int) and nbf > now + 30:
            raise InvalidTokenError("The access token is not valid yet.")
        return claims

    async def verify(self, token: str) -> VerifiedAccessToken:
        """Signature, type, issuer, lifetime and revocation (RFC 9068 §4); no audience or
        proof-of-possession check, which depend on where the token is presented."""
        claims = self._live_claims(token)
        return _verified(
            claims, await self._store.access_revoked(claims["grant_id"], claims["jti"])
        )

    async def settle(self, presented: PresentedToken) -> VerifiedAccessToken:
        """Read whether ``presented`` is revoked, on a round trip of its own."""
        read = presented.revocation
        return presented.settle(await self._store.access_revoked(read.grant_id, read.jti))

    async def check_presented(
        self,
        token: str,
        *,
        scheme: str,
        proof: str | None,
        method: str,
        url: str,
        audience: str,
        certificate: str | None = None,
    ) -> PresentedToken:
        """A token presented to the resource at ``url``: :meth:`checked`, then the audience
        (RFC 9068 §4) and the sender constraints: a certificate-bound token only with that
        certificate (``certificate`` is the forwarded ``Client-Cert`` value, RFC 8705 §3.1);
        a DPoP-bound token only with the ``DPoP`` scheme and a proof by its key over this
        request and token (RFC 9449 §7.1); a token without a key never with ``DPoP``.
        Revocation is left to the caller (:meth:`settle`, or its reads in the caller's own
        pipeline)."""
        # NOTE: a DPoP proof's jti is recorded (a write) before the token's revocation is
        # read, so a revoked DPoP-bound token uses up its proof; the record only expires.
        claims = self._live_claims(token)
        presented = PresentedToken(claims, RevocationRead(claims["grant_id"], claims["jti"]))
        aud = claims.get("aud")
        audiences = aud if isinstance(aud, list) else [aud]
        if audience not in audiences:
            raise InvalidTokenError(f"The access token is not meant for {audience}.")
        cnf = claims.get("cnf")
        x5t = cnf.get("x5t#S256") if isinstance(cnf, dict) else None
        if x5t is not None:
            _check_certificate(x5t, certificate)
        jkt = cnf.get("jkt") if isinstance(cnf, dict) else None
        if jkt is None:
            if scheme != "bearer":
                raise InvalidTokenError(
                    "The access token is not DPoP-bound; send it with the Bearer scheme."
                )
            return presented
        if scheme != "dpop":
            raise InvalidTokenError(
                "The access token is DPoP-bound; send it with the DPoP scheme and a DPoP proof "
                "(RFC 9449 §7.1)."
            )
        if proof is None:
            raise ResourceDpopProofError("A DPoP-bound access token needs a DPoP proof.")
        try:
            proven = await self._dpop.verify(proof, method=method, url=url, access_token=token)
        except InvalidDpopProofError as exc:
            raise ResourceDpopProofError(exc.detail) from None
        if proven != jkt:
            raise ResourceDpopProofError(
                "The DPoP proof is signed by a key other than the one the token is bound to."
            )
        return presented


@dataclass(frozen=True, slots=True)
class PresentedToken:
    """An access token presented to a resource that passed every check of
    :meth:`AccessTokens.check_presented` but revocation (RFC 9068 §4): whether it is revoked
    is read by :attr:`revocation`, on a round trip of its own (:meth:`AccessTokens.settle`)
    or carried in the caller's own pipeline."""

    claims: dict[str, Any]
    revocation: RevocationRead

    @property
    def for_person(self) -> bool:
        """Issued from a person's sign-in (it says when: ``auth_time``), not to a system."""
        return "auth_time" in self.claims

    @property
    def scope(self) -> tuple[str, ...]:
        return scope_of(self.claims)

    def settle(self, family: FamilyRead) -> VerifiedAccessToken:
        """The verified token, given what :attr:`revocation` read."""
        return _verified(self.claims, family)


def _verified(claims: dict[str, Any], family: FamilyRead) -> VerifiedAccessToken:
    if family.revoked:
        raise InvalidTokenError("The access token has been revoked.")
    record = FamilyRecord.loads(family.record) if family.record else None
    return VerifiedAccessToken(claims, record)


def _check_certificate(bound: object, certificate: str | None) -> None:
    """RFC 8705 §3.1: the certificate presented has the SHA-256 thumbprint the token names."""
    # NOTE: only the thumbprint is compared here, not the CA, validity or revocation: the
    # balancer verified the certificate in this TLS handshake, and the gateway checked all
    # of it when the token was issued. A certificate revoked since then keeps working with
    # tokens issued before, for at most the access token lifetime (minutes).
    if certificate is None:
        raise InvalidTokenError(
            "The access token is bound to a client certificate (cnf x5t#S256); present that "
            "certificate over mutual TLS (RFC 8705 §3.1)."
        )
    try:
        presented = thumbprint(certificate_der(certificate))
    except ClientCertificateError as exc:
        raise InvalidTokenError(exc.detail) from None
    if presented != bound:
        raise InvalidTokenError(
            "The access token is bound to a client certificate other than the one presented "
            "(RFC 8705 §3.1)."
        )
