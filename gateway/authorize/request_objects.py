"""Signed request objects: the ``request`` parameter (RFC 9101, OIDC Core §6.1).

The object is a JWT the client signed with a key it registered (``jwks`` or ``jwks_uri``,
through :class:`~gateway.tokens.client_auth.ClientKeys`), with an explicit algorithm
allow-list (RFC 8725 §3.1): no ``none``, no HMAC, and a key the header brings along is never
used (RFC 8725 §3.10). ``iss`` must be the client and ``aud`` the issuer (RFC 9101 §6.1,
§10.2); an ``exp`` or ``nbf`` must hold. What it carries replaces the query (RFC 9101 §6.3).
"""

from __future__ import annotations

from typing import Any

from joserfc.errors import JoseError
from joserfc.jwk import Key

from gateway.clients.models import Client
from gateway.core.clock import Clock
from gateway.oidc.errors import InvalidClientError, InvalidRequestObjectError
from gateway.tokens.client_auth import ClientKeys
from gateway.tokens.jose import CLIENT_ALGORITHMS, KEY_HEADERS, JwsFormatError, peek, verify

# RS256 (PKCS #1 v1.5) only from an RSA key registered with ``alg: RS256``, as for client
# assertions (gateway.tokens.client_auth): a deliberate choice, never a default.
REQUEST_OBJECT_ALGORITHMS = (*CLIENT_ALGORITHMS, "RS256")
# RFC 9101 §10.8 explicit typing; older clients send JWT or nothing.
_TYPES = frozenset({"oauth-authz-req+jwt", "JWT", "jwt"})
CLOCK_SKEW_SECONDS = 30
MAX_REQUEST_OBJECT_CHARS = 16_384


class RequestObjects:
    def __init__(self, keys: ClientKeys, clock: Clock, *, issuer: str) -> None:
        self._keys = keys
        self._clock = clock
        self._issuer = issuer

    async def open(self, token: str, client: Client) -> dict[str, Any]:
        """The parameters of ``token`` once its signature and claims hold; else
        :class:`InvalidRequestObjectError` saying what to fix."""
        if len(token) > MAX_REQUEST_OBJECT_CHARS:
            raise _invalid(f"it is longer than {MAX_REQUEST_OBJECT_CHARS} characters")
        try:
            header, _ = peek(token)
        except JwsFormatError as exc:
            raise _invalid(str(exc)) from None
        typ = header.get("typ")
        if typ is not None and typ not in _TYPES:
            raise _invalid(f"its typ {typ!r} is not oauth-authz-req+jwt (RFC 9101 §10.8)")
        carried = sorted(KEY_HEADERS & header.keys())
        if carried:
            raise _invalid(
                f"its header carries {', '.join(carried)}; the gateway verifies only with "
                "the client's registered keys, named by kid"
            )
        alg, kid = header.get("alg"), header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise _invalid("its kid is not a string")
        key = await self._key(client, kid)
        if not isinstance(alg, str) or not _allowed(alg, key):
            raise _invalid(
                f"it is signed with {alg!r}; sign with one of {', '.join(CLIENT_ALGORITHMS)} "
                "(RS256 only with an RSA key registered with alg RS256)"
            )
        try:
            claims = verify(token, key, alg)
        except JwsFormatError as exc:
            raise _invalid(str(exc)) from None
        # NOTE: no jti replay check: a replayed object carries the client's own state, nonce
        # and PKCE challenge, so whoever replays it gets a code only the client can redeem.
        self._check(claims, client)
        return claims

    async def _key(self, client: Client, kid: str | None) -> Key:
        try:
            keys = await self._keys.keyset(client, kid=kid)
            return keys.get_by_kid(kid)
        except InvalidClientError as exc:
            raise _invalid(exc.detail) from None
        except (JoseError, ValueError):
            wanted = f"kid {kid!r}" if kid else "no kid (the client has several keys)"
            raise _invalid(
                f"it names {wanted}, which matches no key the client registered"
            ) from None

    def _check(self, claims: dict[str, Any], client: Client) -> None:
        if claims.get("iss") != client.client_id:
            raise _invalid("its iss must be the client_id (RFC 9101 §6.1)")
        aud = claims.get("aud")
        audiences = aud if isinstance(aud, list) else [aud]
        if self._issuer not in audiences:
            raise _invalid(f"its aud must be the issuer {self._issuer} (RFC 9101 §6.1)")
        if "client_id" in claims and claims["client_id"] != client.client_id:
            raise _invalid("its client_id differs from the request's client_id (RFC 9101 §5)")
        if "request" in claims or "request_uri" in claims:
            raise _invalid("it must not contain request or request_uri (RFC 9101 §4)")
        now = self._clock.now().timestamp()
        exp, nbf = claims.get("exp"), claims.get("nbf")
        if exp is not None and (not _is_time(exp) or exp <= now - CLOCK_SKEW_SECONDS):
            raise _invalid("it has expired (exp)")
        if nbf is not None and (not _is_time(nbf) or nbf > now + CLOCK_SKEW_SECONDS):
            raise _invalid("it is not valid yet (nbf)")


def _allowed(alg: str, key: Key) -> bool:
    rs256 = alg == "RS256" and key.key_type == "RSA" and key.get("alg") == "RS256"
    return alg in CLIENT_ALGORITHMS or rs256


def _is_time(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _invalid(reason: str) -> InvalidRequestObjectError:
    return InvalidRequestObjectError(f"The request object is not valid: {reason}.")
