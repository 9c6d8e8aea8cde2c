"""DPoP proofs (RFC 9449): a client proves, on every request, that it holds the private key
its tokens are bound to.

:meth:`DpopVerifier.verify` runs the checks of RFC 9449 §4.3 and returns the RFC 7638 JWK
thumbprint (``jkt``) of the proof key: the token endpoint binds tokens to it (§6, ``cnf``)
and a resource compares it with the token's ``cnf.jkt`` (§7).
"""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import urlsplit, urlunsplit

from joserfc.errors import JoseError
from joserfc.jwk import JWKRegistry, Key, RSAKey

from gateway.core.clock import Clock
from gateway.oidc.errors import InvalidDpopProofError
from gateway.tokens.client_keys import PRIVATE_MEMBERS
from gateway.tokens.jose import CLIENT_ALGORITHMS, KEY_HEADERS, JwsFormatError, peek, verify
from gateway.tokens.store import TokenStore

DPOP_ALGORITHMS = CLIENT_ALGORITHMS
PROOF_TYPE = "dpop+jwt"
MAX_JTI_LENGTH = 256
MIN_RSA_BITS = 2048
_DEFAULT_PORTS = {"http": 80, "https": 443}


def access_token_hash(access_token: str) -> str:
    """``ath``: base64url of the SHA-256 of the access token's ASCII (RFC 9449 §4.2)."""
    raw = hashlib.sha256(access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def normalised_uri(uri: str) -> str:
    """The URI without query and fragment, scheme and host lower-cased and a default port
    dropped (RFC 9449 §4.3 item 9, RFC 3986 §6.2.2 and §6.2.3)."""
    parts = urlsplit(uri)
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        return ""
    scheme = parts.scheme.lower()
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        host = f"{host}:{port}"
    return urlunsplit((scheme, host, parts.path or "/", "", ""))


def single_proof(values: list[str]) -> str | None:
    """The one ``DPoP`` header value, None without one; more than one is refused (§4.3
    item 1)."""
    if len(values) > 1:
        raise InvalidDpopProofError("Send exactly one DPoP header (RFC 9449 §4.3).")
    return values[0] if values else None


class DpopVerifier:
    """Checks proofs; ``max_age_seconds`` is how old an ``iat`` may be, ``skew_seconds`` how
    far ahead of the gateway's clock."""

    def __init__(
        self,
        store: TokenStore,
        clock: Clock,
        *,
        max_age_seconds: int = 60,
        skew_seconds: int = 10,
    ) -> None:
        self._store = store
        self._clock = clock
        self._max_age = max_age_seconds
        self._skew = skew_seconds

    async def verify(
        self, proof: str, *, method: str, url: str, access_token: str | None = None
    ) -> str:
        """The proof key's thumbprint if ``proof`` is fresh and made for ``method`` ``url``
        (and for ``access_token``, at a resource); :class:`InvalidDpopProofError` otherwise.

        ``url`` is the endpoint as the gateway names it under its issuer, never one built
        from the request's Host header, which a client controls.
        """
        # NOTE: no DPoP-Nonce (RFC 9449 §8): freshness rests on a short iat window and
        # single-use jtis, which RFC 9449 §11.1 allows; a server nonce would cost every client
        # an extra round trip.
        try:
            header, claims = peek(proof)
        except JwsFormatError as exc:
            raise InvalidDpopProofError(f"The DPoP proof is not valid: {exc}.") from None
        if header.get("typ") != PROOF_TYPE:
            raise InvalidDpopProofError(f"The DPoP proof's typ must be {PROOF_TYPE}.")
        alg = header.get("alg")
        if alg not in DPOP_ALGORITHMS:
            raise InvalidDpopProofError(
                f"The DPoP proof is signed with {alg!r}; use one of {', '.join(DPOP_ALGORITHMS)}."
            )
        assert isinstance(alg, str)
        key = _proof_key(header)
        try:
            claims = verify(proof, key, alg)
        except JwsFormatError as exc:
            raise InvalidDpopProofError(f"The DPoP proof is not valid: {exc}.") from None
        self._check_claims(claims, method, url, access_token)
        jkt = key.thumbprint()
        ttl = self._max_age + 2 * self._skew
        if not await self._store.first_use(jkt, "dpop", claims["jti"], ttl):
            raise InvalidDpopProofError(
                "The DPoP proof's jti was used before; make a new proof for every request "
                "(RFC 9449 §11.1)."
            )
        return jkt

    def _check_claims(
        self, claims: dict[str, object], method: str, url: str, access_token: str | None
    ) -> None:
        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti or len(jti) > MAX_JTI_LENGTH:
            raise InvalidDpopProofError(
                f"The DPoP proof needs a jti of 1 to {MAX_JTI_LENGTH} characters."
            )
        if claims.get("htm") != method:
            raise InvalidDpopProofError(f"The DPoP proof's htm must be {method}.")
        htu = claims.get("htu")
        if not isinstance(htu, str) or normalised_uri(htu) != normalised_uri(url):
            raise InvalidDpopProofError(f"The DPoP proof's htu must be {normalised_uri(url)}.")
        iat = claims.get("iat")
        now = self._clock.now().timestamp()
        if not isinstance(iat, int | float) or isinstance(iat, bool):
            raise InvalidDpopProofError("The DPoP proof needs a numeric iat.")
        if iat < now - self._max_age or iat > now + self._skew:
            raise InvalidDpopProofError(
                f"The DPoP proof's iat is not within {self._max_age} seconds of the gateway's "
                "clock; make a new proof for every request."
            )
        if access_token is not None and claims.get("ath") != access_token_hash(access_token):
            raise InvalidDpopProofError(
                "The DPoP proof's ath must be the base64url SHA-256 of the access token sent "
                "with it (RFC 9449 §4.2)."
            )


def _proof_key(header: dict[str, object]) -> Key:
    """The public key in the proof's ``jwk`` header (RFC 9449 §4.2): asymmetric, no private
    members, RSA of at least 2048 bits; no other key header alongside it."""
    jwk = header.get("jwk")
    if not isinstance(jwk, dict):
        raise InvalidDpopProofError("The DPoP proof's header needs the public key as jwk.")
    if (KEY_HEADERS - {"jwk"}) & header.keys():
        raise InvalidDpopProofError("The DPoP proof's header may carry its key only as jwk.")
    if PRIVATE_MEMBERS & jwk.keys():
        raise InvalidDpopProofError("The DPoP proof's jwk must not contain a private key.")
    if jwk.get("kty") not in ("EC", "OKP", "RSA"):
        raise InvalidDpopProofError("The DPoP proof's jwk must be an EC, OKP or RSA key.")
    try:
        key = JWKRegistry.import_key(jwk)
    except (JoseError, ValueError, TypeError):
        raise InvalidDpopProofError("The DPoP proof's jwk is not a valid public key.") from None
    if isinstance(key, RSAKey) and key.public_key.key_size < MIN_RSA_BITS:
        raise InvalidDpopProofError(f"The DPoP proof's RSA key is under {MIN_RSA_BITS} bits.")
    return key
