"""Clients, ID tokens and logout-token checks that the logout tests build on."""

from __future__ import annotations

import time
from typing import Any

from joserfc import jwt
from joserfc.jwk import KeySet

from gateway.clients.models import Client, ClientRegistration
from gateway.runtime import Runtime
from tests.conftest import TEST_ACTOR
from tests.gateway.clients.support import public_jwk

SIGNED_OUT_URI = "https://www.anytown.example/signed-out"
LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"


async def register_client(
    runtime: Runtime,
    organisation_id: str,
    *,
    backchannel_logout_uri: str | None = None,
    post_logout_redirect_uris: list[str] | None = None,
    **overrides: Any,
) -> Client:
    """A private_key_jwt web client of the organisation, as an administrator registers it."""
    data: dict[str, Any] = {
        "client_name": "Anytown Council: council tax",
        "organisation_id": organisation_id,
        "redirect_uris": ["https://www.anytown.example/callback"],
        "post_logout_redirect_uris": post_logout_redirect_uris or [SIGNED_OUT_URI],
        "backchannel_logout_uri": backchannel_logout_uri,
        "jwks": {"keys": [public_jwk()]},
        **overrides,
    }
    issued = await runtime.clients.add(ClientRegistration.build(data), TEST_ACTOR)
    return issued.client


def id_token(
    runtime: Runtime,
    client: Client,
    account_id: str,
    sid: str | None,
    *,
    lifetime: int = 300,
    alg: str = "ES256",
    typ: str | None = "JWT",
    **claims: Any,
) -> str:
    """An ID token as the token endpoint issues it (OIDC Core §2), signed by the gateway's
    own key ring; ``claims`` override or (given as None) remove claims."""
    now = int(time.time())
    body: dict[str, Any] = {
        "iss": runtime.settings.issuer,
        "sub": runtime.subjects.subject(client.sector_identifier, account_id),
        "aud": client.client_id,
        "iat": now,
        "exp": now + lifetime,
        "auth_time": now,
        "sid": sid,
    }
    body.update(claims)
    return runtime.keys.sign({k: v for k, v in body.items() if v is not None}, alg=alg, typ=typ)


def verified_logout_token(
    token: str, jwks: dict[str, Any], algorithms: list[str] | None = None
) -> jwt.Token:
    """The logout token checked as a relying party checks it (Back-Channel Logout 1.0 §2.6):
    signature against the published keys with an algorithm allow-list, then the claims."""
    return jwt.decode(
        token, KeySet.import_key_set({"keys": jwks["keys"]}), algorithms=algorithms or ["ES256"]
    )
