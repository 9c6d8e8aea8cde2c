"""Clients, requests and a page-driving helper for the authorization endpoint tests.

The relying party's redirect URI is never fetched: :func:`visit` follows redirects only while
they stay on the gateway and hands back the one that leaves it, as a browser would be sent
to the council's website.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
from joserfc import jwt
from joserfc.jwk import ECKey, Key
from joserfc.jws import JWSRegistry

from gateway.clients.models import Client, ClientRegistration
from gateway.runtime import Runtime
from tests.conftest import TEST_ACTOR
from tests.gateway.clients.support import registration
from tests.support.accounts import PASSWORD
from tests.support.web import Browser

REDIRECT_URI = "https://permits.anytown.example/callback"
ANY_ALG = JWSRegistry(algorithms=["ES256", "RS256", "PS256", "HS256"], strict_check_header=False)
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_NEXT = re.compile(r'name="next" value="([^"]+)"')
_REQUEST = re.compile(r'name="request" value="([^"]+)"')


@dataclass
class RelyingParty:
    """A registered client, with its private key (private_key_jwt) or secret."""

    client: Client
    key: Key | None = None
    secret: str | None = None

    @property
    def client_id(self) -> str:
        return self.client.client_id


async def relying_party(
    runtime: Runtime, organisation_id: str, *, secret: bool = False, **overrides: Any
) -> RelyingParty:
    """A client registered through the registry service, as an administrator would."""
    overrides.setdefault("scope", "openid email profile")
    overrides.setdefault("redirect_uris", [REDIRECT_URI])
    if secret:
        data = registration(
            organisation_id,
            token_endpoint_auth_method="client_secret_basic",
            jwks=None,
            **overrides,
        )
        issued = await runtime.clients.add(ClientRegistration.build(data), TEST_ACTOR)
        return RelyingParty(issued.client, secret=issued.secret)
    key = ECKey.generate_key("P-256")
    public = {**key.as_dict(private=False), "kid": "rp-key", "use": "sig"}
    data = registration(organisation_id, jwks={"keys": [public]}, **overrides)
    issued = await runtime.clients.add(ClientRegistration.build(data), TEST_ACTOR)
    return RelyingParty(issued.client, key=key)


def pkce_pair() -> tuple[str, str]:
    """A code_verifier and its S256 code_challenge (RFC 7636 §4.1, §4.2)."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def request_params(rp: RelyingParty, **overrides: str | None) -> dict[str, str]:
    """A valid authorization request; an override of ``None`` leaves the parameter out."""
    _, challenge = pkce_pair()
    params: dict[str, str | None] = {
        "client_id": rp.client_id,
        "redirect_uri": REDIRECT_URI,
        "response_type": "code",
        "scope": "openid email",
        "state": secrets.token_urlsafe(12),
        "nonce": secrets.token_urlsafe(12),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    params.update(overrides)
    return {name: value for name, value in params.items() if value is not None}


def authorize_path(params: dict[str, str]) -> str:
    return "/authorize?" + urlencode(params)


def request_object(
    rp: RelyingParty, audience: str, params: dict[str, Any], key: Key | None = None
) -> str:
    """A signed request object (RFC 9101 §4) carrying ``params``."""
    now = int(time.time())
    claims = {"iss": rp.client_id, "aud": audience, "iat": now, "exp": now + 300, **params}
    signing_key = key or rp.key
    assert signing_key is not None
    header = {"alg": "ES256", "kid": "rp-key", "typ": "oauth-authz-req+jwt"}
    return jwt.encode(header, claims, signing_key, registry=ANY_ALG)


def leaves_gateway(response: httpx.Response) -> bool:
    location = response.headers.get("location", "")
    return response.is_redirect and location.startswith("https://")


def visit(
    browser: Browser, path: str, *, method: str = "GET", data: dict[str, str] | None = None
) -> httpx.Response:
    """Follow the gateway's redirects; stop at a page, or at the redirect to the client."""
    response = browser.client.request(method, path, data=data, follow_redirects=False)
    while response.is_redirect and not leaves_gateway(response):
        response = browser.client.get(response.headers["location"], follow_redirects=False)
    if match := _CSRF.search(response.text):
        browser.csrf = match.group(1)
    return response


def callback(response: httpx.Response) -> dict[str, str]:
    """The authorization response the client would receive at its redirect URI."""
    assert leaves_gateway(response), (response.status_code, response.text[:500])
    location = urlsplit(response.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI
    return {name: values[0] for name, values in parse_qs(location.query).items()}


def sign_in_here(browser: Browser, page: httpx.Response, email: str) -> httpx.Response:
    """Submit the sign-in form ``page`` shows (the authorize sign-in page) and follow on."""
    match = _NEXT.search(page.text)
    assert match is not None, page.text[:500]
    next_path = match.group(1).replace("&amp;", "&")
    form = {"csrf_token": browser.csrf, "email": email, "password": PASSWORD, "next": next_path}
    return visit(browser, "/sign-in", method="POST", data=form)


def answer_consent(browser: Browser, page: httpx.Response, decision: str) -> httpx.Response:
    """Press Allow or Cancel on the consent page."""
    match = _REQUEST.search(page.text)
    assert match is not None, page.text[:500]
    form = {"csrf_token": browser.csrf, "request": match.group(1), "decision": decision}
    return visit(browser, "/authorize/consent", method="POST", data=form)


def is_page(response: httpx.Response, path_start: str) -> bool:
    return response.status_code == 200 and response.url.path.startswith(path_start)
