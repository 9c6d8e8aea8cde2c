"""Clients, keys, codes and proofs the token endpoint tests build on.

Codes are written straight into the real code store, as the authorization endpoint does
(``CodeStore.put``), so these tests need no browser.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
import uuid
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from joserfc import jwt
from joserfc.errors import SecurityWarning
from joserfc.jwk import ECKey, Key
from joserfc.jws import JWSRegistry

from gateway.accounts.models import Account
from gateway.clients.models import Client, ClientRegistration
from gateway.core.ids import new_id
from gateway.oidc.models import AuthorizationGrant
from gateway.runtime import Runtime
from gateway.tokens.client_auth import ASSERTION_TYPE
from tests.conftest import TEST_ACTOR
from tests.gateway.clients.support import registration

ANY_ALG = JWSRegistry(
    algorithms=["ES256", "RS256", "PS256", "HS256", "EdDSA"], strict_check_header=False
)


@dataclass
class Kit:
    """A registered client and what it authenticates with: its private key or its secret."""

    client: Client
    key: Key | None = None
    secret: str | None = None
    kid: str = "key-1"
    issued: list[str] = field(default_factory=list)

    @property
    def client_id(self) -> str:
        return self.client.client_id


def new_ec_key() -> ECKey:
    return ECKey.generate_key("P-256")


async def key_client(
    runtime: Runtime, organisation_id: str, key: Key | None = None, **overrides: Any
) -> Kit:
    """A ``private_key_jwt`` client with its key registered in ``jwks``."""
    key = key or new_ec_key()
    public = {**key.as_dict(private=False), "kid": "key-1", "use": "sig"}
    overrides.setdefault("jwks", {"keys": [public]})
    data = registration(organisation_id, **overrides)
    issued = await runtime.clients.add(ClientRegistration.build(data), TEST_ACTOR)
    return Kit(issued.client, key=key)


async def secret_client(
    runtime: Runtime,
    organisation_id: str,
    method: str = "client_secret_basic",
    **overrides: Any,
) -> Kit:
    data = registration(organisation_id, token_endpoint_auth_method=method, jwks=None, **overrides)
    issued = await runtime.clients.add(ClientRegistration.build(data), TEST_ACTOR)
    return Kit(issued.client, secret=issued.secret)


def assertion(
    kit: Kit,
    audience: str,
    *,
    header: dict[str, Any] | None = None,
    key: Key | None = None,
    **claims: Any,
) -> str:
    """A client assertion (RFC 7523 §3) signed with the kit's key unless told otherwise."""
    now = int(time.time())
    body: dict[str, Any] = {
        "iss": kit.client_id,
        "sub": kit.client_id,
        "aud": audience,
        "iat": now,
        "exp": now + 60,
        "jti": str(uuid.uuid4()),
    }
    body.update(claims)
    signing_key = key or kit.key
    assert signing_key is not None
    return jwt.encode(
        {"alg": "ES256", "kid": kit.kid, **(header or {})}, body, signing_key, registry=ANY_ALG
    )


def auth(kit: Kit, audience: str) -> tuple[dict[str, str], dict[str, str]]:
    """The form fields and headers with which ``kit`` authenticates by its registered method."""
    method = kit.client.token_endpoint_auth_method.value
    if method == "private_key_jwt":
        form = {"client_assertion_type": ASSERTION_TYPE}
        form["client_assertion"] = assertion(kit, audience)
        return form, {}
    assert kit.secret is not None
    if method == "client_secret_post":
        return {"client_id": kit.client_id, "client_secret": kit.secret}, {}
    basic = base64.b64encode(f"{kit.client_id}:{kit.secret}".encode()).decode()
    return {}, {"Authorization": f"Basic {basic}"}


def dpop_proof(
    key: Key,
    method: str,
    url: str,
    access_token: str | None = None,
    *,
    header: dict[str, Any] | None = None,
    **claims: Any,
) -> str:
    """A DPoP proof (RFC 9449 §4.2) by ``key`` for ``method`` ``url``."""
    body: dict[str, Any] = {
        "jti": str(uuid.uuid4()),
        "htm": method,
        "htu": url,
        "iat": int(time.time()),
    }
    if access_token is not None:
        digest = hashlib.sha256(access_token.encode()).digest()
        body["ath"] = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    body.update(claims)
    jwk = key.as_dict(private=False)
    with warnings.catch_warnings():
        # joserfc warns that RFC 9864 deprecates "EdDSA"; the tests send it on purpose.
        warnings.simplefilter("ignore", SecurityWarning)
        return jwt.encode(
            {"alg": "ES256", "typ": "dpop+jwt", "jwk": jwk, **(header or {})},
            body,
            key,
            registry=ANY_ALG,
        )


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass(frozen=True)
class IssuedCode:
    code: str
    verifier: str
    grant: AuthorizationGrant


async def issue_code(
    runtime: Runtime,
    kit: Kit,
    account: Account,
    *,
    scope: tuple[str, ...] = ("openid", "email"),
    nonce: str | None = "n-0S6_WzA2Mj",
    dpop_jkt: str | None = None,
    issued_at: datetime | None = None,
    claims: dict[str, Any] | None = None,
    acr: str = "Cl.Cm",
    org: dict[str, Any] | None = None,
) -> IssuedCode:
    """An authorization code for ``account`` at ``kit``'s client, as /authorize stores one."""
    verifier, challenge = pkce_pair()
    now = datetime.now(UTC)
    grant = AuthorizationGrant(
        grant_id=new_id("grt"),
        client_id=kit.client_id,
        redirect_uri=kit.client.redirect_uris[0],
        scope=scope,
        account_id=account.id,
        sid="sid-" + secrets.token_urlsafe(8),
        auth_time=now,
        amr=("pwd", "otp"),
        acr=acr,
        nonce=nonce,
        code_challenge=challenge,
        claims=claims,
        dpop_jkt=dpop_jkt,
        issued_at=issued_at or now,
        vot=acr,
        org=org,
    )
    code = secrets.token_urlsafe(32)
    await runtime.codes.put(code, grant, 60)
    return IssuedCode(code, verifier, grant)


async def post_token(
    http: httpx.AsyncClient,
    runtime: Runtime,
    kit: Kit,
    form: dict[str, str],
    *,
    dpop: str | None = None,
    path: str = "/token",
) -> httpx.Response:
    """POST ``form`` to a client-authenticated endpoint as ``kit``."""
    auth_form, headers = auth(kit, runtime.settings.issuer + path)
    if dpop is not None:
        headers["DPoP"] = dpop
    return await http.post(path, data={**form, **auth_form}, headers=headers)


async def exchange(
    http: httpx.AsyncClient,
    runtime: Runtime,
    kit: Kit,
    issued: IssuedCode,
    *,
    dpop: str | None = None,
) -> httpx.Response:
    form = {
        "grant_type": "authorization_code",
        "code": issued.code,
        "redirect_uri": issued.grant.redirect_uri,
        "code_verifier": issued.verifier,
    }
    return await post_token(http, runtime, kit, form, dpop=dpop)


def error_of(response: httpx.Response) -> str:
    body: dict[str, Any] = response.json()
    return str(body["error"])
