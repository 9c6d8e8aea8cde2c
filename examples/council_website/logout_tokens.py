"""Checking a logout token as OpenID Connect Back-Channel Logout 1.0 §2.6 asks.

1. the signature, against GovConnect's published keys (fetched from ``jwks_uri``, fetched
   again once for an unknown ``kid``, OIDC Core §10.1.1), with an explicit algorithm
   allow-list (RFC 8725 §3.1) and explicit typing ``logout+jwt`` (§2.4, RFC 8725 §3.11);
2. ``iss`` is GovConnect, ``aud`` is this client, ``iat`` is recent and ``exp`` not passed;
3. ``events`` holds the back-channel logout event, as a JSON object;
4. ``sub`` or ``sid`` (or both) is present, and there is no ``nonce``;
5. the ``jti`` was not seen before (replay, §2.6 step 10 "MAY").
"""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jws import extract_compact

EVENT = "http://schemas.openid.net/event/backchannel-logout"
TOKEN_TYPE = "logout+jwt"  # noqa: S105 - a media type, not a password
ALGORITHMS = ["ES256"]  # what this client registered for its ID tokens
MAX_AGE_SECONDS = 300
LEEWAY_SECONDS = 60

JwksSource = Callable[[bool], Awaitable[dict[str, Any]]]


class InvalidLogoutToken(Exception):  # noqa: N818 - read as "raise InvalidLogoutToken(...)"
    """The token failed a check of §2.6; the endpoint answers 400 (§2.8)."""


class SeenTokens:
    """The ``jti`` of every logout token accepted, kept until the token expires."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[str, float] = {}

    def first_time(self, jti: str, expires_at: float) -> bool:
        now = time.time()
        with self._lock:
            self._seen = {k: v for k, v in self._seen.items() if v > now}
            if jti in self._seen:
                return False
            self._seen[jti] = expires_at + LEEWAY_SECONDS
            return True


async def verify(
    token: str, jwks: JwksSource, *, issuer: str, client_id: str, seen: SeenTokens
) -> dict[str, Any]:
    """The token's claims once every check passed; :class:`InvalidLogoutToken` otherwise."""
    decoded = await _decode(token, jwks)
    if decoded.header.get("typ") != TOKEN_TYPE:
        raise InvalidLogoutToken(f"typ must be {TOKEN_TYPE}")
    claims = dict(decoded.claims)
    registry = jwt.JWTClaimsRegistry(
        leeway=LEEWAY_SECONDS,
        iss={"essential": True, "value": issuer},
        aud={"essential": True, "value": client_id},
        iat={"essential": True},
        exp={"essential": True},
        jti={"essential": True},
    )
    try:
        registry.validate(claims)
    except JoseError as exc:
        raise InvalidLogoutToken(f"claim check failed: {exc}") from None
    if claims["iat"] < time.time() - MAX_AGE_SECONDS:
        raise InvalidLogoutToken("iat is too old")
    events = claims.get("events")
    if not isinstance(events, dict) or not isinstance(events.get(EVENT), dict):
        raise InvalidLogoutToken(f"events must hold {EVENT} as an object")
    if not isinstance(claims.get("sid"), str) and not isinstance(claims.get("sub"), str):
        raise InvalidLogoutToken("neither sid nor sub")
    if "nonce" in claims:
        raise InvalidLogoutToken("a logout token must not carry a nonce")
    if not seen.first_time(str(claims["jti"]), float(claims["exp"])):
        raise InvalidLogoutToken("this jti was seen before")
    return claims


async def decode_signed(token: str, jwks: JwksSource) -> jwt.Token:
    """A compact JWS signed by one of GovConnect's published keys, ES256 only (RFC 8725
    §3.1), the key chosen by ``kid``; the JWK Set is fetched again once for a ``kid`` it
    does not hold (a key published since, OIDC Core §10.1.1). Raises ``JoseError`` or
    ``ValueError``; the caller checks ``typ`` and the claims."""
    kid = extract_compact(token.encode()).headers().get("kid")
    document = await jwks(False)
    if kid not in {key.get("kid") for key in document.get("keys", [])}:
        document = await jwks(True)  # a key published since the last fetch (rotation)
    return jwt.decode(
        token, KeySet.import_key_set({"keys": document["keys"]}), algorithms=ALGORITHMS
    )


async def _decode(token: str, jwks: JwksSource) -> jwt.Token:
    try:
        return await decode_signed(token, jwks)
    except (JoseError, ValueError) as exc:
        raise InvalidLogoutToken(f"signature check failed: {type(exc).__name__}") from None
