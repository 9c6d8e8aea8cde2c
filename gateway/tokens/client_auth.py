"""Client authentication at the token, PAR, revocation and introspection endpoints.

Four methods (OIDC Core §9, RFC 8705 §2), and the client must use the one it registered
(``token_endpoint_auth_method``, RFC 7591 §2):

- ``client_secret_basic`` (RFC 6749 §2.3.1): HTTP Basic, id and secret each
  ``application/x-www-form-urlencoded`` before base64;
- ``client_secret_post`` (RFC 6749 §2.3.1): ``client_id`` and ``client_secret`` in the body;
- ``private_key_jwt`` (RFC 7523 §2.2 and §3, OIDC Core §9): a JWT signed with a key from the
  client's registered ``jwks`` or ``jwks_uri``;
- ``tls_client_auth`` (RFC 8705 §2.1): ``client_id`` in the body and, forwarded by the load
  balancer (RFC 9440), a valid, unrevoked certificate the organisations CA issued to the
  client's own organisation (:mod:`gateway.organisations.client_cert`).

There are no public clients: every request authenticates (RFC 9700 §2.5 recommends client
authentication wherever it is possible). Every failure is an ``invalid_client`` error
(RFC 6749 §5.2) whose description says what to fix, never the secret.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote_plus

from joserfc.errors import JoseError
from joserfc.jwk import Key, KeySet

from gateway.clients.errors import ClientAuthenticationError, ClientError
from gateway.clients.models import AuthMethod, Client
from gateway.clients.services import ClientService
from gateway.core.clock import Clock
from gateway.core.redis import RedisClient
from gateway.oidc.errors import InvalidClientError
from gateway.organisations.client_cert import ClientCertificates
from gateway.organisations.errors import ClientCertificateError
from gateway.tokens.client_keys import ClientKeys
from gateway.tokens.jose import CLIENT_ALGORITHMS, KEY_HEADERS, JwsFormatError, peek, verify
from gateway.tokens.store import TokenStore

__all__ = ["ASSERTION_TYPE", "ClientAuthenticator", "ClientKeys"]

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
MAX_ASSERTION_LIFETIME_SECONDS = 300
CLOCK_SKEW_SECONDS = 30
MAX_JTI_LENGTH = 256


class ClientAuthenticator:
    """Proves which registered, enabled client is calling."""

    def __init__(
        self,
        clients: ClientService,
        keys: ClientKeys,
        redis: RedisClient,
        clock: Clock,
        *,
        issuer: str,
        token_endpoint: str,
        certificates: ClientCertificates | None = None,
    ) -> None:
        self._clients = clients
        self._certificates = certificates
        self._keys = keys
        self._replays = TokenStore(redis)
        self._clock = clock
        self._issuer = issuer
        self._token_endpoint = token_endpoint

    async def authenticate(
        self,
        form: Mapping[str, str],
        authorization: str | None,
        *,
        endpoint: str,
        certificate: str | None = None,
    ) -> Client:
        """The client that signed or keyed this request; ``endpoint`` is the absolute URL
        called (an assertion may name it as its audience), ``certificate`` the ``Client-Cert``
        value a trusted balancer forwarded (RFC 9440 §2)."""
        basic = authorization is not None and authorization[:6].lower() == "basic "
        used = [
            candidate
            for candidate, present in (
                (AuthMethod.CLIENT_SECRET_BASIC, basic),
                (AuthMethod.CLIENT_SECRET_POST, "client_secret" in form),
                (
                    AuthMethod.PRIVATE_KEY_JWT,
                    "client_assertion" in form or "client_assertion_type" in form,
                ),
            )
            if present
        ]
        if len(used) > 1:
            raise InvalidClientError(
                "The request uses more than one client authentication method "
                f"({', '.join(m.value for m in used)}); use only the registered one "
                "(RFC 6749 §2.3)."
            )
        if not used and "client_id" in form:
            return await self._tls_client(form["client_id"], certificate)
        if not used:
            raise InvalidClientError(
                "Client authentication is required: use the method the client registered "
                "(private_key_jwt, client_secret_basic or client_secret_post)."
            )
        method = used[0]
        if method is AuthMethod.PRIVATE_KEY_JWT:
            client = await self._assertion(form, endpoint)
        else:
            client_id, secret = (
                _basic(authorization or "")
                if method is AuthMethod.CLIENT_SECRET_BASIC
                else (form.get("client_id", ""), form["client_secret"])
            )
            if "client_id" in form and form["client_id"] != client_id:
                raise InvalidClientError("The client_id in the body differs from the one used.")
            try:
                client = await self._clients.authenticate_secret(client_id, secret)
            except ClientAuthenticationError as exc:
                raise InvalidClientError(exc.detail) from None
        if client.token_endpoint_auth_method is not method:
            raise InvalidClientError(
                f"The client {client.client_id} is registered for "
                f"{client.token_endpoint_auth_method.value}, not {method.value}."
            )
        return client

    async def _assertion(self, form: Mapping[str, str], endpoint: str) -> Client:
        """RFC 7523 §3 and OIDC Core §9 (``private_key_jwt``)."""
        if form.get("client_assertion_type") != ASSERTION_TYPE:
            raise InvalidClientError(f"client_assertion_type must be {ASSERTION_TYPE}.")
        assertion = form.get("client_assertion", "")
        try:
            header, unverified = peek(assertion)
        except JwsFormatError as exc:
            raise InvalidClientError(f"The client_assertion is not valid: {exc}.") from None
        client_id = unverified.get("iss")
        if not isinstance(client_id, str) or unverified.get("sub") != client_id:
            raise InvalidClientError(
                "The client_assertion's iss and sub must both be the client_id (RFC 7523 §3)."
            )
        if "client_id" in form and form["client_id"] != client_id:
            raise InvalidClientError("The client_id in the body differs from the assertion's iss.")
        client = await self._client(client_id)
        if client.token_endpoint_auth_method is not AuthMethod.PRIVATE_KEY_JWT:
            raise InvalidClientError(
                f"The client {client_id} is registered for "
                f"{client.token_endpoint_auth_method.value}, not private_key_jwt."
            )
        carried = sorted(KEY_HEADERS & header.keys())
        if carried:
            raise InvalidClientError(
                f"The client_assertion header carries {', '.join(carried)}; the gateway verifies "
                "only with the client's registered keys, named by kid (RFC 8725 §3.10)."
            )
        alg, kid = header.get("alg"), header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise InvalidClientError("The client_assertion's kid must be a string.")
        key = _pick(await self._keys.keyset(client, kid=kid), kid)
        _check_alg(alg, key)
        assert isinstance(alg, str)
        try:
            claims = verify(assertion, key, alg)
        except JwsFormatError as exc:
            raise InvalidClientError(f"The client_assertion is not valid: {exc}.") from None
        lifetime = self._check_claims(claims, endpoint)
        if not await self._replays.first_use(client_id, "assertion", claims["jti"], lifetime):
            raise InvalidClientError(
                "The client_assertion's jti was used before; sign a new assertion with a fresh "
                "jti for every request (RFC 7523 §3)."
            )
        return client

    async def _tls_client(self, client_id: str, certificate: str | None) -> Client:
        """RFC 8705 §2.1: ``client_id`` alone in the body, the certificate from the TLS layer."""
        try:
            client: Client | None = await self._clients.get_enabled(client_id)
        except ClientError:
            client = None
        # Unknown, disabled and registered for another method read the same.
        if client is None or client.token_endpoint_auth_method is not AuthMethod.TLS_CLIENT_AUTH:
            raise InvalidClientError(
                "Client authentication is required: use the method the client registered "
                "(private_key_jwt, client_secret_basic, client_secret_post, or tls_client_auth "
                "with an organisation certificate)."
            )
        if certificate is None or self._certificates is None:
            raise InvalidClientError(
                f"The client {client_id} authenticates with its organisation certificate "
                "(tls_client_auth) and none reached the gateway: connect with mutual TLS "
                "through the load balancer (RFC 8705 §2)."
            )
        try:
            verified = await self._certificates.verify(certificate)
        except ClientCertificateError as exc:
            raise InvalidClientError(exc.detail) from None
        if verified.org_id != client.organisation_id:
            raise InvalidClientError(
                f"The client certificate belongs to organisation {verified.org_id}, not to the "
                f"client's organisation {client.organisation_id} (RFC 8705 §2.1.2)."
            )
        return client

    async def _client(self, client_id: str) -> Client:
        try:
            return await self._clients.get_enabled(client_id)
        except ClientError:
            # Unknown and disabled read the same: a caller learns nothing about which exist.
            raise InvalidClientError(
                "The client_assertion's iss names no enabled client."
            ) from None

    def _check_claims(self, claims: dict[str, Any], endpoint: str) -> int:
        """aud, exp, iat, nbf, jti (RFC 7523 §3 items 3-7); returns seconds the jti must be
        remembered for."""
        # NOTE: a list-valued aud is accepted only with a single member: an assertion whose
        # audiences include another server could be replayed here by that server
        # (draft-ietf-oauth-rfc7523bis, audience injection).
        aud = claims.get("aud")
        if isinstance(aud, list) and len(aud) == 1:
            aud = aud[0]
        accepted = (self._issuer, self._token_endpoint, endpoint)
        if not isinstance(aud, str) or aud not in accepted:
            raise InvalidClientError(
                f"The client_assertion's aud must be the issuer {self._issuer} or the endpoint "
                f"called ({endpoint}) (RFC 7523 §3)."
            )
        now = int(self._clock.now().timestamp())
        exp = claims.get("exp")
        if not _is_time(exp):
            raise InvalidClientError("The client_assertion needs a numeric exp (RFC 7523 §3).")
        assert isinstance(exp, int | float)
        if exp <= now - CLOCK_SKEW_SECONDS:
            raise InvalidClientError("The client_assertion has expired.")
        if exp > now + MAX_ASSERTION_LIFETIME_SECONDS + CLOCK_SKEW_SECONDS:
            raise InvalidClientError(
                f"The client_assertion's exp is more than {MAX_ASSERTION_LIFETIME_SECONDS} "
                "seconds ahead; sign short-lived assertions."
            )
        for name in ("iat", "nbf"):
            value = claims.get(name)
            if value is None:
                continue
            if not _is_time(value) or value > now + CLOCK_SKEW_SECONDS:
                raise InvalidClientError(f"The client_assertion's {name} is in the future.")
        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti or len(jti) > MAX_JTI_LENGTH:
            raise InvalidClientError(
                f"The client_assertion needs a jti of 1 to {MAX_JTI_LENGTH} characters "
                "(RFC 7523 §3)."
            )
        return int(exp) - now + CLOCK_SKEW_SECONDS


def _basic(authorization: str) -> tuple[str, str]:
    """RFC 6749 §2.3.1 / RFC 7617: ``base64(urlencode(id) ":" urlencode(secret))``."""
    try:
        decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise InvalidClientError("The Basic credentials are not base64 of 'id:secret'.") from None
    client_id, colon, secret = decoded.partition(":")
    if not colon:
        raise InvalidClientError("The Basic credentials are not base64 of 'id:secret'.")
    return unquote_plus(client_id), unquote_plus(secret)


def _pick(keys: KeySet, kid: str | None) -> Key:
    try:
        return keys.get_by_kid(kid)
    except (JoseError, ValueError):
        wanted = f"kid {kid!r}" if kid else "no kid (the set holds several keys, so name one)"
        raise InvalidClientError(
            f"The client_assertion names {wanted}, which matches no key the client registered."
        ) from None


def _check_alg(alg: object, key: Key) -> None:
    """ES256, PS256 or EdDSA; RS256 only where the client asked for it.

    A client asks for RS256 by registering an RSA key whose ``alg`` member is ``RS256``
    (RFC 7517 §4.4): PKCS #1 v1.5 is then a deliberate choice, not a default. A key's ``alg``
    member otherwise binds it to that algorithm (joserfc enforces it when verifying).
    """
    rs256 = alg == "RS256" and key.key_type == "RSA" and key.get("alg") == "RS256"
    if not (alg in CLIENT_ALGORITHMS or rs256):
        raise InvalidClientError(
            f"The client_assertion is signed with {alg!r}; sign with one of "
            f"{', '.join(CLIENT_ALGORITHMS)} (RS256 only with an RSA key registered with "
            "alg RS256)."
        )


def _is_time(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
